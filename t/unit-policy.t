#!/bin/sh
# unit-policy.t - run the C unit test t/unit/policy_test in a scratch TMPDIR
d=$(mktemp -d) || exit 1
TMPDIR=$d "$(dirname "$0")/unit/policy_test"
rc=$?
rm -rf "$d"
exit $rc
