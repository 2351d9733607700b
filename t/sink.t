#!/bin/bash
# sink.t - native sinks through sinkd -n and sinkd -t
#
# The test sinks of t/sinks/ (built by make tests against include/ only):
# probe does what its keys ask at every hook and notes what sinkd's calls
# answered (sink.probe.KEY on the verdict line); mark notes mark=set at
# end of message; badabi is built for another ABI; abi10 as a module
# built for ABI 1.0 is (a shorter struct sinkd_sink); badkeys declares keys
# sinkd must refuse.  Checked: configuration errors with file:line, each
# hook's verdicts and replies, per-recipient refusals, what the reading
# calls see, the calls that must be refused (CR/LF in replies and header
# values), evaluate mode, a hook past its timeout, envelope and body
# edits, a signed part left alone, a footer (ABI 1.2) where the
# disclaimer would put its text, once per thread, and a sink's header
# change beside the disclaimer with every other byte kept.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
SINKS=$PWD/sinks
for s in probe mark badabi badkeys abi10; do
	[ -f "$SINKS/$s.so" ] || bail_out "no $SINKS/$s.so: run make tests"
done
W=$(workdir sink)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/domains" "$W/spool"

# conf CHAIN [LINES...]: sinkd.conf with chain CHAIN, the disclaimer's
# templates, mark as sink:first and probe as sink:probe, then LINES
# (keys of [sink:probe] unless a group line comes first)
conf() {
	local chain=$1
	shift
	cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = $chain
spool-dir = $W/spool
domains-dir = $W/domains
internal-hosts = 10.255.0.0/16
[disclaimer]
text-file = $PWD/disclaimer/text.tmpl
html-file = $PWD/disclaimer/html.tmpl
[sink:first]
module = $SINKS/mark.so
[sink:probe]
module = $SINKS/probe.so
CONF
	printf '%s\n' "$@" >> "$W/sinkd.conf"
}

# t MSG ARGS...: sinkd -t on MSG; OUT the result, ERR standard error,
# V the verdict line
t() {
	local msg=$1
	shift
	"$SINKD" -t -c "$W/sinkd.conf" "$@" <"$msg" >"$W/out" 2>"$W/err"
	RC=$?
	ERR=$(cat "$W/err")
	V=$(grep '^verdict=' "$W/err")
}

# note KEY: the value of " KEY=" on the verdict line
note() { tr ' ' '\n' <<<"$V" | sed -n "s/^$1=//p" | head -n 1; }

# check: sinkd -n's output (paths made relative to $W) and status
check() { "$SINKD" -n -c "$W/sinkd.conf" 2>&1 | sed "s|$W/||g"; echo "exit ${PIPESTATUS[0]}"; }

cat > "$W/plain.eml" <<'EOF'
From: a@example.com
To: b@example.org
Subject: =?UTF-8?B?SGVsbG8gd8O2cmxk?=
Message-ID: <plain@example.com>

hello body
EOF
cat > "$W/mixed.eml" <<'EOF'
From: a@example.com
To: b@example.org
Subject: original
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"
X-Keep:   spacing   kept

--XX
Content-Type: text/plain; charset=us-ascii

Body text here.
--XX
Content-Type: application/octet-stream; name="a.bin"
Content-Disposition: attachment; filename="a.bin"
Content-Transfer-Encoding: base64

AAECAwQ=
--XX--
EOF
cat > "$W/alt.eml" <<'EOF'
From: a@example.com
To: b@example.org
Subject: both forms
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="AA"

--AA
Content-Type: text/plain; charset=us-ascii

Plain form.
--AA
Content-Type: text/html; charset=us-ascii

<html><body><p>HTML form.</p></body></html>
--AA--
EOF
cat > "$W/signed.eml" <<'EOF'
From: a@example.com
To: b@example.org
Subject: signed
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha256; boundary="SS"

--SS
Content-Type: text/plain; charset=us-ascii

Signed text.
--SS
Content-Type: application/pgp-signature; name="signature.asc"

-----BEGIN PGP SIGNATURE-----
AAAA
-----END PGP SIGNATURE-----
--SS--
EOF
OUTB="-F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com"

# --- configuration ------------------------------------------------------

conf "protocol, sink:first, sink:probe"
is "$(check)" "configuration OK
exit 0" "sinkd -n accepts two native sinks"

cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = protocol, sink:abi, sink:gone, sink:keys, sink:nogroup, sink:both, sink:p
spool-dir = $W/spool
domains-dir = $W/domains

[sink:abi]
module = $SINKS/badabi.so

[sink:gone]
module = $W/no-such.so

[sink:keys]
module = $SINKS/badkeys.so

[sink:both]
module = $SINKS/probe.so
script = x.lua

[sink:p]
module = $SINKS/probe.so
level = many
no-such-key = 1
evaluate = perhaps
CONF
cat > "$W/domains/example.org.conf" <<CONF
[sink:p]
level = 1
module = $SINKS/probe.so
CONF
got=$(check)
like "$got" "sinkd.conf:7: module: [^ ]*badabi.so: built for sink ABI 2.0; this sinkd has 1.3" \
	"an ABI mismatch is an error at the module line"
like "$got" "sinkd.conf:10: module: [^ ]*no-such.so: cannot open shared object file" \
	"a missing module is an error at the module line"
like "$got" "sinkd.conf:13: module: key \"timeout\": a name sinkd gives every sink" \
	"a sink may not declare a key sinkd gives every sink"
like "$got" "sinkd.conf:13: module: key \"Bad_Name\": not a key name" \
	"  nor a key name that is no key name"
like "$got" "sinkd.conf:13: module: key \"count\": merge rule does not fit the type" \
	"  nor a merge rule that does not fit its key's type"
like "$got" "sinkd.conf:13: module: key \"size\": default \"big\": " \
	"  nor a default that is not of its key's type"
like "$got" "sinkd.conf:2: chain: sink:nogroup: no group \[sink:nogroup\]" \
	"a chain entry without its group is an error"
like "$got" "sinkd.conf:15: \[sink:both\]: needs exactly one of module, script, command and socket" \
	"module and script together are an error"
like "$got" "sinkd.conf:21: level: not a number" "a sink's own key is checked with file:line"
like "$got" "sinkd.conf:22: no-such-key: unknown key in \[sink:p\]" "an undeclared key is an error"
like "$got" "sinkd.conf:23: evaluate: " "the base keys are checked too"
like "$got" "domains/example.org.conf:3: module: cannot be set per domain" \
	"module is not a per-domain key"
like "$got" "exit 1\$" "  and the configuration does not load"
rm -f "$W/domains/example.org.conf"

install -m 666 "$SINKS/probe.so" "$W/open.so"
conf "protocol, sink:open"
printf '[sink:open]\nmodule = %s\n' "$W/open.so" >> "$W/sinkd.conf"
like "$(check)" "sinkd.conf:[0-9]+: module: .*open.so.*exit 1\$" "a module others may write is refused"

conf "protocol, sink:probe" "level = -1"
like "$(check)" "^sinkd.conf:[0-9]+: level: -1: refusing to start.*exit 1\$" "a sink whose init fails stops the configuration, its error at the key's line"

# --- hooks and verdicts -------------------------------------------------

for step in connect helo mail rcpt data eom; do
	conf "protocol, sink:probe" "verdicts = $step=reject" "reply = 551 5.7.2 refused at $step"
	t "$W/plain.eml" $OUTB
	like "$V" "^verdict=reject code=551 xcode=5.7.2 handler=sink:probe text=\"refused at $step\"" \
		"$step hook: reject with the sink's reply"
done
conf "protocol, sink:probe" "verdicts = eom=tempfail"
t "$W/plain.eml" $OUTB
like "$V" '^verdict=tempfail code=451 xcode=4.7.1 handler=sink:probe text="temporarily rejected by sink:probe"' \
	"tempfail without a reply: the default one"
conf "protocol, sink:probe" "verdicts = eom=tempfail" "reply = 550 5.7.1 wrong class"
t "$W/plain.eml" $OUTB
like "$V" '^verdict=tempfail code=451 ' "a reply whose class does not fit the verdict is not given"
conf "protocol, sink:probe" "verdicts = mail=discard"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=discard handler=sink:probe" "mail hook: discard"
conf "protocol, sink:probe" "verdicts = eom=quarantine"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=quarantine handler=sink:probe" "eom hook: quarantine"
conf "protocol, sink:probe, disclaimer" "verdicts = mail=accept"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=accept edits=0 " "accept skips the rest of the chain (no disclaimer)"
conf "protocol, sink:probe" "verdicts = connect=quarantine"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=tempfail code=451 xcode=4.3.0 handler=sink:probe" \
	"a verdict not possible at its step is the sink's failure: on-error"
conf "protocol, sink:probe" "verdicts = eom=bogus"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=tempfail code=451 xcode=4.3.0 handler=sink:probe" "no verdict at all: on-error"
like "$ERR" "eom hook returned 99, which is no verdict" "  logged"
conf "protocol, sink:probe" "verdicts = eom=error" "on-error = reject"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=reject code=550 xcode=5.3.0 handler=sink:probe" "error: on-error = reject"
conf "protocol, sink:probe" "verdicts = eom=error" "on-error = accept" "add-header = X-Lost: yes"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=accept edits=0 " "error: on-error = accept, and the failed hook's edits are dropped"

conf "protocol, sink:probe" "refuse-rcpt = bad@example.org"
t "$W/plain.eml" -F a@example.com -R good@example.org -R bad@example.org
like "$V" "^verdict=accept edits=0 rcpts-rejected=1 from=<a@example.com> rcpts=<good@example.org> " \
	"rcpt hook: a verdict for one recipient only"

# --- reading ------------------------------------------------------------

conf "protocol, sink:first, sink:probe" "report = yes" "tags = x, y"
t "$W/plain.eml" $OUTB
is "$(note sink.probe.sender)" a@example.com "get(sender)"
is "$(note sink.probe.client)" 10.255.0.1 "get(client.addr)"
is "$(note sink.probe.helo)" pc.example.com "get(helo)"
is "$(note sink.probe.direction)" outbound "get(direction)"
is "$(note sink.probe.queue)" OFFLINE "get(queue-id)"
is "$(note sink.probe.nrcpt)" 1 "get(rcpt-count)"
is "$(note sink.probe.rcpt0)" b@example.org "rcpt(0)"
is "$(note sink.probe.earlier)" set "get() sees an earlier sink's note (sink.first.mark)"
is "$(note sink.probe.kv)" a@example.com "kv_set() at mail, kv_get() at eom"
is "$(note sink.probe.kv-eom)" yes "kv at eom"
is "$(note sink.probe.level)" 3 "config(): a declared key's default"
is "$(note sink.probe.tag1)" y "config_list(): a list's entry"
is "$(note sink.probe.unknown-key)" null "config() of an undeclared key: NULL"
is "$(note sink.probe.subject)" "Hello_w__rld" "header_get(): decoded (RFC 2047, UTF-8; the note makes it one word)"
is "$(note sink.probe.header0)" "From=a@example.com" "header(0): name and raw value"
is "$(note sink.probe.parts)" "0:text/plain:0:20" "part_info(): a one-part message"
is "$(note sink.probe.text)" "hello_body||" "part_content(): the text"
is "$(note sink.probe.raw)" "$(sed 's/$/\r/' "$W/plain.eml" | wc -c)" "raw(): the message as received, CRLF"
is "$(note sink.probe.dry-run)" yes "get(dry-run) under sinkd -t"
is "$(note sink.probe.macro-i)" OFFLINE "get(macro.i): the MTA's macro (sinkd -t's queue id)"
is "$(note sink.probe.no-fact)" null "get() of an unknown fact: NULL"
is "$(note sink.probe.header-past)" -1 "header() past the end: -1"
t "$W/mixed.eml" $OUTB
is "$(note sink.probe.parts)" "0:multipart/mixed:0:1,1:text/plain:0:20,2:application/octet-stream:0:10:a.bin" \
	"part_info(): containers, text and attachments with their file names"

# policies per domain, combined by the merge rules the sink declared
printf '[sink:probe]\nlevel = 5\ntags = a, b, c\n' >"$W/domains/a.test.conf"
printf '[sink:probe]\nlevel = 2\ntags = b, c\n' >"$W/domains/b.test.conf"
printf '[sink:probe]\nreply = 550 5.7.1 other\n' >"$W/domains/c.test.conf"
conf "protocol, sink:probe" "report = yes"
t "$W/plain.eml" -C 192.0.2.1 -F x@out.example -R u@a.test -R v@b.test -R w@c.test
like "$V" " deferred=<w@c.test>:452:4.5.3 .*rcpts=<u@a.test>,<v@b.test> " \
	"a domain that differs on an agree key of the sink's is deferred at RCPT"
is "$(note sink.probe.policy)/$(note sink.probe.level)/$(note sink.probe.tag1)" "a.test,b.test/2/c" \
	"  the others combine: min of an int key, the entries common to a list key"
rm -f "$W"/domains/*.conf

# --- what must be refused -----------------------------------------------

conf "protocol, sink:probe" "hostile = yes"
t "$W/plain.eml" $OUTB
is "$(note sink.probe.reply-crlf)" -1 "reply() with CR/LF in the text: -1"
is "$(note sink.probe.reply-class)" -1 "reply() whose codes' classes differ: -1"
is "$(note sink.probe.header-lf)" -1 "header_add() with a bare LF: -1"
is "$(note sink.probe.header-cr)" -1 "header_add() with a bare CR: -1"
is "$(note sink.probe.header-name)" -1 "header_add() with a colon in the name: -1"
is "$(note sink.probe.header-fold)" 0 "header_add() with a fold (CRLF, blank): 0"
is "$(note sink.probe.rcpt-crlf)" -1 "rcpt_add() with CR/LF: -1"
is "$(note sink.probe.part-range)" -1 "part_info() out of range: -1"
is "$(note sink.probe.note-key)" -1 "note() with a space in the key: -1"
is "$(note sink.probe.footer-utf8)/$(note sink.probe.footer-html-utf8)" -1/-1 \
	"footer() with text or HTML that is not UTF-8: -1"
is "$(note sink.probe.footer-null)" -1 "footer() without a text: -1"
is "$(note sink.probe.footer-data)" -1 "footer() before end of message: -1"
unlike "$(cat "$W/out")" 'footer' "  none of them reaches the message"
is "$(grep -ci '^injected' "$W/out")" 0 "  nothing injected"

# --- direction ------------------------------------------------------------

conf "protocol, sink:probe" "direction = inbound" "verdicts = rcpt=reject, eom=reject"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=accept .*direction=outbound" "direction = inbound: outbound mail does not reach the sink"
t "$W/plain.eml" -F a@example.net -R b@example.org -C 192.0.2.1,mx.example.net
like "$V" "^verdict=reject .*handler=sink:probe" "  inbound mail does"
conf "protocol, sink:probe" "direction = outbound" "verdicts = eom=reject"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=reject .*handler=sink:probe" "direction = outbound: outbound mail reaches the sink"
t "$W/plain.eml" -F a@example.net -R b@example.org -C 192.0.2.1,mx.example.net
like "$V" "^verdict=accept " "  inbound mail does not"

# --- evaluate -------------------------------------------------------------

conf "protocol, sink:probe" "evaluate = yes" "verdicts = rcpt=reject, eom=reject" "add-header = X-Probe: yes"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=accept edits=0 .*rcpts=<b@example.org>" "evaluate: the refusals are not given"
cmp -s "$W/plain.eml" "$W/out"
ok $? "  and the message is passed unchanged"
like "$V" "sink:probe=evaluate:add-header" "  the edit it would make is noted"
like "$V" "sink:probe=evaluate:reject.*sink:probe=evaluate:reject" "  and the verdicts it would give"
like "$ERR" "sink:probe: evaluate: eom hook would give reject" "  which sinkd -t logs too"

# --- the watchdog ---------------------------------------------------------

conf "protocol, sink:probe" "sleep = 2" "timeout = 1" "add-header = X-Late: yes"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=tempfail code=451 xcode=4.3.0 handler=sink:probe" "a hook past its timeout: on-error"
like "$ERR" "sink:probe: eom hook (still running|ran) past its timeout of 1s" "  logged"
conf "protocol, sink:probe" "sleep = 2" "timeout = 1" "add-header = X-Late: yes" "on-error = accept"
t "$W/plain.eml" $OUTB
like "$V" "^verdict=accept edits=0 " "  on-error = accept: passed, without the late hook's edits"

# --- edits ----------------------------------------------------------------

conf "protocol, sink:probe" "add-rcpt = new@example.net" "del-rcpt = b@example.org" "sender = bounce@example.com"
t "$W/plain.eml" $OUTB
like "$V" "from=<bounce@example.com> rcpts=<new@example.net> " "envelope edits"

conf "protocol, sink:probe" "append = Scanned by probe." "remove = attachment removed" \
	"attach = $W/att.txt"
echo "attached content" > "$W/att.txt"
t "$W/mixed.eml" $OUTB
is "$(note sink.probe.append)/$(note sink.probe.remove)/$(note sink.probe.attach)" 0/0/0 \
	"text_append(), part_remove(), part_add(): 0"
got=$(python3 - "$W/out" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
out = []
for p in m.walk():
    if p.is_multipart():
        out.append(p.get_content_type())
        continue
    body = p.get_payload(decode=True).decode()
    out.append("%s[%s]%s" % (p.get_content_type(), p.get_filename() or "", body.strip().replace("\n", "|")))
print(" ".join(out))
PY
)
is "$got" "multipart/mixed multipart/mixed text/plain[]Body text here.|Scanned by probe. text/plain[]attachment removed text/plain[probe.txt]attached content" \
	"  the text appended, the attachment replaced by the note, a part added"
w0=$(unit/mimewarn "$W/mixed.eml") w1=$(unit/mimewarn "$W/out")
is "$w1" "$w0" "  no new GMime parser warnings"

conf "protocol, sink:probe" "insert-header = X-First: 1" "change-header = X-Keep:" \
	"replace = new content"
t "$W/mixed.eml" $OUTB
is "$(note sink.probe.insert-header)/$(note sink.probe.change-header)/$(note sink.probe.replace)" 0/0/0 \
	"header_insert(), header_change() deleting, part_replace(): 0"
is "$(head -n 1 "$W/out")" "X-First: 1" "  the field is inserted first"
is "$(grep -c '^X-Keep:' "$W/out")" 0 "  the field is deleted"
got=$(python3 - "$W/out" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
p = [x for x in m.walk() if not x.is_multipart()][1]
print(p.get_content_type(), p.get_filename(), p.get_payload(decode=True).decode())
PY
)
is "$got" "text/plain replaced.txt new content" "  the attachment has its new type, name and content"

conf "protocol, sink:probe" "append = Scanned by probe." "report = yes"
t "$W/signed.eml" $OUTB
is "$(note sink.probe.append)" -1 "text_append() inside multipart/signed: -1"
like "$(note sink.probe.parts)" "^0:multipart/signed:0:[0-9a-f]*[4-7]," "  part_info() flags it signed"
cmp -s "$W/signed.eml" "$W/out"
ok $? "  and the signed message is unchanged"

# footer() (ABI 1.2): where and as the disclaimer puts its text, after
# every handler; signed mail wrapped and the outcome named; once per thread
FOOT="Sent through the probe list: https://lists.example.org/probe"
conf "protocol, sink:probe" "footer = $FOOT"
t "$W/plain.eml" $OUTB
is "$(note sink.probe.footer)" 0 "footer(): 0"
like "$V" " footer=added" "  the verdict line names the footer's outcome"
is "$(sed -n '/^$/,$p' "$W/out")" "
hello body

$FOOT" "  a text/plain body: the footer after its text and an empty line"
t "$W/alt.eml" $OUTB
like "$(cat "$W/out")" $'\nPlain form\\.\n\nSent through the probe list: https://lists\\.example\\.org/probe\n' \
	"  multipart/alternative: after the text of the plain alternative"
like "$(cat "$W/out")" $'<p>HTML form\\.</p><p>Sent through the probe list: https://lists\\.example\\.org/probe</p>\n</body>' \
	"  and, escaped in a paragraph, before </body> of the HTML one"
is "$(grep -c 'probe list' "$W/out")" 2 "  once in each"
conf "protocol, sink:probe" "footer = $FOOT" 'footer-html = <p class="f">The <b>probe</b> list</p>'
t "$W/alt.eml" $OUTB
like "$(cat "$W/out")" $'<p>HTML form\\.</p><p class="f">The <b>probe</b> list</p>\n</body>' \
	"  its HTML form, when given, goes into the HTML alternative as it is"
like "$(cat "$W/out")" $'\nPlain form\\.\n\nSent through the probe list' "  and the text into the plain one"
conf "protocol, sink:probe" "footer = $FOOT"
SIGNED=corpus/thunderbird/smime/alice.dsig.SHA256.multipart.eml
t "$SIGNED" $OUTB
is "$(note sink.probe.footer)" 0 "footer() on S/MIME signed mail: 0"
is "$(grep '^X-Sinkd-Footer:' "$W/out" | tr -d '\r')" "X-Sinkd-Footer: wrapped (signed)" \
	"  the message is wrapped (signed = wrap) and an X-Sinkd-Footer field says so"
like "$V" " footer=wrapped" "  as the verdict line does"
like "$V" "changed=sink:probe:\\+X-Sinkd-Footer," "  the field credited to the sink that asked for the footer"
cmp -s <(python3 lib/entity.py "$W/out" 0 | tr -d '\r') <(python3 lib/content.py "$SIGNED" | tr -d '\r')
ok $? "  its signed entity kept byte for byte as the first part"
like "$(python3 lib/entity.py "$W/out" 1)" "$FOOT" "  the footer in the part after it"
for f in "$W/plain.eml" "$W/alt.eml" "$SIGNED"; do
	t "$f" $OUTB
	cp "$W/out" "$W/pass1"
	t "$W/pass1" $OUTB
	like "$V" '^verdict=accept edits=0 .* changed=no ' "${f##*/}: a second pass over the output adds no second footer"
	cmp -s "$W/pass1" "$W/out"
	ok $? "  and leaves it byte-identical"
done
conf "protocol, sink:probe" "footer = $FOOT" "evaluate = yes"
t "$W/alt.eml" $OUTB
like "$ERR" "sink:probe: evaluate: would footer" "evaluate: footer() logs what it would do"
like "$V" "sink:probe=evaluate:footer" "  and notes it"
cmp -s "$W/alt.eml" "$W/out"
ok $? "  and changes nothing"

# wrap() (ABI 1.3): the message whole inside a new one; header edits after
# the call are the new message's, body edits go inside
conf "protocol, sink:probe" "wrap = Sent through the probe list." "change-header = From: The probe list <probe@example.org>"
t "$W/plain.eml" $OUTB
is "$(note sink.probe.wrap)" 0 "wrap(): 0"
is "$(note sink.probe.wrap-again)" -1 "  a second wrap(): -1"
got=$(python3 - "$W/out" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
print(m["From"], "|", " ".join(p.get_content_type() for p in m.walk()))
PY
)
is "$got" "The probe list <probe@example.org> | multipart/mixed message/rfc822 text/plain text/plain" \
	"  the new message: the list's From, the message and the text after it"
cmp -s <(python3 lib/entity.py "$W/out" 0 | sed '1,/^\r\?$/d' | tr -d '\r') <(cat "$W/plain.eml")
ok $? "  the wrapped message is the original, byte for byte, its From unchanged"
like "$(python3 lib/entity.py "$W/out" 1)" "Sent through the probe list\\." "  the text in the part after it"
is "$(grep -c '^Message-ID: <plain@example.com>' "$W/out")" 2 "  the new message keeps the other fields (and the wrapped one has them)"
conf "protocol, sink:probe" "wrap = -" "append = Appended after the wrap." "add-header = X-Outer: yes"
t "$W/plain.eml" $OUTB
got=$(python3 - "$W/out" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
inner = m.get_payload(0).get_payload(0)
print(" ".join(p.get_content_type() for p in m.walk()), "|", m["X-Outer"], inner["X-Outer"],
      "|", inner.get_payload().strip().replace("\n", " "))
PY
)
is "$got" "multipart/mixed message/rfc822 text/plain | yes None | hello body Appended after the wrap." \
	"wrap() with no text: a body edit after it goes inside, a header edit outside"
conf "protocol, sink:probe" "wrap = -" "attach = $W/att.txt"
printf 'an attachment\n' >"$W/att.txt"
t "$W/plain.eml" $OUTB
got=$(python3 - "$W/out" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
print(" ".join("%s%s" % (p.get_content_type(), "[%s]" % p.get_filename() if p.get_filename() else "")
               for p in m.walk()))
PY
)
is "$got" "multipart/mixed multipart/mixed message/rfc822 text/plain text/plain[probe.txt]" \
	"  a part added after the wrap goes beside the wrapped message: neither is lost"
conf "protocol, sink:probe" "wrap = -"
SIGNED_ALT=corpus/thunderbird/smime/alice.dsig.SHA256.multipart.eml
t "$SIGNED_ALT" $OUTB
is "$(note sink.probe.wrap)" 0 "wrap() of S/MIME signed mail: 0"
cmp -s <(python3 lib/entity.py "$W/out" 0 | sed '1,/^\r\?$/d' | tr -d '\r') <(tr -d '\r' <"$SIGNED_ALT")
ok $? "  the signed message inside byte for byte"
# the disclaimer after a sink's wrap, told to strip signed mail: what it
# would make comes from the message before the wrap, so it wraps beside
conf "protocol, sink:probe, disclaimer" "wrap = -"
sed -i 's|^html-file = .*|&\nsigned = strip|' "$W/sinkd.conf"
t "$SIGNED_ALT" $OUTB
like "$V" " disclaimer=wrapped" "signed = strip after a sink's wrap: the disclaimer wraps instead"
is "$(grep '^X-Sinkd-Disclaimer:' "$W/out" | tr -d '\r')" "X-Sinkd-Disclaimer: wrapped (signed)" \
	"  and its field says so"
got=$(python3 - "$W/out" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
print(" ".join(p.get_content_type() for p in m.walk()))
PY
)
like "$got" "^multipart/mixed multipart/mixed message/rfc822 multipart/signed " \
	"  around the sink's wrap, which still holds the signed message"
cmp -s <(python3 lib/entity.py "$W/out" 0 | python3 lib/entity.py /dev/stdin 0 | sed '1,/^\r\?$/d' | tr -d '\r') \
	<(tr -d '\r' <"$SIGNED_ALT")
ok $? "  byte for byte"
conf "protocol, sink:probe, disclaimer" "attach = $W/att.txt"
sed -i 's|^html-file = .*|&\nsigned = strip|' "$W/sinkd.conf"
t "$SIGNED_ALT" $OUTB
like "$V" " disclaimer=wrapped" "signed = strip after a sink's added part: the disclaimer wraps instead"
got=$(python3 - "$W/out" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
print(" ".join(p.get_filename() or p.get_content_type() for p in m.walk()))
PY
)
like "$got" "^multipart/mixed multipart/mixed multipart/signed .* probe\.txt " "  around the sink's added part, which stays"
conf "protocol, sink:probe" "wrap = x" "evaluate = yes"
t "$W/plain.eml" $OUTB
like "$ERR" "sink:probe: evaluate: would wrap" "evaluate: wrap() logs what it would do"
cmp -s "$W/plain.eml" "$W/out"
ok $? "  and changes nothing"

# an attachment a sink adds and the disclaimer's wrap of a message with no
# text body: the wraps nest, neither is lost
printf 'From: a@example.com\nTo: b@example.org\nSubject: only a file\nMIME-Version: 1.0\nContent-Type: application/pdf; name="x.pdf"\nContent-Disposition: attachment; filename="x.pdf"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n' >"$W/att.eml"
conf "protocol, sink:probe, disclaimer" "attach = $W/att.txt"
t "$W/att.eml" $OUTB
got=$(python3 - "$W/out" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
print(" ".join("%s%s" % (p.get_content_type(), "[%s]" % p.get_filename() if p.get_filename() else "")
               for p in m.walk()))
PY
)
is "$got" "multipart/mixed multipart/mixed application/pdf[x.pdf] text/plain[probe.txt] multipart/alternative text/plain text/html" \
	"a sink's added part inside the disclaimer's wrap"
like "$V" "disclaimer=wrapped" "  the disclaimer wrapped"

# a header changed by a sink and the disclaimer in the same message: both
# there, every other byte as it came
conf "protocol, sink:probe, disclaimer" "change-header = Subject: changed by probe"
t "$W/mixed.eml" $OUTB
is "$(grep -c '^Subject: changed by probe$' "$W/out")" 1 "the sink's header change is there"
sed 's/${sender}/a@example.com/' disclaimer/text.tmpl > "$W/exp.txt"
added=$(diff <(sed 's/^Subject: changed by probe$/Subject: original/' "$W/out") "$W/mixed.eml" |
	grep -v '^[0-9]' | grep -v '^---$')
is "$(grep -c '^>' <<<"$added")" 0 "  no byte of the original is missing"
is "$(grep '^<' <<<"$added" | sed 's/^< //' | grep -v '^$')" "$(grep -v '^$' "$W/exp.txt")" \
	"  and what was added is the disclaimer, beside the change"

# a module built for ABI 1.0 (its struct ends at abort): it loads and
# runs, and sinkd reads nothing past what 1.0 has (no accepted hook: with
# an event target configured, sinkd looks for one)
conf "protocol, sink:old" '[sink:old]' "module = $SINKS/abi10.so" \
	'[event:hook]' 'type = webhook' 'url = http://127.0.0.1:9/'
is "$(check)" "configuration OK
exit 0" "a sink built for ABI 1.0 loads beside an event target"
t "$W/plain.eml"
is "$(note sink.old.old)" seen "  and its end-of-message hook runs"

done_testing
