#!/bin/bash
# sink-dkim.t - a sink's edits under dkim-signed = skip, through sinkd -t
#
# The probe sink (t/sinks/probe.c) makes the edits its keys ask for and
# notes what each call answered; a Lua sink reads the dkim.held fact.  An
# edit that would break a DKIM signature that verified (a field its h=
# names, the body it signs) is refused as a handler's is: the call
# answers -1, the change is not made, the log line notes
# sink:NAME=dkim-skip:CALL, X-Sinkd-DKIM-Skip names it, and dkimpy
# (t/lib/dkimcheck.py) still verifies the signature.  Edits the
# signature does not cover go ahead, and under dkim-signed = ignore
# every edit does.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
SINKS=$PWD/sinks
PY=/usr/bin/python3	# Debian's, with python3-dkim
DK="$PY $PWD/lib/dkimcheck.py"
[ -f "$SINKS/probe.so" ] || bail_out "no $SINKS/probe.so: run make tests"
$PY -c 'import dkim' 2>/dev/null || bail_out "python3-dkim is not installed (./bootstrap test installs it)"
W=$(workdir sink-dkim) || bail_out "mktemp failed"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/spool"
$DK genkey "$W" sel example.com || bail_out "cannot make a test key"

# conf SIGNED [LINES...]: dkim, then sink:probe with the keys LINES
conf() {
	local signed=$1
	shift
	{
		printf '[sinkd]\nchain = dkim, sink:probe\nspool-dir = %s\n' "$W/spool"
		printf '[dkim]\ndkim-keys-file = %s\ndkim-signed = %s\n' "$W/keys" "$signed"
		printf '[sink:probe]\nmodule = %s\n' "$SINKS/probe.so"
		printf '%s\n' "$@"
	} >"$W/sinkd.conf"
}

# t MSG: sinkd -t; OUT the result, V the verdict line
t() {
	"$SINKD" -t -c "$W/sinkd.conf" -F a@example.com -R b@example.net \
		-C 192.0.2.10,mx.example.org <"$1" >"$W/out" 2>"$W/err"
	RC=$?
	OUT=$(cat "$W/out")
	V=$(grep '^verdict=' "$W/err")
}

# note KEY: the value of " KEY=" on the verdict line (the last one)
note() {
	tr ' ' '\n' <<<"$V" | sed -n "s/^$1=//p" | tail -n 1
}

verifies() {
	$DK verify "$W/keys" <"$W/out"
}

plain() {
	printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: hello\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@example.com>\r\n\r\nHello,\r\nthe report is attached.\r\n' "$RANDOM"
}
plain | $DK sign "$W" sel example.com from,to,subject,date >"$W/signed.eml"
plain | $DK sign "$W" sel example.com from,to,subject,date l >"$W/len.eml"
{
	printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: parts\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
	printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello,\r\nsee the file.\r\n'
	printf -- '--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a.bin"\r\n\r\nAAAA\r\n--b1--\r\n'
} | $DK sign "$W" sel example.com from,to,subject,content-type >"$W/multi.eml"
printf 'a note\n' >"$W/note.txt"

# --- header edits: a field h= names is held back, others go ahead ---
conf skip "add-header = Subject: added" "change-header = Date: Fri, 4 Dec 2026 10:00:00 +0000" \
	"insert-header = To: c@example.net"
t "$W/signed.eml"
is "$RC" 0 "skip: sinkd -t accepts"
is "$(note sink.probe.add-header)" -1 "add-header of a field h= names (Subject): -1"
is "$(note sink.probe.change-header)" -1 "change-header of a field h= names (Date): -1"
is "$(note sink.probe.insert-header)" -1 "insert-header of a field h= names (To): -1"
unlike "$OUT" 'Subject: added|c@example.net|Fri, 4 Dec' "  none of them is made"
like "$V" ' sink:probe=dkim-skip:add-header( |$)' "the log line says why: sink:probe=dkim-skip:add-header"
like "$V" ' sink:probe=dkim-skip:change-header( |$)' "  and change-header"
like "$V" ' dkim.skipped=3( |$)' "  and counts the changes held back"
like "$OUT" 'X-Sinkd-DKIM-Skip: sink:probe Subject \(signed by d=example.com s=sel\); sink:probe Date \(signed by d=example.com s=sel\); sink:probe To \(signed by d=example.com s=sel\)' \
	"X-Sinkd-DKIM-Skip names each, with the signature"
is "$(verifies)" pass "the signature still verifies (dkimpy)"

conf skip "add-header = X-Probe: yes" "change-header = Message-ID:"
t "$W/signed.eml"
is "$(note sink.probe.add-header)" 0 "add-header of a field h= does not name: 0"
is "$(note sink.probe.change-header)" 0 "delete-header of a field h= does not name (Message-ID): 0"
like "$OUT" 'X-Probe: yes' "  the field is added"
unlike "$OUT" 'Message-ID:' "  the other deleted"
unlike "$OUT" 'X-Sinkd-DKIM-Skip' "  nothing held back"
is "$(verifies)" pass "  the signature verifies (dkimpy)"

# --- body edits ---
conf skip "append = appended by the probe"
t "$W/signed.eml"
is "$(note sink.probe.append)" -1 "text_append under a signature over the whole body: -1"
unlike "$OUT" 'appended by the probe' "  the body is left alone"
like "$V" ' sink:probe=dkim-skip:append-text( |$)' "  the log line says why"
is "$(verifies)" pass "  the signature verifies (dkimpy)"
t "$W/len.eml"
is "$(note sink.probe.append)" 0 "text_append after a body signed with l=: 0 (an append)"
like "$OUT" 'appended by the probe' "  the text is there"
is "$(verifies)" pass "  and the signature verifies (dkimpy)"

conf skip "replace = new content" "remove = removed" "attach = $W/note.txt"
t "$W/multi.eml"
is "$(note sink.probe.replace)" -1 "part_replace under the signature: -1"
is "$(note sink.probe.remove)" -1 "part_remove: -1"
is "$(note sink.probe.attach)" -1 "part_add: -1"
unlike "$OUT" 'new content|removed|probe.txt' "  the body is as received"
is "$(verifies)" pass "  the signature verifies (dkimpy)"

# --- evaluate = yes: nothing is made, the call answers 0 as before ---
conf skip "add-header = Subject: added" "evaluate = yes"
t "$W/signed.eml"
is "$(note sink.probe.add-header)" 0 "evaluate = yes: 0, nothing made"
unlike "$OUT" 'Subject: added|X-Sinkd-DKIM-Skip' "  and nothing held back"

# --- ignore: every edit is made ---
conf ignore "add-header = Subject: added" "append = appended by the probe"
t "$W/signed.eml"
is "$(note sink.probe.add-header)/$(note sink.probe.append)" 0/0 "ignore: the edits answer 0"
like "$OUT" 'Subject: added' "  the field is added"
like "$OUT" 'appended by the probe' "  the text appended"
is "$(verifies)" fail "  and the signature no longer verifies (dkimpy), as documented"

# --- a failing signature holds nothing back ---
sed 's/the report/THE report/' "$W/signed.eml" >"$W/broken.eml"
conf skip "add-header = Subject: added"
t "$W/broken.eml"
is "$(note sink.probe.add-header)" 0 "skip, a signature that fails: add-header 0"

# --- the dkim.held fact, read by a Lua sink after a refused call ---
if grep -q '^WITH_LUA = yes' ../config.mk 2>/dev/null; then
	cat >"$W/held.lua" <<'LUA'
return {
    name = "held",
    eom = function(ctx)
        ctx:note("before", ctx:get("dkim.held") or "-")
        ctx:note("subject", tostring(ctx:header_add("Subject", "from lua")))
        ctx:note("seen", ctx:get("dkim.held") or "-")
    end,
}
LUA
	{
		printf '[sinkd]\nchain = dkim, sink:held\nspool-dir = %s\n' "$W/spool"
		printf '[dkim]\ndkim-keys-file = %s\ndkim-signed = skip\n' "$W/keys"
		printf '[sink:held]\nscript = %s\n' "$W/held.lua"
	} >"$W/sinkd.conf"
	t "$W/signed.eml"
	is "$(note sink.held.before)" - "Lua: no dkim.held before a refusal"
	is "$(note sink.held.subject)" false "Lua: header_add of Subject answers false"
	is "$(note sink.held.seen)" "sink:held_Subject_(signed_by_d=example.com_s=sel)" \
		"Lua: dkim.held names the change held back"
	unlike "$OUT" 'from lua' "  the field is not added"
else
	ok 0 "# SKIP sinkd is built without Lua"
fi

done_testing
