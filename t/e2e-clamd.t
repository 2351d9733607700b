#!/bin/bash
# e2e-clamd.t - the virus handler's clamd backend, through sinkd
#
# Real clamd servers (t/lib/clamd.sh) load the very signature directory the
# embedded engine loads (t/lib/clamav.sh av_db), with the embedded engine's
# limits.  Checked:
#
#   sinkd -t: every corpus message gets the same verdict line with
#   backend = clamd as with backend = embedded, the clean ones passing
#   byte-identical; with the default scan-parts the two messages built to
#   hide an attachment from libclamav's MIME parser are rejected too.
#
#   a real Postfix with sinkd and two clamd servers: viruses refused with
#   their names, clean mail delivered; one server killed while mail flows,
#   with scans waiting on it, costs no message and no temporary failure;
#   with every server down mail is tempfailed (on-error = tempfail) or
#   rejected (on-error = reject), never accepted unscanned; a server that
#   never answers costs clamd-timeout and a tempfail; a clamd started again
#   is used at once, with no restart of sinkd.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"
. "$TOP/t/lib/clamd.sh"
C=$TOP/t/corpus

e2e_workdir e2e-clamd
[ -x "$CLAMD" ] || bail_out "clamd is missing (apt-get install clamav-daemon)"
for p in sigtool swaks smtp-source python3; do
	command -v $p >/dev/null || bail_out "$p is missing"
done

# the clamd servers go too, before the work directory
_clamd_cleanup() {
	local rc=$?
	cd_stop_all
	(exit $rc)
	_e2e_cleanup
}
trap _clamd_cleanup EXIT

DB=$W/db
av_db "$DB" || bail_out "cannot build the test signature database"
chmod 755 "$DB" && chmod 644 "$DB"/*
# the embedded engine's limits (the [clamav] defaults), and its heuristics
# for a scan beyond them and for encrypted archives and documents
# (block-encrypted = yes)
CD_OPTS=("AlertExceedsMax yes" "AlertEncrypted yes" "MaxScanSize 400M" "MaxFileSize 100M"
	"MaxRecursion 16" "MaxFiles 10000" "MaxScanTime 120000" "StreamMaxLength 100M")
cd_start "$W/cd" "$DB" a "${CD_OPTS[@]}" || bail_out "clamd a did not start"
A=unix:$(cd_socket a)

# --- sinkd -t: the same verdicts from both backends

mkdir -p "$W/t/spool" "$W/t/q"
# tconf BACKEND LINE...: $W/t/BACKEND.conf
tconf() {
	local b=$1
	shift
	cat >"$W/t/$b.conf" <<CONF
[sinkd]
chain = clamav
spool-dir = $W/t/spool
internal-hosts = 10.255.0.0/16
[clamav]
backend = $b
database = $DB
clamd = $A
quarantine-dir = $W/t/q
clean-cache = no
$(printf '%s\n' "$@")
CONF
}

# t BACKEND FILE: sinkd -t on FILE; OUT (a file), ERR (the verdict line), RC
t() {
	OUT=$W/t/$1.out
	"$SINKD" -t -c "$W/t/$1.conf" -F sender@example.org -R rcpt@example.net \
		-C 192.0.2.10,client.example <"$2" >"$OUT" 2>"$W/t/$1.err"
	RC=$?
	ERR=$(tail -n 1 "$W/t/$1.err")
}

tconf embedded "scan-parts = none"
tconf clamd "scan-parts = none"
clean=0 infected=0 other=0
declare -A VNAME=()
while IFS=$'\t' read -r path _ _ _ category notes; do
	[ "$path" = path ] && continue
	case $notes in "NOT A MESSAGE"*) continue ;; esac
	t embedded "$C/$path"
	emb=$ERR erc=$RC
	t clamd "$C/$path"
	if [[ $emb == "verdict=accept edits=0 "* ]]; then
		clean=$((clean + 1))
		[ "$ERR" = "$emb" ] && [ $RC -eq 0 ] && [ $erc -eq 0 ] && cmp -s "$C/$path" "$OUT"
		r=$?
		ok $r "$path: clean with both, passes byte-identical"
		[ $r -eq 0 ] || diag "embedded: $emb" "clamd: $ERR"
	else
		if [[ $emb =~ ^verdict=reject\ code=550\ xcode=5\.7\.1\ handler=clamav\ text=\"Message\ contains\ a\ virus\ \((.*)\)\"\  ]]; then
			infected=$((infected + 1))
			VNAME[$path]=${BASH_REMATCH[1]}
		else
			other=$((other + 1))
		fi
		is "$ERR" "$emb" "$path: the same verdict (${emb%% edits=*})"
	fi
done <"$C/MANIFEST.tsv"
diag "corpus: $infected infected, $clean clean, $other other verdicts"
[ $infected -ge 6 ] && [ $clean -ge 500 ]
ok $? "both backends: $infected infected, $clean clean"

# the default scan-parts: with clamd every part is scanned on its own
tconf embedded
tconf clamd
for path in clamav/clam.mail-boundary-content-disposition.eml clamav/clam.mail-semicolon-boundary.eml; do
	t clamd "$C/$path"
	[[ $ERR == "verdict=reject code=550 xcode=5.7.1 handler=clamav text=\"Message contains a virus (ClamAV-Test-File.UNOFFICIAL)\" "* ]]
	ok $? "$path: the attachment libclamav's parser misses is found by clamd in the part"
	[[ $ERR == "verdict=reject "* ]] || diag "clamd: $ERR"
	emb=$ERR
	t embedded "$C/$path"
	is "$emb" "$ERR" "$path: the same verdict as the embedded engine"
done

# --- a real Postfix, sinkd, two clamd servers

cd_start "$W/cd" "$DB" b "${CD_OPTS[@]}" || bail_out "clamd b did not start"
B=unix:$(cd_socket b)
mkdir -p "$W/pf" "$W/sk"
PORT=$(pf_free_port)
pf_setup "$W/pf" "$PORT" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
CONF=$W/sk/conf/sinkd.conf
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, clamav/' "$CONF"
sk_conf '[clamav]' "backend = clamd" "clamd = $A, $B" "clamd-retry = 30s" \
	"quarantine-dir = $W/sk/q"
sk_start || bail_out "sinkd did not start"
PID=$(sk_pid)
grep -q "clamav: scanning with clamd $A, $B" "$SK_DIR/sinkd.log"
ok $? "sinkd scans with the two clamd servers"

# send ID FROM TO FILE
send() { OUT=$(pf_swaks --from "$2" --to "$3" --data "$4" --header "X-E2E-Id: $1"); }

printf 'From: a@example.org\nTo: b@example.net\nSubject: hello\n\nHello.\n' >"$W/clean"
send clean a@example.org clean@example.net "$W/clean"
like "$(smtp_reply "$OUT" .)" '^250 ' "clean mail is accepted"
pf_wait_delivered clean@example.net 1
ok $? "and delivered"

# every virus sample, refused with the name sinkd -t gave
n=0
while IFS=$'\t' read -r path _ _ _ category _; do
	[ "$category" = virus ] && [ -n "${VNAME[$path]:-}" ] || continue
	n=$((n + 1))
	send "v$n" a@example.org "virus$n@example.net" "$C/$path"
	is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message contains a virus (${VNAME[$path]})" \
		"$path: refused at end of DATA, naming ${VNAME[$path]}"
done <"$C/MANIFEST.tsv"
for path in clamav/clam.mail-boundary-content-disposition.eml clamav/clam.mail-semicolon-boundary.eml; do
	n=$((n + 1))
	send "v$n" a@example.org "virus$n@example.net" "$C/$path"
	is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message contains a virus (ClamAV-Test-File.UNOFFICIAL)" \
		"$path: refused at end of DATA"
done
[ $n -ge 8 ]
ok $? "$n virus samples tried"
grep -q "virus=.* action=reject server=$A" "$SK_DIR/sinkd.log" &&
	grep -q "virus=.* action=reject server=$B" "$SK_DIR/sinkd.log"
ok $? "both servers found viruses (round robin)"

# server a killed while mail flows: every message still scanned (by b)
logpos=$(wc -l <"$SK_DIR/sinkd.log")
pfpos=$(pf_log | wc -l)
NFLOW=400
smtp-source -s 2 -m $NFLOW -l 2000 -f a@example.org -t flow@example.net "127.0.0.1:$PORT" \
	>"$W/flow.out" 2>&1 &
flow=$!
for i in $(seq 1 200); do
	[ "$(tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" | grep -c 'verdict=accept')" -ge 80 ] && break
	sleep 0.05
done
# stopped for a moment first, so that scans are waiting on it when it dies
# (braces: bash would report the stopped job's death on stderr)
{ kill -STOP "${CD_PID[a]}" && sleep 0.5 && cd_kill a; } 2>/dev/null
r=$?
kill -0 $flow 2>/dev/null && [ $r -eq 0 ]
ok $? "clamd a killed (SIGKILL) while smtp-source was sending"
before=$(tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" | grep -c 'verdict=accept')
wait $flow
ok $? "smtp-source sent its $NFLOW messages"
after=$(tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" | grep -c 'verdict=accept')
diag "$before messages scanned before the kill, $((after - before)) after"
[ "$before" -ge 20 ] && [ $((after - before)) -ge 100 ]
ok $? "the kill was mid-flow ($before before, $((after - before)) after)"
is "$(cat "$W/flow.out")" "" "smtp-source saw no error reply"
pf_wait_delivered flow@example.net $NFLOW 60
ok $? "all $NFLOW were delivered"
is "$(pf_delivered_count flow@example.net)" $NFLOW "each of them once"
pf_log | tail -n +$((pfpos + 1)) | grep 'milter-reject' >"$W/rejects"
is "$(wc -l <"$W/rejects")" 0 "Postfix logged no milter-reject for them"
[ -s "$W/rejects" ] && diag "$(head "$W/rejects")"
tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" | grep -E 'on-error|not scanned|verdict=(tempfail|reject)' >"$W/errors"
is "$(wc -l <"$W/errors")" 0 "sinkd logged no on-error and no refusal"
[ -s "$W/errors" ] && diag "$(head "$W/errors")"
down=$(tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" | grep "clamd $A: ")
like "$down" "clamd $A: no reply: [^;]+; not used for 30s unless all others fail" \
	"the log says server a went down, with scans in flight"
is "$(printf '%s\n' "$down" | grep -c 'not used for')" 1 "  once"

# every server down: tempfail (on-error = tempfail, the default), never accept
cd_stop b
logpos=$(wc -l <"$SK_DIR/sinkd.log")
send down1 a@example.org down1@example.net "$W/clean"
is "$(smtp_reply "$OUT" .)" "451 4.3.0 Temporary failure in clamav, try again later" \
	"all servers down: 451 4.3.0 at end of DATA"
tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log" >"$W/log.part"
grep -q "clamav: not scanned: clamd unix:.*: connect: " "$W/log.part" &&
	grep -q 'handler clamav failed; on-error=tempfail' "$W/log.part"
r=$?
ok $r "the log says why and what on-error did"
[ $r -eq 0 ] || diag "$(cat "$W/log.part")"

sed -i 's/^\[clamav\]$/[clamav]\non-error = reject/' "$CONF"
sk_reload
ok $? "on-error = reject: configuration reloaded"
send down2 a@example.org down2@example.net "$W/clean"
is "$(smtp_reply "$OUT" .)" "550 5.3.0 Message could not be processed (clamav)" \
	"all servers down, on-error = reject: 550 5.3.0"

# one clamd back: used at once, no restart of sinkd, no reload
logpos=$(wc -l <"$SK_DIR/sinkd.log")
cd_start "$W/cd" "$DB" a "${CD_OPTS[@]}" || bail_out "clamd a did not restart"
send back a@example.org back@example.net "$W/clean"
like "$(smtp_reply "$OUT" .)" '^250 ' "clamd a started again: mail is accepted"
pf_wait_delivered back@example.net 1
ok $? "and delivered"
send back-virus a@example.org back@example.net "$C/constructed/eicar-zip-attachment.eml"
is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message contains a virus (eicar.com.UNOFFICIAL)" \
	"and scanned: a virus is refused"
grep -q "clamd $A: answering again" <(tail -n +$((logpos + 1)) "$SK_DIR/sinkd.log")
ok $? "the log says server a answers again"
kill -0 "$PID" && [ "$(grep -c 'ready on' "$SK_DIR/sinkd.log")" -eq 1 ]
ok $? "the same sinkd process throughout, started once"

# a server that accepts and never answers, alone: clamd-timeout, then tempfail
cd_hang_start "$W/hang" || bail_out "no hanging server"
sed -i -e '/^on-error = reject$/d' -e "s|^clamd = .*|clamd = unix:$W/hang/hang.sock|" \
	-e 's/^\[clamav\]$/[clamav]\nclamd-timeout = 2s/' "$CONF"
sk_reload
ok $? "a hanging server alone, clamd-timeout = 2s: configuration reloaded"
t0=$(date +%s%N)
send hang a@example.org hang@example.net "$W/clean"
ms=$((($(date +%s%N) - t0) / 1000000))
is "$(smtp_reply "$OUT" .)" "451 4.3.0 Temporary failure in clamav, try again later" \
	"a hanging server: 451 4.3.0"
[ "$ms" -ge 2000 ] && [ "$ms" -lt 10000 ]
ok $? "  after the timeout, not later ($ms ms)"
grep -q "clamd unix:$W/hang/hang.sock: no reply: timed out" "$SK_DIR/sinkd.log"
ok $? "  the log says the server timed out"
cd_hang_stop

sleep 1
for r in down1 down2 hang; do
	is "$(pf_delivered_count $r@example.net)" 0 "$r: not delivered"
done
is "$(find "$W/pf/mail" -path '*virus*' -type f | wc -l)" 0 "no virus was delivered"
pf_wait_queue_empty 20
ok $? "nothing is left in Postfix's queue"

sk_stop
sk_log_clean
ok $? "no sanitizer report in sinkd's log"
done_testing
