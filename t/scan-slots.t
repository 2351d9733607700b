#!/bin/bash
# scan-slots.t - scan-slots bounds the messages the embedded engine
# scans at once
#
# The real daemon (as postfix) with the clamav handler on the test
# signatures, started with t/unit/scanshim.so preloaded: the shim stands
# in for libclamav's cl_scanmap_callback(), counts the scans in flight
# (the most at once, in a file), and holds every scan while a marker file
# exists, so that the test decides when scans end: what is checked is
# the bound, not timing.  bench/milterload plays the MTA with several
# connections at once.  Checked: scans in flight never exceed scan-slots
# (1, then 2 after a reload, then 1 again while two slots are held);
# messages beyond it wait, in the metrics (sinkd_scan_slots_busy,
# _waiting) and in sinkd -S; a message that waited says so on its log
# line (clamav-wait=Nms) and one that did not has no such note; one whose
# wait runs out (half of max-scantime) is tempfailed, never accepted
# unscanned, its log line and a warning say why, and it is counted;
# every held slot is given back (busy 0 at the end of each round); and
# scan-slots = -1, abc or 5000 are configuration errors at their line.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"

ML=$TOP/bench/milterload
SHIM=$TOP/t/unit/scanshim.so
[ -x "$ML" ] || bail_out "$ML is not built (run make tests)"
[ -f "$SHIM" ] || bail_out "$SHIM is not built (run make tests)"
command -v curl >/dev/null || bail_out "curl is not installed"
command -v sigtool >/dev/null || bail_out "sigtool (package clamav) is needed"
e2e_workdir scan-slots
chmod o+x "$W"
av_db "$W/db" || bail_out "cannot build the test signature database"
chmod -R a+rX "$W/db"
S=$W/shim			# the shim's files
mkdir -p "$S" "$W/msgs"
chown postfix "$S"
printf 'From: a@example.net\nTo: b@example.org\nSubject: clean\n\nhello\n' >"$W/msgs/clean.eml"

# configuration errors, each at its line
mkdir -p "$W/bad/domains"
for v in -1 abc 5000; do
	printf '[sinkd]\nchain = protocol, clamav\ndomains-dir = %s\n[clamav]\ndatabase = %s\nscan-slots = %s\n' \
		"$W/bad/domains" "$W/db" "$v" >"$W/bad/sinkd.conf"
	out=$("$SINKD" -n -c "$W/bad/sinkd.conf" 2>&1)
	rc=$?
	case $v in
	abc) want="$W/bad/sinkd.conf:6: scan-slots: not a number" ;;
	*) want="$W/bad/sinkd.conf:6: scan-slots: out of range (0 to 4096)" ;;
	esac
	is "$out exit $rc" "$want exit 1" "scan-slots = $v: an error at its line"
done
sed -i 's/^scan-slots = .*/scan-slots = 0/' "$W/bad/sinkd.conf"
is "$("$SINKD" -n -c "$W/bad/sinkd.conf" 2>&1)" "configuration OK" "scan-slots = 0 (one per CPU) is valid"

sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
chown postfix "$W/sk"
CONF=$W/sk/conf/sinkd.conf
MS=$W/sk/metrics.sock
# max-scantime = 60s: a message waits up to 30 s, far beyond what each
# round below needs, until the round that lowers it on purpose
sk_conf "chain = protocol, clamav" "metrics-listen = unix:$MS" \
	"[clamav]" "database = $W/db" "quarantine-dir = $W/q" "clean-cache = no" \
	"watch-interval = 0" "scan-slots = 1" "max-scantime = 60s"
export LD_PRELOAD=$SHIM SCANSHIM_DIR=$S
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
sk_start || bail_out "sinkd did not start"
unset LD_PRELOAD SCANSHIM_DIR
for i in $(seq 1 150); do
	grep -q 'engine ready' "$SK_DIR/sinkd.log" && break
	sleep 0.1
done
grep -q 'engine ready' "$SK_DIR/sinkd.log" || bail_out "the engine did not load"

# metric NAME: its value now ("absent" when there is no such sample)
metric() {
	curl -s --unix-socket "$MS" http://localhost/metrics \
		| awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "absent" }'
}
# status: sinkd -S
status() { "$SINKD" -c "$CONF" -S 2>&1; }
# until CMD...: run CMD every 0.1 s until it succeeds, for 20 s at most
until_true() {
	local i
	for i in $(seq 1 200); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
shim() { cat "$S/$1" 2>/dev/null || echo 0; }
shim_is() { [ "$(shim "$1")" = "$2" ]; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
# slots BUSY WAITING: the gauges say so (else, the last time, what they say)
slots() {
	SAW="busy $(metric sinkd_scan_slots_busy), waiting $(metric sinkd_scan_slots_waiting)"
	[ "$SAW" = "busy $1, waiting $2" ]
}
# slots_ok BUSY WAITING DESCRIPTION: the gauges come to say so
slots_ok() {
	until_true slots "$1" "$2"
	is "$SAW" "busy $1, waiting $2" "$3"
}
# start OUT: one connection with one message, in the background; finish:
# wait for every one started
start() {
	"$ML" -c 1 -m 1 -r b@example.org "$SK_SOCKET" "$W/msgs" >"$W/$1" 2>"$W/$1.err" &
	PIDS="$PIDS $!"
}
finish() { wait $PIDS; PIDS=; }
# sum KEY OUT...: milterload's figure KEY added up over its outputs OUT
sum() {
	local k=$1
	shift
	(cd "$W" && cat "$@") | awk -F= -v k="$k" '$1 == k { n += $2 } END { print n + 0 }'
}
logpos() { wc -l <"$SK_DIR/sinkd.log"; }
since() { tail -n +"$(($1 + 1))" "$SK_DIR/sinkd.log"; }

is "$(metric sinkd_scan_slots)" 1 "sinkd_scan_slots: the configured 1"
like "$(status)" $'\nscan-slots: 1\nscan-slots-busy: 0\nscan-slots-waiting: 0' "sinkd -S: slots, none busy"

# free slots: no wait, no note
pos=$(logpos)
"$ML" -c 1 -m 3 -r b@example.org "$SK_SOCKET" "$W/msgs" >"$W/seq" 2>"$W/seq.err"
is "$(sum accept seq)" 3 "one connection: every message accepted"
is "$(since "$pos" | grep -c 'verdict=accept')" 3 "  three log lines"
is "$(since "$pos" | grep -c 'clamav-wait=')" 0 "  none of them waited"

# many connections at once, nothing held: never more than one scan
rm -f "$S/max"
"$ML" -c 6 -m 4 -r b@example.org "$SK_SOCKET" "$W/msgs" >"$W/many" 2>"$W/many.err"
is "$(sum accept many)" 24 "six connections at once: all 24 accepted"
is "$(shim max)" 1 "  never more than one scan at once (scan-slots = 1)"
is "$(metric sinkd_scan_slot_wait_seconds_count)" 27 "  every scan's wait observed"

# a scan held: the others wait for its slot.  Each connection starts
# once the one before it is settled: libmilter's pool of workers can
# leave a session that arrives while others start with no worker, until
# one finishes its task, and here no task finishes until the test says so
rm -f "$S/max"
touch "$S/hold"
pos=$(logpos)
start h1
until_true slots 1 0
start h2
until_true slots 1 1
start h3
slots_ok 1 2 "a scan held: 1 slot busy, 2 messages waiting (metrics)"
like "$(status)" $'\nscan-slots: 1\nscan-slots-busy: 1\nscan-slots-waiting: 2' "  and in sinkd -S"
is "$(shim inflight)" 1 "  one scan in flight"
rm -f "$S/hold"
finish
is "$(sum accept h1 h2 h3)" 3 "released: all three accepted"
is "$(shim max)" 1 "  one scan at a time"
is "$(since "$pos" | grep 'verdict=accept' | grep -c ' clamav-wait=[1-9][0-9]*ms')" 2 \
	"  the two that waited say so on their log lines"
slots_ok 0 0 "  every slot given back"

# a reload to scan-slots = 2 while a slot is held: a second one is free
rm -f "$S/max"
touch "$S/hold"
start u1
until_true slots 1 0
start u2
until_true slots 1 1
start u3
slots_ok 1 2 "scan-slots = 1, a scan held: 1 busy, 2 waiting"
sed -i 's/^scan-slots = .*/scan-slots = 2/' "$CONF"
sk_reload || diag "no reload logged"
slots_ok 2 1 "reloaded to scan-slots = 2: 2 busy, 1 waiting"
is "$(metric sinkd_scan_slots)" 2 "  sinkd_scan_slots: 2"
until_true shim_is inflight 2
is "$(shim inflight)" 2 "  two scans in flight"
rm -f "$S/hold"
finish
is "$(sum accept u1 u2 u3)" 3 "released: all three accepted"
is "$(shim max)" 2 "  never more than two at once"
slots_ok 0 0 "  every slot given back"

# a reload to scan-slots = 1 while two slots are held: the third waits
# until both are given back, and none is lost or counted twice
rm -f "$S/max"
touch "$S/hold"
start d1
until_true slots 1 0
start d2
until_true slots 2 0
start d3
slots_ok 2 1 "scan-slots = 2, two scans held: 2 busy, 1 waiting"
sed -i 's/^scan-slots = .*/scan-slots = 1/' "$CONF"
sk_reload || diag "no reload logged"
is "$(metric sinkd_scan_slots)" 1 "reloaded to scan-slots = 1"
slots 2 1
is "$SAW" "busy 2, waiting 1" "  the two held keep their slots, the third still waits"
rm -f "$S/hold"
finish
is "$(sum accept d1 d2 d3)" 3 "released: all three accepted"
slots_ok 0 0 "  every slot given back"
rm -f "$S/max"
"$ML" -c 4 -m 3 -r b@example.org "$SK_SOCKET" "$W/msgs" >"$W/after" 2>"$W/after.err"
is "$(sum accept after)" 12 "then four connections at once: all 12 accepted"
is "$(shim max)" 1 "  one scan at a time again"

# the wait runs out: max-scantime = 4s, so a message waits 2 s at most
sed -i 's/^max-scantime = .*/max-scantime = 4s/' "$CONF"
sk_reload || diag "no reload logged"
timeouts=$(metric sinkd_scan_slot_timeouts_total)
touch "$S/hold"
pos=$(logpos)
start l1
until_true slots 1 0
start l2
until_true slots 1 1
start l3
until_true metric_is sinkd_scan_slot_timeouts_total $((timeouts + 2))
is "$(metric sinkd_scan_slot_timeouts_total)" $((timeouts + 2)) "two messages got no slot within 2 s: counted"
slots 1 0
is "$SAW" "busy 1, waiting 0" "  the held scan keeps its slot, nobody waits"
rm -f "$S/hold"
finish
is "$(sum accept l1 l2 l3) $(sum tempfail l1 l2 l3)" "1 2" "the held one accepted, the two late ones tempfailed"
is "$(since "$pos" | grep 'verdict=tempfail' | grep -c 'handler=clamav code=451 xcode=4.3.0 .* clamav-wait=2[0-9][0-9][0-9]ms')" 2 \
	"  their log lines: 451 4.3.0 from clamav, and the wait"
is "$(since "$pos" | grep -c 'clamav: not scanned: no scan slot within 2 s')" 2 "  and a warning says why"
slots_ok 0 0 "  every slot given back"
# two scan calls a message: the message, then its text body as the
# message has it (CRLF; libclamav's parser gave it LF lines), raw
is "$(shim calls)" 98 "every message accepted was scanned, twice (3 + 24 + 3 * 3 + 12 + 1 messages), the late ones never"

sk_stop
sk_log_clean
ok $? "no sanitizer report"
done_testing
