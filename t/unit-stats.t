#!/bin/sh
# unit-stats.t - run the C unit test t/unit/stats_test (src/stats.c)
exec "$(dirname "$0")/unit/stats_test"
