#!/bin/sh
# unit-slots.t - run the C unit test t/unit/slots_test (milters/slots.c)
exec "$(dirname "$0")/unit/slots_test"
