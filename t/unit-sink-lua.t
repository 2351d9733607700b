#!/bin/sh
# unit-sink-lua.t - run the C unit test t/unit/sinklua_test in a scratch TMPDIR
d=$(mktemp -d) || exit 1
TMPDIR=$d "$(dirname "$0")/unit/sinklua_test"
rc=$?
rm -rf "$d"
exit $rc
