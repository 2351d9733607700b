#!/bin/bash
# tmpfs.t - spool-dir and libclamav's tmpdir on one small tmpfs
#
# In a mount namespace of its own (unshare --mount), a 2 MiB tmpfs stands
# for /run: sinkd makes spool-dir and the clamav tmpdir on it at start, as
# it makes /run/sinkd/spool and /run/sinkd/tmp by default, and both draw
# from the one count of room on it (src/room.c).  Checked: room_test on
# that tmpfs (two holds on one file system add up; the spool shares the
# count); then through a real Postfix: a message that fits is scanned
# and delivered, EICAR is rejected; a message whose scan needs more than
# the room left is tempfailed (451 at end of DATA), and so is one larger
# than the whole tmpfs, which the spool refuses before writing it, each
# with a log line naming the directory and the bytes free, held and
# needed; after them, messages that need most of the room pass again, one
# after the other (every hold was given back), and nothing is left on
# the tmpfs.  Without mount namespaces (unshare or mount refused) there
# is nothing to mount the tmpfs in: the test says so and skips.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -z "$SINKD_TMPFS_NS" ]; then
	if ! why=$(unshare --mount --propagation private true 2>&1); then
		echo "1..0 # SKIP unshare --mount refused here: ${why:-exit status $?}"
		exit 0
	fi
	SINKD_TMPFS_NS=1 exec unshare --mount --propagation private "$BASH" "$0" "$@"
fi

. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"
C=$TOP/t/corpus
ROOM_TEST=$TOP/t/unit/room_test

e2e_workdir tmpfs
for p in swaks sigtool mount umount; do
	command -v $p >/dev/null || bail_out "$p is missing"
done
[ -x "$ROOM_TEST" ] || bail_out "$ROOM_TEST is not built (run make tests)"

RUN=$W/run
_tmpfs_cleanup() {
	local rc=$?
	{ sk_stop; } 2>/dev/null
	pf_cleanup 2>/dev/null
	umount "$RUN" 2>/dev/null || umount -l "$RUN" 2>/dev/null
	(exit $rc)
	_e2e_cleanup
}
trap _tmpfs_cleanup EXIT

mkdir -p "$RUN"
if ! why=$(mount -t tmpfs -o size=2m,mode=0755 tmpfs "$RUN" 2>&1); then
	echo "1..0 # SKIP mount -t tmpfs refused here: $why"
	exit 0
fi

# --- the count, unit-level, on a tmpfs of its own
mkdir -p "$W/unit"
mount -t tmpfs -o size=2m tmpfs "$W/unit" || bail_out "cannot mount a second tmpfs"
OUT=$("$ROOM_TEST" "$W/unit" 2>&1)
rc=$?
umount "$W/unit"
printf '%s\n' "$OUT" | grep -q '^not ok'
ok $((! $?)) "room_test on a 2 MiB tmpfs: $(printf '%s\n' "$OUT" | grep -c '^ok') checks pass"
[ $rc -eq 0 ] && printf '%s\n' "$OUT" | grep -q '^1\.\.[0-9]'
ok $? "  it ran to its end (exit $rc)" || diag "$OUT"
like "$OUT" "ok [0-9]+ - the two add up" "  two holds on one file system add up"
like "$OUT" "ok [0-9]+ - a spool write while the scans hold all the room: refused" \
	"  a spool write draws from the scans' count"

# --- sinkd, its spool and libclamav's tmpdir on the tmpfs, behind Postfix
SOCK=$W/sk/sinkd.sock
mkdir -p "$W/pf" "$W/sk"
PORT=$(pf_free_port)
pf_setup "$W/pf" "$PORT" "unix:$SOCK" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$SOCK"
DB=$W/sk/db
av_db "$DB" || bail_out "cannot build the test signature database"
chmod 755 "$DB" && chmod 644 "$DB"/*
SPOOL=$RUN/sinkd/spool CLTMP=$RUN/sinkd/tmp
sed -i "s|^spool-dir = .*|spool-dir = $SPOOL\nbody-memory-limit = 64k\nchain = protocol, clamav|" \
	"$SK_DIR/conf/sinkd.conf"
sk_conf "[clamav]" "database = $DB" "tmpdir = $CLTMP" "quarantine-dir = $W/sk/q" \
	"clean-cache = no" "watch-interval = 0"
sk_start || bail_out "sinkd did not start"
for i in $(seq 1 100); do
	grep -q 'engine ready' "$SK_DIR/sinkd.log" && break
	sleep 0.1
done
grep -q 'engine ready' "$SK_DIR/sinkd.log" || bail_out "the engine did not load"

is "$(stat -c '%a %U' "$SPOOL") $(stat -c '%a %U' "$CLTMP")" "700 postfix 700 postfix" \
	"sinkd made spool-dir and tmpdir on the tmpfs: 0700, its user's"
[ "$(stat -f -c %T "$SPOOL")" = tmpfs ] && [ "$(stat -f -c %T "$CLTMP")" = tmpfs ]
ok $? "  both on the tmpfs"

# body KIB SUBJECT: a plain message of about KIB KiB (lines of 64 bytes)
body() {
	printf 'From: a@example.org\nTo: b@example.net\nSubject: %s\n\n' "$2"
	awk -v n=$(($1 * 16)) -v s="$2" 'BEGIN { for (i = 1; i <= n; i++) printf "%-50s %012d\n", s, i }'
}
# 150 KiB: spooled (150), decoded as its one part (150), scanned (2 x 150
# and 1 MiB of slack, twice: the message, then the part): fits in 2 MiB
body 150 fits >"$W/fits.eml"
# 700 KiB: spooled, but its scan would need 2 x 700 KiB and 1 MiB more
body 700 toobig >"$W/toobig.eml"
# 2.5 MiB: more than the whole tmpfs; refused by the spool
body 2560 huge >"$W/huge.eml"
EICAR=$C/constructed/eicar-base64-attachment.eml
log_lines() { wc -l <"$SK_DIR/sinkd.log"; }
log_since() { tail -n +$(($1 + 1)) "$SK_DIR/sinkd.log"; }
send() {
	OUT=$(pf_swaks --from "$2" --to "$3" --data "@$4" --header "X-E2E-Id: $1")
	REPLY=$(smtp_reply "$OUT" .)
}

send fits1 a@example.org fits@example.net "$W/fits.eml"
like "$REPLY" '^250 ' "a 150 KiB message on the 2 MiB tmpfs: accepted"
send eicar1 a@example.org eicar@example.net "$EICAR"
like "$REPLY" '^550 5\.7\.1 .*eicar' "EICAR: rejected (the scan runs with its files on the tmpfs)"

# tempfailed NAME FILE REPLY WHAT GREP REGEX WHY: FILE sent to NAME@
# gets REPLY, and the log line GREP finds matches REGEX; SINCE: the log
# lines of that message
tempfailed() {
	local pos line
	pos=$(log_lines)
	send "$1" a@example.org "$1@example.net" "$2"
	is "$REPLY" "$3" "$4"
	SINCE=$(log_since "$pos")
	line=$(grep "$5" <<<"$SINCE")
	like "$line" "$6" "$7"
	[ -n "$line" ] || diag "$SINCE"
}

tempfailed toobig "$W/toobig.eml" "451 4.3.0 Temporary failure in clamav, try again later" \
	"a 700 KiB message, whose scan needs more than the room left: 451 at end of DATA" \
	': clamav: not scanned: tmpdir ' \
	"tmpdir $CLTMP: [0-9]+ bytes free, [0-9]+ held by writes in flight, [0-9]+ more needed" \
	"  the log names the directory, the bytes free, held and needed"
grep -q 'verdict=tempfail' <<<"$SINCE"
ok $? "  and its verdict line says tempfail"

tempfailed huge "$W/huge.eml" "451 4.3.0 Temporary local problem, try again later" \
	"a 2.5 MiB message, more than the tmpfs holds: 451 at end of DATA" \
	': cannot spool message: ' \
	"No space left on device \(spool-dir $SPOOL: [0-9]+ bytes free, [0-9]+ held by writes in flight, [0-9]+ more needed\)" \
	"  the spool refused it before writing, and the log says where and how much"

# the holds were given back: each of these needs most of the room
for i in 2 3 4; do
	send "fits$i" a@example.org fits@example.net "$W/fits.eml"
	like "$REPLY" '^250 ' "after them, message $i of 150 KiB: accepted (nothing held back)"
done
send eicar2 a@example.org eicar@example.net "$EICAR"
like "$REPLY" '^550 5\.7\.1 .*eicar' "and EICAR is still rejected"
pf_wait_delivered fits@example.net 4
ok $? "the four that fit were delivered"
sleep 1
is "$(pf_delivered_count toobig@example.net)$(pf_delivered_count huge@example.net)$(pf_delivered_count eicar@example.net)" \
	000 "none of the tempfailed or rejected ones was"
is "$(pf_queue_count)" 0 "Postfix holds none in its queue"
is "$(ls -A "$SPOOL" "$CLTMP" | grep -vc ':$\|^$')" 0 "nothing is left on the tmpfs"
kill -0 "$(sk_pid)" 2>/dev/null
ok $? "sinkd is still running"
sk_log_clean
ok $? "no sanitizer report or panic in sinkd's log"

done_testing
