#!/bin/bash
# conf.t - golden configuration checks: sinkd -n on each case under t/conf/
#
# Each case directory holds a sinkd.conf (and policy files); "expected" is
# what sinkd -n must print, every error as file:line: key: what is wrong,
# followed by "exit N".  The cases, and the shipped etc/, are checked in
# a copy of the test's own: sinkd refuses files its group may write or
# another user owns, which a clone made with umask 002 or by another
# user has.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
T=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$T"' EXIT
cp -R conf ../etc "$T/" && chmod -R go-w "$T" || bail_out "cannot copy the cases"

for dir in conf/*/; do
	case=${dir%/}
	# paths are reported absolute: compare them from the case directory
	top=$(cd "$T/$case" && pwd -P)
	got=$(cd "$T/$case" && "$SINKD" -n -c sinkd.conf 2>&1 | sed "s|$top/||g"; echo "exit ${PIPESTATUS[0]}")
	want=$(cat "$case/expected")
	is "$got" "$want" "sinkd -n on ${case#conf/}"
done
got=$(cd "$T" && "$SINKD" -n -c conf/does-not-exist.conf 2>&1 | sed "s|$(pwd -P)/||g"; echo "exit ${PIPESTATUS[0]}")
is "$got" "conf/does-not-exist.conf: cannot read: No such file or directory
exit 1" "a missing file is an error"
got=$("$SINKD" -n -c "$T/etc/sinkd.conf" 2>&1; echo "exit $?")
is "$got" "configuration OK
exit 0" "the shipped etc/sinkd.conf and its policy files check out"

# sinkd -d prints a configuration: with every handler in the chain (and
# the domains directory its default names, and a port for the socket,
# whose unix default would be checked against this machine's postfix
# user), sinkd -n accepts it as it is,
# without a warning
mkdir "$T/dump" "$T/dump/domains"
"$SINKD" -d >"$T/dump/sinkd.conf"
# (a sink's group, [sink:NAME], needs a module to open: t/sink.t)
sed -i '/^\[sink:NAME\]$/,$d' "$T/dump/sinkd.conf"
handlers=$(sed -n 's/^\[\(.*\)\]$/\1/p' "$T/dump/sinkd.conf" | grep -vx sinkd | paste -sd, | sed 's/,/, /g')
like "$handlers" '^protocol, .*rewrite' "sinkd -d prints every handler's group ($handlers)"
got=$(grep -c '^[a-z-]* = ' "$T/dump/sinkd.conf")
ok $([ "$got" -gt 50 ]; echo $?) "  with every key ($got)"
got=$(grep -c '^[^#[].*	#' "$T/dump/sinkd.conf")
is "$got" 0 "  no key line has a trailing comment"
sed -i "s/^chain = .*/chain = $handlers/; s/^socket = .*/socket = inet:127.0.0.1:8890/" "$T/dump/sinkd.conf"
got=$("$SINKD" -n -c "$T/dump/sinkd.conf" 2>&1; echo "exit $?")
is "$got" "configuration OK
exit 0" "sinkd -n accepts the output of sinkd -d, every handler in the chain, without a warning"
done_testing
