#!/bin/sh
# unit-textrw.t - run the C unit test t/unit/textrw_test (text rewriting)
exec "$(dirname "$0")/unit/textrw_test"
