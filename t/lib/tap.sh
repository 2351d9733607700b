# tap.sh - minimal TAP producer for sinkd's shell tests
#
# Source it, then call plan N (or done_testing at the end), ok, is, like,
# unlike, diag, bail_out.  Every assertion prints one TAP line;
# done_testing prints the plan.  The exit status is the number of failed
# assertions (capped at 254), as prove expects.

# sinkd refuses files and directories its group may write, and those of
# other users: what a test makes is 0644/0755 and its own, whatever the
# caller's umask
umask 022

# fixture FILE DIR: copy the checkout's FILE into DIR, mode 0644 and the
# test's own (a clone made with umask 002, or by another user, has files
# sinkd would refuse), and print the copy's path
fixture() { install -m 644 "$1" "$2/" && echo "$2/${1##*/}"; }

# workdir NAME: make and print a fresh directory for a test's files, mode
# 0755 and the test's own, under $TMPDIR (default /tmp), never in the
# checkout: sinkd, Postfix and the programs they run work as other users
# (postfix, nobody) that must reach what a test gives them, and a checkout
# may lie under a home only its owner may enter (/root is 0700).  Copy
# into it what another user must read or run (fixture, install -m 755).
workdir() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/sinkd-$1.XXXXXX") && chmod 755 "$d" && echo "$d"
}

TAP_N=0
TAP_FAILED=0
TAP_PLANNED=

plan() { TAP_PLANNED=$1; echo "1..$1"; }

diag() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }

# ok STATUS DESCRIPTION: passes when STATUS is 0
ok() {
	TAP_N=$((TAP_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $TAP_N - $2"
	else
		echo "not ok $TAP_N - $2"
		TAP_FAILED=$((TAP_FAILED + 1))
	fi
}

# is GOT EXPECTED DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "     got: '$1'" "expected: '$2'"
	fi
}

# like GOT EXTENDED-REGEX DESCRIPTION (bash =~ on the whole text)
like() {
	if [[ $1 =~ $2 ]]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "     got: '$1'" "expected to match: '$2'"
	fi
}

# unlike GOT EXTENDED-REGEX DESCRIPTION
unlike() {
	if [[ $1 =~ $2 ]]; then
		ok 1 "$3"
		diag "     got: '$1'" "expected not to match: '$2'"
	else
		ok 0 "$3"
	fi
}

# skip N REASON: N checks that cannot run here, saying why
skip() {
	local i
	for ((i = 0; i < $1; i++)); do
		TAP_N=$((TAP_N + 1))
		echo "ok $TAP_N # skip $2"
	done
}

bail_out() { echo "Bail out! $*"; exit 255; }

done_testing() {
	[ -n "$TAP_PLANNED" ] || echo "1..$TAP_N"
	[ "$TAP_FAILED" -gt 254 ] && TAP_FAILED=254
	exit "$TAP_FAILED"
}
