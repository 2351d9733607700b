#!/bin/bash
# e2e-faults.t - faults around sinkd, through a real Postfix: nothing lost,
# nothing let through unfiltered, nothing crashes
#
# One private Postfix (milter_default_action = tempfail); each case starts
# a sinkd of its own on the same unix socket.  Checked:
#
#   1. SIGKILL twice while four clients send, one SMTP session a message:
#      every message gets 250 at end of DATA or a 4xx, never a 5xx, and
#      the two add up to what was sent; every accepted one is delivered
#      once (or still queued), carrying the header sinkd adds with its own
#      queue ID; no refused one is delivered; Postfix's log accepted as
#      many.  The killed daemon's socket file stays behind and the next
#      start replaces it.
#   2. The spool (a small tmpfs, body-memory-limit low) full: 451 at end
#      of DATA, nothing queued or delivered, the reason logged; with space
#      again the message passes.  The quarantine directory (a tmpfs) full:
#      a virus is tempfailed, not accepted, no temporary file left behind;
#      with space again it is quarantined (250, not delivered, entry kept).
#      Room for the message but not its metadata: tempfailed, the message
#      file taken back.  libclamav's tmpdir full: mail is tempfailed, not
#      scanned (libclamav would call a virus whose decoded part it cannot
#      write clean).
#   3. A handler slower than Postfix's milter_content_timeout (clamd that
#      accepts and never answers, clamd-timeout longer): 4xx at end of
#      DATA, nothing delivered; sinkd's late reply is harmless, and once a
#      clamd answers the next messages are scanned and delivered.
#   4. A client gone inside DATA or after MAIL FROM, and the MTA gone in
#      the middle of a body spooled to a file: sinkd goes on, closes every
#      spool file, logs nothing beyond a line per message, and the next
#      message passes.
#   5. SIGHUP every 0.2 s while mail flows, good configurations A and B
#      (two headers of the same generation) alternating with broken ones:
#      every message is delivered with both headers of one generation,
#      each broken reload is refused and logged, none tempfails mail.
#   6. The running daemon's identity: every thread runs as the configured
#      user and group, with no capability; the socket has socket-mode and
#      that owner and group.  SIGTERM: status 0.
#   7. libmilter's signal thread given a SIGTERM alone: it takes none
#      (sinkd's sigwait()), mail passes.  libmilter stopping on its own
#      (its listening TCP socket shut down from outside): sinkd exits with
#      status 1, so that Restart=on-failure starts it again, and mail
#      passes once it is back.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"
. "$TOP/t/lib/clamd.sh"
C=$TOP/t/corpus

e2e_workdir e2e-faults
for p in swaks smtp-source python3 sigtool mount umount; do
	command -v $p >/dev/null || bail_out "$p is missing"
done
[ -x "$CLAMD" ] || bail_out "clamd is missing (apt-get install clamav-daemon)"

MOUNTS=()
BG=()
# stop what the test started (load, sinkd, clamd), unmount, then the rest
_faults_cleanup() {
	local rc=$? p m
	: >"$W/stop"
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG[@]}"; do wait "$p" 2>/dev/null; done
	{ sk_stop; } 2>/dev/null
	cd_stop_all
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
	(exit $rc)
	_e2e_cleanup
}
trap _faults_cleanup EXIT

mkdir -p "$W/pf" "$W/run"
chown postfix "$W/run"
SOCK=$W/run/sinkd.sock
PORT=$(pf_free_port)
pf_setup "$W/pf" "$PORT" "unix:$SOCK" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"

# start_sk NAME LINE...: stop the running sinkd and start a fresh one in
# $W/NAME on $SOCK with LINEs in its sinkd.conf: [sinkd] keys first (one
# that sk_init set, such as spool-dir, replaces its line), then groups
start_sk() {
	local name=$1 line in_sinkd=1

	shift
	{ sk_stop; } 2>/dev/null
	sk_init "$W/$name" "unix:$SOCK"
	for line in "$@"; do
		case $line in \[*) in_sinkd=0 ;; esac
		if [ $in_sinkd = 1 ] && grep -q "^${line%% = *} = " "$SK_DIR/conf/sinkd.conf"; then
			sed -i "s|^${line%% = *} = .*|$line|" "$SK_DIR/conf/sinkd.conf"
		else
			sk_conf "$line"
		fi
	done
	sk_start
}

# log_since N: sinkd's log after its first N lines
log_since() { tail -n +$(($1 + 1)) "$SK_DIR/sinkd.log"; }
log_lines() { wc -l <"$SK_DIR/sinkd.log"; }

# wait_log PATTERN [TIMEOUT=20]: until sinkd's log has a line matching
wait_log() {
	local end=$(($(date +%s) + ${2:-20}))
	until grep -qE "$1" "$SK_DIR/sinkd.log"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}


# alive: the daemon started last still runs
alive() { [ -n "$SK_PID" ] && kill -0 "$SK_PID" 2>/dev/null; }

# reap: wait (30 s at most) for the daemon to exit; RC is its status, or
# "running" when it did not (it is then killed)
reap() {
	local i
	for i in $(seq 1 300); do
		kill -0 "$SK_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SK_PID" 2>/dev/null; then
		{ sk_kill; } 2>/dev/null
		RC=running
		return
	fi
	wait "$SK_PID"
	RC=$?
	SK_PID=
}

# open_fds DIR: how many of the daemon's descriptors are files under DIR
open_fds() {
	local f n=0
	for f in /proc/"$SK_PID"/fd/*; do
		case $(readlink "$f" 2>/dev/null) in "$1"/*) n=$((n + 1)) ;; esac
	done
	echo $n
}

# send ID FROM TO FILE: one message through swaks; OUT, REPLY (end of DATA)
send() {
	OUT=$(pf_swaks --from "$2" --to "$3" --data "$4" --header "X-E2E-Id: $1")
	REPLY=$(smtp_reply "$OUT" .)
}

# a message whose body is well over body-memory-limit = 1k
{
	printf 'From: a@example.org\nTo: b@example.net\nSubject: spooled\n\n'
	for i in $(seq 1 200); do printf 'line %d of a body that goes to a spool file\n' "$i"; done
} >"$W/big.eml"
printf 'From: a@example.org\nTo: b@example.net\nSubject: hello\n\nHello.\n' >"$W/clean.eml"
VIRUS=$C/constructed/eicar-base64-attachment.eml

# --- 1. SIGKILL while messages flow

start_sk k '[protocol]' 'add-headers = X-Sinkd-Passed: ${queue_id}' || bail_out "sinkd did not start"
pfpos=$(pf_log | wc -l)

# flow N: client N sends messages, one SMTP session each, until $W/stop
# exists (300 at most), writing "N-I STATUS SMTP-SOURCE-OUTPUT" for each
flow() {
	local i out rc
	for ((i = 1; i <= 300; i++)); do
		[ -e "$W/stop" ] && break
		out=$(smtp-source -S "fault-$1-$i" -l 600 -f a@example.org -t flow@example.net \
			"127.0.0.1:$PORT" 2>&1)
		rc=$?
		printf '%s %d %s\n' "$1-$i" "$rc" "${out//$'\n'/ }"
	done >"$W/flow.$1"
}
accepted() { cat "$W"/flow.[0-9] 2>/dev/null | awk '$2 == 0' | wc -l; }
# wait_accepted N: until N messages were accepted in all (60 s at most)
wait_accepted() {
	local i
	for i in $(seq 1 600); do
		[ "$(accepted)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
flowing() {
	local p
	for p in "${BG[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
	return 1
}

rm -f "$W/stop"
for c in 1 2 3 4; do
	flow $c &
	BG+=($!)
done
mid=0
for round in 1 2; do
	wait_accepted $((round * 100)) || diag "round $round: $(accepted) accepted only"
	flowing && mid=$((mid + 1))
	PID=$SK_PID
	{ sk_kill; } 2>/dev/null
	kill -0 "$PID" 2>/dev/null
	ok $((! $?)) "round $round: sinkd killed with SIGKILL after $(accepted) messages accepted"
	[ -S "$SOCK" ]
	ok $? "  its socket file is left behind"
	sleep 0.3
	mv "$SK_DIR/sinkd.log" "$SK_DIR/sinkd.log.$round"
	sk_start
	ok $? "  sinkd starts again over the stale socket"
	flowing && mid=$((mid + 1))
done
wait_accepted $(($(accepted) + 100))
ok $? "messages are accepted after the second restart"
: >"$W/stop"
for p in "${BG[@]}"; do wait "$p"; done
BG=()
is "$mid" 4 "both kills and restarts happened while clients were sending"

cat "$W"/flow.[0-9] >"$W/flow.all"
sent=$(wc -l <"$W/flow.all")
acc=$(awk '$2 == 0' "$W/flow.all" | wc -l)
tmp=$(awk '$2 != 0 && / 4[0-9][0-9] 4\.[0-9]+\.[0-9]+ /' "$W/flow.all" | wc -l)
awk '$2 != 0 && !/ 4[0-9][0-9] 4\.[0-9]+\.[0-9]+ /' "$W/flow.all" >"$W/flow.other"
perm=$(grep -cE ' 5[0-9][0-9] ' "$W/flow.other")
diag "case 1: $sent sent, $acc accepted (250), $tmp refused with 4xx, $(wc -l <"$W/flow.other") other;" \
	"  the refusals as smtp-source saw them:" \
	"$(awk '$2 != 0 {sub(/^[^ ]+ [0-9]+ (smtp-source: fatal: )?/, ""); print}' "$W/flow.all" | sort | uniq -c)"
[ "$acc" -ge 300 ] && [ "$tmp" -ge 1 ]
ok $? "some messages accepted ($acc), some tempfailed while sinkd was down ($tmp)"
is "$perm" 0 "no message refused with 5xx"
is "$(wc -l <"$W/flow.other")" 0 "every message got either 250 or a 4xx"
[ -s "$W/flow.other" ] && diag "$(head -5 "$W/flow.other")"
is "$((acc + tmp))" "$sent" "accepted + tempfailed = sent ($sent)"
is "$(awk '$2 != 0 && !/ 451 4\.7\.1 /' "$W/flow.all" | wc -l)" 0 \
	"each refusal is Postfix's 451 4.7.1 (the milter unavailable)"

pf_flush
pf_wait_queue_empty 60
ok $? "the queue is flushed and empty"
queued=$(pf_queue_count)
BOX=$(pf_mailbox flow@example.net)
# per delivered message: subject, X-Sinkd-Passed, the queue ID of Received
awk 'function out() { if (file != "") print s, p, q }
	FNR == 1 { out(); file = FILENAME; s = p = q = "-"; hdr = 1 }
	hdr && /^$/ { hdr = 0 }
	hdr && /^Subject: / { s = $2 }
	hdr && /^X-Sinkd-Passed: / { p = $2 }
	hdr && q == "-" && /^[ \t]+by .* with E?SMTP id [0-9A-F]+$/ { q = $NF }
	END { out() }' "$BOX"/* >"$W/delivered"
dlv=$(wc -l <"$W/delivered")
diag "case 1: $dlv delivered, $queued still queued"
is "$((dlv + queued))" "$acc" "every accepted message is delivered or queued: none lost"
is "$(awk '{print $1}' "$W/delivered" | sort | uniq -d | wc -l)" 0 "none delivered twice"
awk '$2 == 0 {print "fault-" $1}' "$W/flow.all" | sort >"$W/acc.subjects"
awk '{print $1}' "$W/delivered" | sort >"$W/dlv.subjects"
is "$(comm -13 "$W/acc.subjects" "$W/dlv.subjects" | wc -l)" 0 "no refused message was delivered"
awk '$2 == "-" || $2 != $3' "$W/delivered" >"$W/unfiltered"
is "$(wc -l <"$W/unfiltered")" 0 "every delivered message carries X-Sinkd-Passed with its own queue ID"
[ -s "$W/unfiltered" ] && diag "$(head -5 "$W/unfiltered")"
pf_log | tail -n +$((pfpos + 1)) |
	awk '/postfix\/qmgr.*: from=<a@example\.org>.*\(queue active\)/ { print $6 }' | sort -u >"$W/pf.accepted"
is "$(wc -l <"$W/pf.accepted")" "$acc" "Postfix's log shows as many messages accepted"
cat "$SK_DIR"/sinkd.log* | grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:'
ok $((! $?)) "no sanitizer report or panic in the three daemons' logs"

# --- 2. the spool, the quarantine directory and libclamav's tmpdir full

SPOOL=$W/spoolfs QDIR=$W/qfs CLTMP=$W/cltmpfs
mkdir -p "$SPOOL" "$QDIR" "$CLTMP"
for m in "$SPOOL:512k" "$QDIR:512k" "$CLTMP:4m"; do
	mount -t tmpfs -o "size=${m#*:},mode=0700" tmpfs "${m%:*}" || bail_out "cannot mount a tmpfs on ${m%:*}"
	MOUNTS+=("${m%:*}")
done
chown postfix "$CLTMP"
# fill DIR: take every free block of DIR's file system
fill() {
	dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null
	[ "$(df --output=avail "$1" | tail -n 1)" -eq 0 ]
}
DB=$W/db
av_db "$DB" || bail_out "cannot build the test signature database"
chmod 755 "$DB" && chmod 644 "$DB"/*
start_sk full "chain = protocol, rewrite, clamav" "spool-dir = $SPOOL" "body-memory-limit = 1k" \
	'[protocol]' 'add-headers = X-Sinkd-Passed: ${queue_id}' \
	'[rewrite]' 'header-add = X-Sinkd-Rewritten: yes' \
	'[clamav]' "database = $DB" "quarantine-dir = $QDIR" "action = quarantine" \
	"tmpdir = $CLTMP" "clean-cache = no" || bail_out "sinkd did not start"
wait_log 'engine ready' || bail_out "the engine did not load"

send spooled a@example.org spooled@example.net "$W/big.eml"
like "$REPLY" '^250 ' "a message over body-memory-limit, spool on the tmpfs: accepted"
pf_wait_delivered spooled@example.net 1
ok $? "  and delivered"

fill "$SPOOL"
ok $? "the spool's file system is full"
logpos=$(log_lines)
send full a@example.org full@example.net "$W/big.eml"
is "$REPLY" "451 4.3.0 Temporary local problem, try again later" "spool full: 451 at end of DATA"
log_since "$logpos" | grep -q ": cannot spool message: No space left on device"
ok $? "  sinkd logs why"
log_since "$logpos" | grep -q 'verdict=tempfail handler=sinkd code=451'
ok $? "  and its verdict line says tempfail"
alive
ok $? "  sinkd is still running"
is "$(pf_queue_count)" 0 "  Postfix did not accept the message (nothing queued)"
sleep 1
is "$(pf_delivered_count full@example.net)" 0 "  nothing delivered"
rm -f "$SPOOL/fill"
send full a@example.org full@example.net "$W/big.eml"
like "$REPLY" '^250 ' "space again: the message is accepted"
pf_wait_delivered full@example.net 1
ok $? "  and delivered"
F=$(pf_last_message full@example.net)
[ "$(header "$F" X-Sinkd-Rewritten)" = yes ] && [ -n "$(header "$F" X-Sinkd-Passed)" ]
ok $? "  through the chain (both handlers' headers)"
sleep 1
is "$(pf_delivered_count full@example.net)" 1 "  once"
is "$(ls -A "$SPOOL")" "" "the spool directory is empty"
is "$(open_fds "$SPOOL")" 0 "sinkd holds no spool file open"

fill "$QDIR"
ok $? "the quarantine's file system is full"
send qclean a@example.org qclean@example.net "$W/big.eml"
like "$REPLY" '^250 ' "quarantine full: clean mail still passes"
logpos=$(log_lines)
send qfull a@example.org qfull@example.net "$VIRUS"
is "$REPLY" "451 4.3.0 Temporary local problem, try again later" "quarantine full: a virus is tempfailed"
log_since "$logpos" | grep -q ": clamav: cannot quarantine in $QDIR: No space left on device"
ok $? "  sinkd logs why"
alive
ok $? "  sinkd is still running"
is "$(pf_queue_count)" 0 "  Postfix did not accept the message"
is "$(ls -A "$QDIR" | grep -v '^fill$' | tr '\n' ' ')" ".key " "  no entry and no temporary file is left"
# one page free: room for the message, none for its .meta
truncate -s -4096 "$QDIR/fill"
logpos=$(log_lines)
send qhalf a@example.org qhalf@example.net "$VIRUS"
is "$REPLY" "451 4.3.0 Temporary local problem, try again later" \
	"room for the message but not for its metadata: tempfailed too"
log_since "$logpos" | grep -q ": clamav: cannot quarantine in $QDIR: No space left on device"
ok $? "  sinkd logs why"
is "$(ls -A "$QDIR" | grep -v '^fill$' | tr '\n' ' ')" ".key " "  the message stored first is taken back: no half entry"
rm -f "$QDIR/fill"
send qfull a@example.org qfull@example.net "$VIRUS"
like "$REPLY" '^250 ' "space again: the virus is taken (250)"
wait_log ': clamav: quarantined as ' 10
ok $? "  and quarantined"
is "$(ls "$QDIR" | grep -cE '^[0-9]{8}T[0-9]{6}-[0-9a-f]{16}\.(eml|meta)$')" 2 "  its entry is there (.eml and .meta)"
is "$(ls -A "$QDIR" | grep -c '^\.tmp-')" 0 "  no temporary file"
pf_wait_delivered qclean@example.net 1
ok $? "the clean message was delivered"

# libclamav's own temporary directory full: its mail parser, when it
# cannot write a decoded part there, scans what it could write and calls
# the message clean; this one (EICAR zipped in a body that only looks
# like MIME) is not found any other way
V2=$C/docker-mailserver/amavis/virus.txt
fill "$CLTMP"
ok $? "libclamav's tmpdir is full"
logpos=$(log_lines)
send tfull a@example.org tfull@example.net "$V2"
is "$REPLY" "451 4.3.0 Temporary failure in clamav, try again later" \
	"tmpdir full: a virus is tempfailed, not passed as clean"
log_since "$logpos" | grep -q ": clamav: not scanned: tmpdir $CLTMP: "
ok $? "  sinkd logs why"
send tfull a@example.org tfull@example.net "$W/clean.eml"
is "$REPLY" "451 4.3.0 Temporary failure in clamav, try again later" "  and so is clean mail: none passes unscanned"
rm -f "$CLTMP/fill"
logpos=$(log_lines)
send tfull a@example.org tfull@example.net "$V2"
like "$REPLY" '^250 ' "space again: the virus is taken (250)"
log_since "$logpos" | grep -q ': clamav: quarantined as '
ok $? "  and quarantined"
sleep 1
is "$(pf_delivered_count qfull@example.net)$(pf_delivered_count tfull@example.net)" 00 "no virus was delivered"
is "$(pf_queue_count)" 0 "nothing is left in Postfix's queue"
sk_log_clean
ok $? "no sanitizer report"

# --- 3. a handler slower than Postfix's milter_content_timeout

pf_postconf -e 'milter_content_timeout = 5s' && pf_reload
sleep 1
cd_hang_start "$W/hang" || bail_out "no hanging server"
start_sk slow "chain = protocol, clamav" \
	'[protocol]' 'add-headers = X-Sinkd-Passed: ${queue_id}' \
	'[clamav]' "backend = clamd" "clamd = unix:$W/hang/hang.sock" "clamd-timeout = 12s" \
	"quarantine-dir = $W/slow/q" || bail_out "sinkd did not start"
PID=$SK_PID
send slow a@example.org slow@example.net "$W/clean.eml"
like "$REPLY" '^4[0-9][0-9] 4\.' "a scan slower than milter_content_timeout: 4xx at end of DATA"
grep -q 'no reply: timed out' "$SK_DIR/sinkd.log"
ok $((! $?)) "  given by Postfix, sinkd's scan still waiting"
wait_log "clamd unix:$W/hang/hang.sock: no reply: timed out" 30
ok $? "sinkd's scan times out later"
wait_log 'verdict=tempfail handler=clamav' 5
ok $? "  and it answers the closed connection"
sleep 1
alive && [ "$SK_PID" = "$PID" ]
ok $? "  sinkd is still running, the same process"
cd_hang_stop
cd_start "$W/cd" "$DB" a || bail_out "clamd did not start"
sed -i "s|^clamd = .*|clamd = unix:$(cd_socket a)|" "$SK_DIR/conf/sinkd.conf"
sk_reload
ok $? "a clamd that answers instead: configuration reloaded"
send slow2 a@example.org slow2@example.net "$W/clean.eml"
like "$REPLY" '^250 ' "the next message is accepted"
pf_wait_delivered slow2@example.net 1
ok $? "  and delivered"
grep -q '^X-Sinkd-Passed: ' "$(pf_last_message slow2@example.net)"
ok $? "  through the chain"
send slowv a@example.org slowv@example.net "$VIRUS"
is "$REPLY" "550 5.7.1 Message contains a virus (eicar.com.UNOFFICIAL)" "  and a virus is found"
is "$(pf_delivered_count slow@example.net)" 0 "the message that timed out was not delivered"
is "$(pf_queue_count)" 0 "  nor queued"
sk_log_clean
ok $? "no sanitizer report"
pf_postconf -e 'milter_content_timeout = 30s' && pf_reload
sleep 1

# --- 4. the client or the MTA gone in the middle of a message

start_sk drop "chain = protocol, rewrite" "spool-dir = $SPOOL" "body-memory-limit = 1k" \
	'[protocol]' 'add-headers = X-Sinkd-Passed: ${queue_id}' \
	'[rewrite]' 'header-add = X-Sinkd-Rewritten: yes' || bail_out "sinkd did not start"
PID=$SK_PID

session() {
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	reply >/dev/null
	say "EHLO client.test"
	reply >/dev/null
	say "MAIL FROM:<a@example.org>"
	R_MAIL=$(reply)
}

session
like "$R_MAIL" '^250 ' "a client sends MAIL FROM"
exec 3>&-
ok 0 "  and drops the connection"
session
say "RCPT TO:<drop@example.net>"
R_RCPT=$(reply)
say "DATA"
R_DATA=$(reply)
is "$R_RCPT|${R_DATA%% *}" "250 2.1.5 Ok|354" "a client starts DATA"
say "From: a@example.org" "Subject: cut" ""
for i in $(seq 1 300); do say "line $i of a message that never ends"; done
exec 3>&-
ok 0 "  and drops the connection half-way"

# the MTA gone half-way through a body: milter protocol spoken directly,
# the body already in a spool file when the connection drops
python3 - "$SOCK" "$W/drop.go" >"$W/drop.out" 2>&1 <<'PY' &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
def send(cmd, data=b""):
    s.sendall(struct.pack("!I", len(data) + 1) + cmd + data)
def recvn(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("closed by sinkd")
        b += c
    return b
def recv():
    return recvn(struct.unpack("!I", recvn(4))[0])
send(b"O", struct.pack("!III", 6, 0x1FF, 0x1FFFFF))
proto = struct.unpack("!I", recv()[9:13])[0]
def step(cmd, data, skip, noreply):
    if proto & skip:
        return
    send(cmd, data)
    if not proto & noreply:
        r = recv()
        if r[:1] != b"c":
            sys.exit("refused at %r: %r" % (cmd, r))
step(b"C", b"client.test\0" + b"4" + struct.pack("!H", 4025) + b"192.0.2.1\0", 0x1, 0x1000)
step(b"H", b"client.test\0", 0x2, 0x2000)
send(b"D", b"Mi\0DROPTEST\0")
step(b"M", b"<a@example.org>\0", 0x4, 0x4000)
step(b"R", b"<drop@example.net>\0", 0x8, 0x8000)
step(b"T", b"", 0x200, 0x10000)
for name, value in ((b"From", b" a@example.org"), (b"Subject", b" cut by the MTA")):
    step(b"L", name + b"\0" + value + b"\0", 0x20, 0x80)
step(b"N", b"", 0x40, 0x40000)
for i in range(4):
    step(b"B", b"x" * 78 + b"\r\n" + b"body line\r\n" * 1500, 0x10, 0x80000)
print("in body", flush=True)
end = time.time() + 30
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.05)
s.close()
PY
mta=$!
BG+=($mta)
for i in $(seq 1 100); do
	grep -q 'in body' "$W/drop.out" && [ "$(open_fds "$SPOOL")" -ge 1 ] && break
	sleep 0.1
done
[ "$(open_fds "$SPOOL")" -ge 1 ]
r=$?
ok $r "the MTA sends half a body: sinkd spools it to a file"
[ $r -eq 0 ] || diag "$(cat "$W/drop.out")"
: >"$W/drop.go"
wait $mta
ok $? "  then the MTA drops the connection"
BG=()
for i in $(seq 1 100); do
	[ "$(open_fds "$SPOOL")" -eq 0 ] && break
	sleep 0.1
done
is "$(open_fds "$SPOOL")" 0 "sinkd closes the spool file"
is "$(ls -A "$SPOOL")" "" "the spool directory is empty"
is "$(df --output=used "$SPOOL" | tail -n 1 | tr -d ' ')" 0 "  and its file system holds nothing"
alive && [ "$SK_PID" = "$PID" ]
ok $? "sinkd is still running, the same process"
# the only warning expected: the message the MTA abandoned, if it is named
# (and, on a machine whose own Postfix runs smtpd chrooted, the start's
# advice about that Postfix: it is not the one this test runs)
grep -E 'warning:|error:|fatal:|panic:' "$SK_DIR/sinkd.log" |
	grep -vE 'warning: DROPTEST: from=<a@example\.org> abandoned after [0-9]+ bytes' |
	grep -vE "warning: Postfix's .* run chrooted in " >"$W/drop.errors"
is "$(wc -l <"$W/drop.errors")" 0 "sinkd logged no warning or error beyond the abandoned message"
[ -s "$W/drop.errors" ] && diag "$(head "$W/drop.errors")"
send after a@example.org after@example.net "$W/big.eml"
like "$REPLY" '^250 ' "the next message is accepted"
pf_wait_delivered after@example.net 1
ok $? "  and delivered"
F=$(pf_last_message after@example.net)
[ "$(header "$F" X-Sinkd-Rewritten)" = yes ] && [ -n "$(header "$F" X-Sinkd-Passed)" ]
ok $? "  through the chain"
is "$(pf_delivered_count drop@example.net)" 0 "nothing of the dropped sessions was delivered"
sk_log_clean
ok $? "no sanitizer report"

# --- 5. SIGHUP during load, good and broken configurations alternating

start_sk hup '[protocol]' 'add-headers = X-Gen-1: A, X-Gen-2: A' || bail_out "sinkd did not start"
PID=$SK_PID
CONF=$SK_DIR/conf/sinkd.conf
cp "$CONF" "$W/conf.A"
sed 's/: A/: B/g' "$W/conf.A" >"$W/conf.B"
{ cat "$W/conf.A"; echo 'no-such-key = 1'; } >"$W/conf.C1"
{ cat "$W/conf.B"; echo 'this line is no key'; } >"$W/conf.C2"
logpos=$(log_lines)
pfpos=$(pf_log | wc -l)

rm -f "$W/stop" "$W/hup.err" "$W/hup.batches"
# batches of 100 messages, four sessions at a time, one message a session
# (each message pins the configuration of its connection): four at
# least, then until ten reloads are done, ten at most
(
	for b in $(seq 1 10); do
		[ "$b" -gt 4 ] && [ -e "$W/stop" ] && break
		smtp-source -s 4 -m 100 -f a@example.org -t gen@example.net \
			"127.0.0.1:$PORT" >"$W/hup.out" 2>&1 || echo "batch $b: exit $?" >>"$W/hup.err"
		cat "$W/hup.out" >>"$W/hup.err"
		echo "$b" >>"$W/hup.batches"
	done
) &
hflow=$!
BG+=($hflow)
swaps=0 good=0 bad=0 lost=0
seq=(C1 B C2 A)
outcomes() { log_since "$logpos" | grep -cE 'configuration reloaded|reload failed'; }
while kill -0 $hflow 2>/dev/null && [ $swaps -lt 200 ]; do
	[ $swaps -ge 10 ] && : >"$W/stop"
	v=${seq[$((swaps % 4))]}
	cp "$W/conf.$v" "$CONF.new" && mv -f "$CONF.new" "$CONF"
	n=$(outcomes)
	sk_hup
	swaps=$((swaps + 1))
	case $v in C*) bad=$((bad + 1)) ;; *) good=$((good + 1)) ;; esac
	for i in $(seq 1 100); do
		[ "$(outcomes)" -gt "$n" ] && break
		sleep 0.05
	done
	[ "$(outcomes)" -gt "$n" ] || lost=$((lost + 1))
	sleep 0.2
done
wait $hflow
BG=()
N=$(($(wc -l <"$W/hup.batches") * 100))
diag "case 5: $swaps reloads while $N messages were sent ($good good, $bad broken)"
[ "$swaps" -ge 10 ]
ok $? "ten reloads or more while mail flowed ($swaps)"
is "$lost" 0 "each SIGHUP gave one reload"
is "$(cat "$W/hup.err" 2>/dev/null)" "" "smtp-source saw no refusal (nothing tempfailed)"
pf_wait_delivered gen@example.net $N 90
ok $? "all $N messages delivered"
is "$(pf_delivered_count gen@example.net)" $N "  each once"
awk 'function out() {
		if (file == "")
			return
		if (n1 == 1 && n2 == 1 && g1 == g2 && (g1 == "A" || g1 == "B"))
			print g1
		else
			print "mixed", file, n1, g1, n2, g2
	}
	FNR == 1 { out(); file = FILENAME; n1 = n2 = 0; g1 = g2 = ""; hdr = 1 }
	hdr && /^$/ { hdr = 0 }
	hdr && /^X-Gen-1:/ { n1++; g1 = $2 }
	hdr && /^X-Gen-2:/ { n2++; g2 = $2 }
	END { out() }' "$(pf_mailbox gen@example.net)"/* >"$W/gens"
grep '^mixed' "$W/gens" >"$W/mixed"
is "$(wc -l <"$W/mixed")" 0 "every message has X-Gen-1 and X-Gen-2 once, of the same generation"
[ -s "$W/mixed" ] && diag "$(head -5 "$W/mixed")"
nA=$(grep -c '^A$' "$W/gens") nB=$(grep -c '^B$' "$W/gens")
diag "case 5: generation A on $nA messages, B on $nB"
[ "$nA" -ge 1 ] && [ "$nB" -ge 1 ]
ok $? "both generations were in force during the flow"
is "$(log_since "$logpos" | grep -c 'reload failed; keeping the running configuration')" "$bad" \
	"each broken configuration refused ($bad)"
is "$(log_since "$logpos" | grep -c 'configuration reloaded')" "$good" "each good one loaded ($good)"
log_since "$logpos" | grep -q "sinkd.conf:[0-9]*: no-such-key: " &&
	log_since "$logpos" | grep -q "sinkd.conf:[0-9]*: "
ok $? "the errors name file, line and key"
log_since "$logpos" | grep -cE 'verdict=(tempfail|reject)' >"$W/hup.refused"
is "$(cat "$W/hup.refused")" 0 "sinkd refused no message"
is "$(pf_log | tail -n +$((pfpos + 1)) | grep -c 'milter-reject')" 0 "Postfix logged no milter-reject"
alive && [ "$SK_PID" = "$PID" ]
ok $? "sinkd kept running, the same process"
sk_log_clean
ok $? "no sanitizer report"

# --- 6. the running daemon's identity

PF_UID=$(id -u postfix)
MAIL_GID=$(getent group mail | cut -d: -f3)
[ -n "$MAIL_GID" ] || bail_out "no group mail"
start_sk who "group = mail" "socket-mode = 0620" \
	'[protocol]' 'add-headers = X-Sinkd-Passed: ${queue_id}' || bail_out "sinkd did not start"
is "$(stat -c '%F %a %U %G' "$SOCK")" "socket 620 postfix mail" "the socket has socket-mode, user and group"
send who a@example.org who@example.net "$W/clean.eml"
like "$REPLY" '^250 ' "Postfix reaches it"
pf_wait_delivered who@example.net 1
ok $? "  and the message is delivered"
tasks=(/proc/"$SK_PID"/task/*)
[ ${#tasks[@]} -ge 3 ]
ok $? "sinkd runs ${#tasks[@]} threads"
bad=
for t in "${tasks[@]}"; do
	st=$(awk -v u="$PF_UID" -v g="$MAIL_GID" '
		/^Uid:/ && !($2 == u && $3 == u && $4 == u && $5 == u) { print "Uid" }
		/^Gid:/ && !($2 == g && $3 == g && $4 == g && $5 == g) { print "Gid" }
		/^Groups:/ && !(NF == 2 && $2 == g) { print "Groups" }
		/^Cap(Inh|Prm|Eff|Amb):/ && $2 !~ /^0+$/ { print $1 }' "$t/status" 2>/dev/null | tr '\n' ' ')
	[ -n "$st" ] && bad="$bad ${t##*/}: $st"
done
is "$bad" "" "every thread: uid postfix, gid mail, no other group, no capability"
[ -n "$bad" ] && diag "$(grep -E '^(Uid|Gid|Groups|Cap)' /proc/"$SK_PID"/status)"
kill -TERM "$SK_PID"
reap
is "$RC" 0 "sinkd stops on SIGTERM with status 0 (a stop asked for: not restarted)"
sk_log_clean
ok $? "no sanitizer report"

# --- 7. libmilter giving up on its own: a failure, for the supervisor
#
# libmilter's own signal thread (started by the milter thread, whose name
# it bears) waits in sinkd's sigwait(), which never returns: a SIGTERM
# sent to it alone stays blocked there and changes nothing.  libmilter
# still gives up when its listener fails: over TCP, a listening socket
# shut down from outside (its descriptor taken with pidfd_getfd(2)) is
# such a failure.  sinkd must then exit with a failure status, which
# Restart=on-failure acts on, not the 0 of a stop asked for.

start_sk giveup '[protocol]' 'add-headers = X-Sinkd-Passed: ${queue_id}' || bail_out "sinkd did not start"
PID=$SK_PID
n=$(python3 - "$PID" <<'PY'
import ctypes, os, platform, signal, sys
nr = {"x86_64": 234, "aarch64": 131, "riscv64": 131, "ppc64le": 250, "s390x": 241}.get(platform.machine())
if nr is None:
    sys.exit("no tgkill number for " + platform.machine())
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
n = 0
for tid in os.listdir("/proc/%d/task" % pid):
    t = "/proc/%d/task/%s/" % (pid, tid)
    if int(tid) != pid and open(t + "comm").read().strip() == "milter" \
            and "pause" in open(t + "wchan").read():
        n += libc.syscall(nr, pid, int(tid), signal.SIGTERM) == 0
print(n)
PY
)
is "$n" 1 "SIGTERM sent to libmilter's signal thread alone (waiting in sinkd's sigwait)"
sleep 1
kill -0 "$PID" 2>/dev/null
ok $? "  takes nothing: sinkd goes on"
send held a@example.org held@example.net "$W/clean.eml"
like "$REPLY" '^250 ' "  and mail passes"
sk_stop
mv "$SK_DIR/sinkd.log" "$SK_DIR/sinkd.log.0"
TPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sk_init "$W/giveup" "inet:$TPORT@127.0.0.1"
sk_start || bail_out "sinkd did not start on TCP"
n=$(python3 - "$SK_PID" <<'PY'
import ctypes, os, socket, sys
nr = 438	# pidfd_getfd, the same number everywhere
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
pfd = os.pidfd_open(pid)
n = 0
for fd in os.listdir("/proc/%d/fd" % pid):
    try:
        if not os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
            continue
    except OSError:
        continue
    got = libc.syscall(nr, pfd, int(fd), 0)
    if got < 0:
        continue
    s = socket.socket(fileno=got)
    if n == 0 and s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        s.shutdown(socket.SHUT_RDWR)
        n += 1
    s.close()
print(n)
PY
)
is "$n" 1 "sinkd's listening TCP socket shut down from outside"
reap
is "$RC" 1 "libmilter stops serving: sinkd exits with status 1, which Restart=on-failure restarts"
grep -q 'error: libmilter stopped serving; shutting down' "$SK_DIR/sinkd.log"
ok $? "  and the log says why"
sk_log_clean
ok $? "no sanitizer report"
mv "$SK_DIR/sinkd.log" "$SK_DIR/sinkd.log.1"
start_sk giveup '[protocol]' 'add-headers = X-Sinkd-Passed: ${queue_id}'
ok $? "started again (as the supervisor would)"
send again a@example.org again@example.net "$W/clean.eml"
like "$REPLY" '^250 ' "  and mail passes"
pf_wait_delivered again@example.net 1 && grep -q '^X-Sinkd-Passed: ' "$(pf_last_message again@example.net)"
ok $? "  through the chain"
done_testing
