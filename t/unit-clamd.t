#!/bin/sh
# unit-clamd.t - run the C unit test t/unit/clamd_test (specs, no clamd)
exec "$(dirname "$0")/unit/clamd_test"
