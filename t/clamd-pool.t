#!/bin/bash
# clamd-pool.t - the clamd pool (milters/clamd.c) against real clamd servers
#
# Every clamd here loads only the test signatures (t/lib/clamd.sh cd_sigs).
# The driver t/unit/clamd_test prints one line per scan:
# STATUS<TAB>NAME<TAB>SERVER<TAB>MILLISECONDS.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/clamd.sh"

DRV=$TOP/t/unit/clamd_test
C=$TOP/t/corpus

[ "$(id -u)" -eq 0 ] || bail_out "needs root (the postfix user must reach the sockets); run it through ./bootstrap test"
[ -x "$CLAMD" ] || bail_out "clamd is missing (apt-get install clamav-daemon)"
command -v sigtool >/dev/null || bail_out "sigtool is missing (apt-get install clamav)"
command -v python3 >/dev/null || bail_out "python3 is missing"
id postfix >/dev/null 2>&1 || bail_out "no postfix user (apt-get install postfix)"
[ -x "$DRV" ] || bail_out "$DRV is not built (run make tests)"
W=$(workdir clamd-pool) || bail_out "cannot make a work directory"

cleanup() {
	local rc=$?
	exec 4>&- 5<&- 2>/dev/null
	cd_stop_all
	if [ "$rc" -eq 0 ] && [ "$TAP_FAILED" -eq 0 ]; then rm -rf "$W"; else diag "kept $W"; fi
}
trap cleanup EXIT

# scan [OPTIONS] SPECS FILE...: the driver's lines, its stderr in $W/drv.err
scan() { "$DRV" scan "$@" 2>>"$W/drv.err"; }
# field N LINE: the Nth tab-separated field
field() { printf '%s\n' "$2" | cut -f"$1"; }

cd_sigs "$W/db" || bail_out "cannot build the test signatures"
cd_start "$W" "$W/db" one || bail_out "clamd one did not start"
ONE=unix:$(cd_socket one)

# --- answers from one server
awk -F'\t' 'NR > 1 && $5 != "virus" && $5 != "other" { print "'"$C"'/" $1 }' \
	"$C/MANIFEST.tsv" > "$W/clean.list"
NCLEAN=$(wc -l < "$W/clean.list")
out=$(scan "$ONE" - < "$W/clean.list")
is "$(printf '%s\n' "$out" | cut -f1-3 | sort | uniq -c | sed 's/^ *//')" \
	"$NCLEAN CLEAN		$ONE" "all $NCLEAN clean corpus messages are CLEAN, answered by $ONE"

while IFS='|' read -r f want; do
	out=$(scan "$ONE" "$C/$f")
	is "$(field 1-3 "$out")" "$want" "$f: $want"
done <<EOF
clamav/clam.mail|VIRUS	ClamAV-Test-File.UNOFFICIAL	$ONE
clamav/clam.exe.mbox.base64|VIRUS	ClamAV-Test-File.UNOFFICIAL	$ONE
clamav/clam.mail-disposition-rfc2231-boundary.eml|VIRUS	ClamAV-Test-File.UNOFFICIAL	$ONE
constructed/eicar-zip-attachment.eml|VIRUS	eicar.com.UNOFFICIAL	$ONE
constructed/eicar-base64-attachment.eml|VIRUS	eicar.com.UNOFFICIAL	$ONE
docker-mailserver/amavis/virus.txt|VIRUS	eicar.com.UNOFFICIAL	$ONE
EOF

: > "$W/empty"
is "$(field 1-3 "$(scan "$ONE" "$W/empty")")" "CLEAN		$ONE" "an empty message is CLEAN"

# several chunks: a virus after 1 MiB of clean text
{ head -c 1048576 /dev/zero | tr '\0' 'a'; echo; cat "$C/clamav/clam.mail"; } > "$W/late-virus"
is "$(field 1-2 "$(scan "$ONE" "$W/late-virus")")" "VIRUS	ClamAV-Test-File.UNOFFICIAL" \
	"a virus after 1 MiB (17 chunks) is found"

# the postfix user runs copies in W: the checkout may be out of its reach
install -m 755 "$DRV" "$W/clamd_test" && install -m 644 "$C/clamav/clam.mail" "$W/clam.mail" ||
	bail_out "cannot copy the driver"
out=$(runuser -u postfix -- "$W/clamd_test" scan "$ONE" "$W/clam.mail" 2>&1)
is "$(field 1 "$out")" "VIRUS" "the postfix user can use the socket" || diag "$out"

# --- a second server over TCP too, with a small StreamMaxLength
PORT=$(cd_free_port) || bail_out "no free port"
V6=()
grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null && V6=("TCPAddr ::1")
cd_start "$W" "$W/db" two "TCPSocket $PORT" "TCPAddr 127.0.0.1" "${V6[@]}" "StreamMaxLength 64K" \
	|| bail_out "clamd two did not start"
TWO=unix:$(cd_socket two)
head -c 65536 /dev/zero > "$W/64k"
head -c 65537 /dev/zero > "$W/64k+1"
head -c 3000000 /dev/urandom > "$W/3m"
for spec in "$TWO" "tcp:127.0.0.1:$PORT" "tcp:localhost:$PORT"; do
	is "$(field 1-3 "$(scan "$spec" "$C/clamav/clam.mail")")" \
		"VIRUS	ClamAV-Test-File.UNOFFICIAL	$spec" "$spec: a virus"
	is "$(field 1-3 "$(scan "$spec" "$W/64k")")" "CLEAN		$spec" \
		"$spec: exactly StreamMaxLength is CLEAN"
	is "$(field 1-3 "$(scan "$spec" "$W/64k+1")")" "LIMIT	clamd StreamMaxLength	$spec" \
		"$spec: one byte more is LIMIT"
	out=$(scan "$spec" "$W/3m")
	is "$(field 1-3 "$out")" "LIMIT	clamd StreamMaxLength	$spec" \
		"$spec: 3 MB is LIMIT ($(field 4 "$out") ms: clamd closes, the reply is read)"
done
out=$(scan "tcp:[::1]:$PORT" "$C/clamav/clam.mail")
if [ "${#V6[@]}" -gt 0 ]; then
	is "$(field 1-3 "$out")" "VIRUS	ClamAV-Test-File.UNOFFICIAL	tcp:[::1]:$PORT" "tcp:[::1]: a virus"
else
	like "$(field 1-2 "$out")" "^ERROR	clamd tcp:\\[::1\\]:$PORT: connect: " "tcp:[::1] (no IPv6 loopback here): an error"
fi

# --- concurrency and round robin: 8 threads x 25 scans, two servers
out=$(scan -j 8 -n 25 "$ONE,$TWO" "$C/clamav/clam.mail")
is "$out" "100	VIRUS	ClamAV-Test-File.UNOFFICIAL	$ONE
100	VIRUS	ClamAV-Test-File.UNOFFICIAL	$TWO" "200 concurrent scans, half on each server"
out=$(scan -j 8 -n 25 "$TWO" "$W/3m")
is "$out" "200	LIMIT	clamd StreamMaxLength	$TWO" "200 concurrent scans over the limit"

# --- failover
cd_start "$W" "$W/db" three "AlertExceedsMax yes" "MaxFileSize 16K" "MaxScanSize 16K" \
	|| bail_out "clamd three did not start"
THREE=unix:$(cd_socket three)
head -c 20000 /dev/urandom > "$W/20k"
is "$(field 1-3 "$(scan "$THREE" "$W/20k")")" \
	"LIMIT	Heuristics.Limits.Exceeded.MaxFileSize	$THREE" \
	"clamd's AlertExceedsMax heuristic is a LIMIT, not a virus"
cd_kill three
out=$(scan "$THREE,$ONE" "$C/clamav/clam.mail" "$C/clamav/clam.mail" "$W/empty")
is "$(printf '%s\n' "$out" | cut -f1,3 | tr '\n' ' ')" "VIRUS	$ONE VIRUS	$ONE CLEAN	$ONE " \
	"first server killed: every scan answered by the second"
like "$(cat "$W/drv.err")" "clamd $THREE: connect: Connection refused; not used for" \
	"the dead server is reported once as down"

NONE=unix:$W/none.sock
DEADPORT=$(cd_free_port)
out=$(scan -c 1000 -i 1000 "$THREE,$NONE,tcp:127.0.0.1:$DEADPORT" "$C/clamav/clam.mail")
is "$(field 1 "$out")" "ERROR" "all servers down: ERROR"
like "$(field 2 "$out")" "^clamd (unix:|tcp:).*: connect: (Connection refused|No such file or directory)$" \
	"  naming the last failure: $(field 2 "$out")"
ok "$([ "$(field 4 "$out")" -lt 500 ]; echo $?)" "  at once ($(field 4 "$out") ms)"
is "$(field 3 "$out")" "" "  and no server"

# a server down (for 600 s) is still tried when all are down, so one that
# comes back is used at once
coproc DRVP { "$DRV" scan -r 600 "$THREE" - 2>>"$W/drv.err"; }
# as 4 and 5 (the coproc's own descriptors go when it ends)
exec 4>&"${DRVP[1]}" 5<&"${DRVP[0]}"
eval "exec ${DRVP[1]}>&- ${DRVP[0]}<&-"
echo "$C/clamav/clam.mail" >&4
read -r -t 30 out <&5
is "$(field 1 "$out")" "ERROR" "the only server is down: ERROR"
cd_start "$W" "$W/db" three || bail_out "clamd three did not restart"
echo "$C/clamav/clam.mail" >&4
read -r -t 30 out <&5
is "$(field 1-3 "$out")" "VIRUS	ClamAV-Test-File.UNOFFICIAL	$THREE" \
	"restarted: used again at once, though marked down"
exec 4>&- 5<&-
wait "$DRVP_PID" 2>/dev/null

# SIGTERM: clamd removes its socket and the next server answers
cd_stop three
is "$(field 1,3 "$(scan "$THREE,$TWO" "$W/empty")")" "CLEAN	$TWO" \
	"first server stopped: the second answers"

# --- a server that accepts and never answers
cd_hang_start "$W/hang" || bail_out "no hanging server"
HANG=unix:$W/hang/hang.sock
out=$(scan -c 1000 -i 1000 "$HANG" "$W/empty")
ms=$(field 4 "$out")
is "$(field 1-2 "$out")" "ERROR	clamd $HANG: no reply: timed out" "a hanging server: ERROR"
ok "$([ "$ms" -ge 900 ] && [ "$ms" -lt 2500 ]; echo $?)" "  after the io timeout ($ms ms, timeout 1000)"
out=$(scan -c 1000 -i 1000 "$HANG" "$W/3m")
ms=$(field 4 "$out")
is "$(field 1-2 "$out")" "ERROR	clamd $HANG: send: timed out" \
	"a hanging server that stops reading: ERROR while sending"
ok "$([ "$ms" -ge 900 ] && [ "$ms" -lt 2500 ]; echo $?)" "  after the io timeout ($ms ms)"

out=$(scan -c 1000 -i 1000 "$HANG,$ONE" "$C/clamav/clam.mail" "$C/clamav/clam.mail" \
	"$C/clamav/clam.mail")
is "$(printf '%s\n' "$out" | cut -f1,3 | tr '\n' ' ')" "VIRUS	$ONE VIRUS	$ONE VIRUS	$ONE " \
	"hanging first server: failover to the second"
set -- $(printf '%s\n' "$out" | cut -f4)
ok "$([ "$1" -ge 900 ] && [ "$1" -lt 2500 ]; echo $?)" "  the first scan waited the io timeout ($1 ms)"
ok "$([ "$2" -lt 500 ] && [ "$3" -lt 500 ]; echo $?)" \
	"  the next ones skip the server marked down ($2 ms, $3 ms)"
cd_hang_stop

grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$W/drv.err" && diag "$(cat "$W/drv.err")"
ok "$(! grep -q 'ERROR: [A-Za-z]*Sanitizer\|runtime error:' "$W/drv.err"; echo $?)" \
	"no sanitizer report"

done_testing
