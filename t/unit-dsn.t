#!/bin/sh
# unit-dsn.t - run the C unit test t/unit/dsn_test (bounces, lists/dsn.c)
# on the samples of t/corpus and t/lists/dsn
exec "$(dirname "$0")/unit/dsn_test" "$(dirname "$0")"
