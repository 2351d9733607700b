#!/bin/sh
# unit-arc.t - run the C unit test t/unit/arc_test (ARC validation and sealing)
exec "$(dirname "$0")/unit/arc_test"
