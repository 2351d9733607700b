#!/bin/sh
# unit-dkim.t - run the C unit test t/unit/dkim_test (dkim_may_change)
exec "$(dirname "$0")/unit/dkim_test"
