#!/bin/sh
# unit-quarantine.t - run the C unit test t/unit/quarantine_test in a scratch TMPDIR
d=$(mktemp -d) || exit 1
TMPDIR=$d "$(dirname "$0")/unit/quarantine_test"
rc=$?
rm -rf "$d"
exit $rc
