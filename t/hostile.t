#!/bin/bash
# hostile.t - hostile input through sinkd -t and through the daemon
#
# Each hostile message is built here (t/lib/hostile.py) and goes through
# the full chain (protocol, clamav with the embedded engine on the test
# signatures, rewrite, disclaimer) twice: offline with sinkd -t, and
# through a running sinkd driven by bench/milterload as Postfix drives
# it.  Both must give the verdict written here (reply code, enhanced
# code and text included), sinkd must neither crash nor leave anything in
# its spool or in libclamav's temporary directory, and its log must hold
# no sanitizer report.  The rule for the virus scan: a virus found is
# refused, a scan limit gets on-limit (554 5.7.0 by default), and a
# message is never passed with parts left unscanned.  Two cases were ways
# past the scan and stay as regressions: an attachment that only a reading
# with bare CRs as line ends shows (scanned now as a second reading), and
# one behind a second boundary parameter (a limit now).
#
# Work and memory stay bounded: 40,000 header fields with header-delete
# (and the disclaimer wrapping the message) give the same result as a few
# do; a regex that backtracks at every line of 2 MB spends regex-budget
# and on-error applies, never half the rules; and a 24 MB message at
# body-memory-limit = 64k raises sinkd -t's peak memory by less than half
# its size, its bare-CR reading included (bench/hostile has the figures).
#
# Packets over libmilter's 64 KiB limit (t/lib/milterraw.py sends them
# raw) end the connection: the MTA's milter_default_action applies, the
# daemon logs the abandoned message, and the next connection is served.
#
# Then every file of t/corpus (signature databases and MANIFEST aside)
# through both paths: the milter's verdict must be sinkd -t's for each.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"

ML=$TOP/bench/milterload
GEN=$TOP/t/lib/hostile.py
RAW=$TOP/t/lib/milterraw.py
[ -x "$ML" ] || bail_out "$ML is not built (run make tests)"
command -v sigtool >/dev/null || bail_out "sigtool (package clamav) is needed"
e2e_workdir hostile
chmod o+x "$W"	# sinkd checks, as postfix, that it can write its spool under it
chmod 711 "$W"			# the daemon runs as postfix
av_db "$W/db" || bail_out "cannot build the test signature database"
chmod -R a+rX "$W/db"
mkdir -p "$W/msg"

sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
mkdir -p "$W/sk/tmp"
chown postfix "$W/sk" "$W/sk/spool" "$W/sk/tmp"
sk_conf "chain = protocol, clamav, rewrite, disclaimer" "body-memory-limit = 64k" \
	"[clamav]" "database = $W/db" "tmpdir = $W/sk/tmp" "quarantine-dir = $W/sk/q" \
	"clean-cache = no" "watch-interval = 0" \
	"[rewrite]" "banned-extensions = exe, scr" "header-delete = X-Spam*" \
	'text-replace = hostile => friendly, /HOSTILE(\w+\\s?)+$/ => x' \
	"[disclaimer]" "text-file = $(fixture "$TOP/t/disclaimer/text.tmpl" "$SK_DIR/conf")" \
	"html-file = $(fixture "$TOP/t/disclaimer/html.tmpl" "$SK_DIR/conf")"
sk_start || bail_out "sinkd did not start"
# the engine loads in the background: until it is ready, scans tempfail
for i in $(seq 1 600); do
	grep -q 'clamav: engine ready' "$W/sk/sinkd.log" && break
	kill -0 "$SK_PID" 2>/dev/null || break
	sleep 0.1
done
grep -q 'clamav: engine ready' "$W/sk/sinkd.log" || bail_out "no clamav engine: $(sk_log)"

# the envelope of every message: outbound mail from an internal client,
# so that the disclaimer applies too
FROM=a@example.com RCPT=b@example.org CLIENT=10.255.0.1 HELO=pc.example.com

# norm LINE: a verdict line of sinkd -t, or a log line, as "accept" or
# "VERDICT HANDLER CODE XCODE TEXT"
norm() {
	local l=$1 v= h= c= x= t=

	[[ $l =~ verdict=([a-z]+) ]] && v=${BASH_REMATCH[1]}
	[[ $l =~ \ handler=([a-z]+) ]] && h=${BASH_REMATCH[1]}
	[[ $l =~ \ code=([0-9]+) ]] && c=${BASH_REMATCH[1]}
	[[ $l =~ \ xcode=([0-9.]+) ]] && x=${BASH_REMATCH[1]}
	[[ $l =~ \ text=\"(([^\"\\]|\\.)*)\" ]] && t=${BASH_REMATCH[1]}
	echo "${v:-none}${c:+ $h $c $x $t}"
}

# offline FILE: sinkd -t (with CONF, or the daemon's configuration); OFF
# is the verdict, or what went wrong
offline() {
	local rc

	"$SINKD" -t -c "${CONF:-$W/sk/conf/sinkd.conf}" -F "$FROM" -R "$RCPT" -C "$CLIENT,$HELO" \
		<"$1" >"$W/out" 2>"$W/err"
	rc=$?
	OFF=$(norm "$(grep '^verdict=' "$W/err" | tail -n 1)")
	if [ $rc -ne 0 ] || grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$W/err"; then
		OFF="exit $rc: $(head -c 2000 "$W/err")"
	fi
}

# online FILE: one message through the daemon; ON is the verdict sinkd
# logged for it, "dropped" when a header field over 64 KiB made libmilter
# close the connection (as milterload warns), or what went wrong; KV is
# milterload's output, LOG what sinkd logged meanwhile
online() {
	local rc before

	before=$(wc -l <"$W/sk/sinkd.log")
	KV=$("$ML" -c 1 -m 1 -f "$FROM" -r "$RCPT" -C "$CLIENT,$HELO" "$SK_SOCKET" "$1" \
		2>"$W/ml.err")
	rc=$?
	LOG=$(tail -n +$((before + 1)) "$W/sk/sinkd.log")
	ON=$(norm "$(printf '%s\n' "$LOG" | grep 'nrcpt=.* verdict=' | tail -n 1)")
	if ! kill -0 "$SK_PID" 2>/dev/null; then
		ON="sinkd died: $(tail -n 20 "$W/sk/sinkd.log")"
	elif [ "$(kv messages)/$(kv errors)" = 0/1 ] \
	     && grep -q 'libmilter filters drop the connection on packets over 65535 bytes' "$W/ml.err" \
	     && grep -qE '(read|write): (Connection reset by peer|Broken pipe)' "$W/ml.err"; then
		ON=dropped
	elif [ $rc -ne 0 ] || [ "$(kv errors)" != 0 ] || [ "$(kv messages)" != 1 ]; then
		ON="milterload exit $rc: $(grep -v '^milterload: [0-9]' "$W/ml.err" | head -n 5)"
	fi
}
kv() { printf '%s\n' "$KV" | sed -n "s/^$1=//p"; }

# empty: nothing left in the spool or in libclamav's temporary directory
empty() { [ -z "$(find "$W/sk/spool" "$W/sk/tmp" -mindepth 1)" ]; }

# check NAME EXPECTED HOSTILE-ARGS...: the message hostile.py makes with
# these arguments, through sinkd -t and through the daemon
check() {
	local name=$1 want=$2 f=$W/msg/$1.eml

	shift 2
	python3 "$GEN" "$@" >"$f" || bail_out "hostile.py $* failed"
	offline "$f"
	is "$OFF" "$want" "$name: sinkd -t: ${want:0:60}"
	online "$f"
	is "$ON" "$want" "$name: through the daemon, the same"
	empty
	ok $? "$name: nothing left in the spool or libclamav's tmpdir"
}

VIRUS="reject clamav 550 5.7.1 Message contains a virus (eicar.com.UNOFFICIAL)"
LIMIT="reject clamav 554 5.7.0 Message could not be scanned completely"

# --- 1. header fields and packets over 64 KiB
check "header of 60000 bytes" accept longheader 60000
for fold in "" --folded; do
	name="header of 70000 bytes${fold:+, folded}"
	f=$W/msg/long$fold.eml
	python3 "$GEN" longheader 70000 $fold >"$f"
	offline "$f"
	is "$OFF" accept "$name: sinkd -t accepts it (no libmilter there)"
	online "$f"
	is "$ON" dropped \
		"$name: one SMFIC_HEADER packet over 64 KiB: libmilter closes the connection, no verdict"
	like "$LOG" "warning: [0-9A-F]+: from=<$FROM> abandoned after [0-9]+ bytes, before end of message" \
		"$name: sinkd logs the abandoned message"
	online "$W/msg/header of 60000 bytes.eml"
	is "$ON" accept "$name: sinkd is still running, the next connection is served"
done
for p in "header 70000" "body 65536" "length 2147483646"; do
	is "$(python3 "$RAW" "$SK_SOCKET" $p)" closed "raw packet, $p bytes: the connection is closed"
done
is "$(python3 "$RAW" "$SK_SOCKET" body 65535)" reply=c "raw packet, body of 65535 bytes (the limit): taken"
is "$(python3 "$RAW" "$SK_SOCKET" ok)" reply=c "raw packets: the next session is served to the end"
kill -0 "$SK_PID" 2>/dev/null
ok $? "raw packets: sinkd is still running"
empty
ok $? "raw packets: nothing left in the spool"

# --- 2. NUL bytes; 3. line ends
check "NUL in header and body" accept nul
check "NUL, EICAR attached" "$VIRUS" nul --eicar
for k in cr lf mixed; do
	check "line ends $k" accept lineends $k
	check "line ends $k, EICAR attached" "$VIRUS" lineends $k --eicar
done

# --- 4. 10,000 parts; 5. 100 levels of nesting
check "10000 parts" "$LIMIT (Heuristics.Limits.Exceeded.MaxFiles)" parts 10000
check "10000 parts, EICAR last" "$LIMIT (Heuristics.Limits.Exceeded.MaxFiles)" parts 10000 --eicar
for k in multipart rfc822; do
	check "100 levels of $k" "$LIMIT (Heuristics.Limits.Exceeded.MaxRecursion)" nested 100 $k
	check "100 levels of $k, EICAR deepest" "$LIMIT (Heuristics.Limits.Exceeded.MaxRecursion)" \
		nested 100 $k --eicar
	check "10 levels of $k, EICAR deepest" "$VIRUS" nested 10 $k --eicar
done
# with max-recursion raised, libclamav reaches the bottom of 70 levels;
# the check of each part stops at 64: a limit too, not a pass
sed 's/^clean-cache = no$/&\nmax-recursion = 100/' "$W/sk/conf/sinkd.conf" >"$W/sk/conf/deep.conf"
for n in 40 70; do
	python3 "$GEN" nested $n multipart >"$W/msg/deep$n.eml"
	CONF=$W/sk/conf/deep.conf offline "$W/msg/deep$n.eml"
	want=accept
	[ $n -gt 64 ] && want="$LIMIT (Heuristics.Limits.Exceeded.MaxRecursion)"
	is "$OFF" "$want" "max-recursion = 100, $n levels of multipart: ${want:0:40}"
done
# the rewrite handler alone: a part its banned-attachment check cannot
# reach may be banned, so on-error applies (tempfail), never a pass
sed -e 's/^chain = .*/chain = rewrite/' "$W/sk/conf/sinkd.conf" >"$W/sk/conf/rewrite.conf"
ERR="tempfail rewrite 451 4.3.0 Temporary failure in rewrite, try again later"
python3 "$GEN" nested 10 multipart --exe >"$W/msg/rw.eml"
CONF=$W/sk/conf/rewrite.conf offline "$W/msg/rw.eml"
is "$OFF" accept "chain = rewrite, setup.exe 10 levels down: accepted"
grep -q 'filename="setup.exe"' "$W/out"
is "$?" 1 "  with setup.exe replaced by the notice"
for args in "nested 70 multipart" "dupboundary second" "dupboundary first"; do
	python3 "$GEN" $args --exe >"$W/msg/rw.eml"
	CONF=$W/sk/conf/rewrite.conf offline "$W/msg/rw.eml"
	is "$OFF" "$ERR" "chain = rewrite, setup.exe in $args: on-error, tempfail"
done

# --- 6. a boundary that never closes; 7. two boundary parameters
check "unclosed boundary" accept unclosed
check "unclosed boundary, EICAR in the open part" "$VIRUS" unclosed --eicar
for k in first second; do
	check "two boundaries, parts behind the $k" "$LIMIT (Sinkd.MIME.AmbiguousBoundary)" \
		dupboundary $k
done
check "two boundaries, EICAR behind the first" "$VIRUS" dupboundary first --eicar
check "two boundaries, EICAR behind the second" "$LIMIT (Sinkd.MIME.AmbiguousBoundary)" \
	dupboundary second --eicar

# --- 8. base64 garbage, 8-bit header, parameters, RFC 2231
check "base64 with garbage" accept badbase64
check "base64 with garbage, EICAR" "$VIRUS" badbase64 --eicar
check "8-bit header fields" accept 8bitheader
check "5000 Content-Type parameters" "$LIMIT (Heuristics.Limits.Exceeded.EmailMIMEArguments)" \
	params 5000
check "RFC 2231 file name in 2000 pieces" accept rfc2231 2000 exe
grep -q 'was removed by the mail gateway (extension exe)' "$W/out"
ok $? "RFC 2231 file name in 2000 pieces: put together, ends in .exe: the part is replaced"
is "$(kv replbody)" 1 "RFC 2231 file name in 2000 pieces: through the daemon, the body is replaced"

# --- 9. 40,000 header fields, every one deleted by header-delete; with a
# body the disclaimer cannot go into, the message wrapped as well (its
# top-level Content-* fields rewritten among the 40,000)
for b in "" --binary; do
	name="40000 header fields${b:+, wrapped}"
	check "$name" accept headers 40000 $b
	is "$(grep -c '^X-Spam:' "$W/out")" 0 "$name: sinkd -t deletes every one"
	edits=$(sed -n 's/^verdict=.* edits=\([0-9]*\) .*/\1/p' "$W/err")
	is "$(( $(kv header_edits) + $(kv replbody) ))" "$edits" \
		"$name: the daemon makes the same $edits edits"
	if [ -n "$b" ]; then
		grep -q '^X-Sinkd-Disclaimer: wrapped' "$W/out"
		ok $? "$name: wrapped by the disclaimer"
		grep -q '^YmluYXJ5IGRhdGEsIG5vIHRleHQK' "$W/out"
		ok $? "$name: the original body is in it"
	fi
done

# --- 10. a regex that backtracks a little less than the match limit at
# each of 75,000 lines: regex-budget runs out, on-error applies (tempfail)
ERR_RW="tempfail rewrite 451 4.3.0 Temporary failure in rewrite, try again later"
check "catastrophic regex over 2 MB" "$ERR_RW" catregex 2097152
like "$(cat "$W/err")" "spent regex-budget" "catastrophic regex: sinkd -t says the budget ran out"
like "$LOG" "spent regex-budget" "catastrophic regex: the daemon says so too"
# with on-error = accept the message passes unchanged by the rules, and
# says so: not the first part's "hostile => friendly" and not the rest
sed 's/^\[rewrite\]$/&\non-error = accept/' "$W/sk/conf/sinkd.conf" >"$W/sk/conf/accept.conf"
python3 "$GEN" catregex 2097152 --parts >"$W/msg/catparts.eml"
CONF=$W/sk/conf/accept.conf offline "$W/msg/catparts.eml"
is "$OFF" accept "catastrophic regex, on-error = accept: accepted"
grep -q '^X-Sinkd-Rewrite: not applied (regex-budget spent)' "$W/out"
ok $? "  with X-Sinkd-Rewrite: not applied (regex-budget spent)"
grep -q '^a hostile word' "$W/out"
ok $? "  and no rule applied, not even the one before the budget ran out"

# --- 11. memory: a 24 MB message with a 24 MB attachment, with
# body-memory-limit = 64k, goes through files, not memory: sinkd -t's
# peak RSS grows by less than half the message's size over its peak on a
# small one (protocol and rewrite; libclamav's own memory is its own).
# Then the clamav handler alone (scan-parts = all): a message whose lines
# end in a bare CR, read twice, peaks within half its size of the same
# message with CRLF lines, read once.
# peak_kb CONF FILE: sinkd -t's peak RSS in KiB.  Under AddressSanitizer
# (make sanitize) freed memory stays resident in its quarantine, which
# would count libclamav's second scan twice: it is off for these runs (an
# ordinary build ignores ASAN_OPTIONS).
peak_kb() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" python3 -c 'import os, subprocess, sys
with open(sys.argv[3], "rb") as f:
    p = subprocess.Popen([sys.argv[1], "-t", "-c", sys.argv[2], "-F", "a@example.com",
                          "-R", "b@example.org"], stdin=f,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(os.wait4(p.pid, 0)[2].ru_maxrss)' "$SINKD" "$1" "$2"
}
sed -e 's/^chain = .*/chain = protocol, rewrite/' "$W/sk/conf/sinkd.conf" >"$W/sk/conf/mem.conf"
python3 "$GEN" big 25165824 crlf >"$W/msg/big.eml"
size_kb=$(( $(wc -c <"$W/msg/big.eml") / 1024 ))
small=$(peak_kb "$W/sk/conf/mem.conf" "$W/msg/header of 60000 bytes.eml")
large=$(peak_kb "$W/sk/conf/mem.conf" "$W/msg/big.eml")
[ "$small" -gt 0 ] && [ $((large - small)) -lt $((size_kb / 2)) ]
ok $? "24 MB message, protocol and rewrite: peak RSS $small KiB on a small one, $large KiB on it (< +$((size_kb / 2)))"
sed -e 's/^chain = .*/chain = clamav/' -e 's/^clean-cache = no$/&\nscan-parts = all/' \
	"$W/sk/conf/sinkd.conf" >"$W/sk/conf/clam.conf"
python3 "$GEN" big 16777216 cr >"$W/msg/bigcr.eml"
python3 "$GEN" big 16777216 crlf >"$W/msg/bigcrlf.eml"
size_kb=$(( $(wc -c <"$W/msg/bigcr.eml") / 1024 ))
crlf=$(peak_kb "$W/sk/conf/clam.conf" "$W/msg/bigcrlf.eml")
cr=$(peak_kb "$W/sk/conf/clam.conf" "$W/msg/bigcr.eml")
[ "$crlf" -gt 0 ] && [ $((cr - crlf)) -lt $((size_kb / 2)) ]
ok $? "16 MB with bare CRs, clamav: peak RSS $cr KiB, with CRLF $crlf KiB (< +$((size_kb / 2)))"
CONF=$W/sk/conf/clam.conf offline "$W/msg/bigcr.eml"
is "$OFF" accept "16 MB with bare CRs, clamav: both readings scanned, clean"
rm -f "$W/msg/big.eml" "$W/msg/bigcr.eml" "$W/msg/bigcrlf.eml" "$W/msg/catparts.eml"
empty
ok $? "memory cases: nothing left in the spool or libclamav's tmpdir"

# --- every corpus file through both paths; a file with a header field
# over 64 KiB cannot pass libmilter (see above) and is counted with
# sinkd -t's verdict
n=0 bad=0 dropped=0
declare -A c_off c_on
while IFS= read -r f; do
	n=$((n + 1))
	offline "$TOP/t/$f"
	online "$TOP/t/$f"
	if [ "$ON" = dropped ]; then
		dropped=$((dropped + 1))
		diag "$f: a header field over 64 KiB: the connection was dropped"
		ON=$OFF
	elif [ "$OFF" != "$ON" ]; then
		bad=$((bad + 1))
		diag "$f:" "  sinkd -t: $OFF" "  daemon:   $ON"
	fi
	c_off[${OFF%% *}]=$((${c_off[${OFF%% *}]:-0} + 1))
	c_on[${ON%% *}]=$((${c_on[${ON%% *}]:-0} + 1))
done < <(cd "$TOP/t" && find corpus -type f ! -name 'MANIFEST*' ! -path 'corpus/clamav/sigs/*' | sort)
[ "$n" -ge 700 ]
ok $? "the whole corpus was run ($n files)"
is "$bad" 0 "corpus: each file gets the same verdict through the daemon as from sinkd -t"
counts() {
	local -n c=$1
	local k

	for k in $(printf '%s\n' "${!c[@]}" | sort); do printf '%s=%s ' "$k" "${c[$k]}"; done
}
diag "corpus verdicts: $(counts c_off)($dropped dropped by libmilter)"
is "$(counts c_on)" "$(counts c_off)" "corpus: the same count of each verdict"
empty
ok $? "corpus: nothing left in the spool or libclamav's tmpdir"

# --- the daemon: still up, stops cleanly, nothing in flight, no reports
kill -0 "$SK_PID" 2>/dev/null
ok $? "sinkd survived it all"
sk_stop
ok $? "sinkd stops on SIGTERM"
unlike "$(sk_log)" "in flight" "no message was left in flight"
sk_log_clean
ok $? "no sanitizer report in sinkd's log"
done_testing
