#!/bin/bash
# shipped-sinks.t - the sinks sinkd ships (etc/sinks/, sinkd-sinks(7))
# through sinkd -n and sinkd -t
#
# display-name-spoof: an outside address with an internal person's display
# name is tagged (header, Subject prefix) for one domain and refused for
# another; quotes, blanks, case, RFC 2047 words, "Last, First", "via" and
# an internal address in the name do not hide it; the genuine sender, an
# unknown name, outbound mail and an internal-domains key give no hit.
# dlp: card numbers in plain text, with spaces and dashes, in a base64
# text attachment, in quoted-printable split by a soft line break, in
# HTML and the Subject are found; Luhn-invalid numbers, long order
# numbers, phone numbers and Luhn-valid numbers without an issuer prefix
# are not; words and Lua patterns are; reject, quarantine and tag, per
# domain, the header and the note masking the number.  attachhash: one
# header field per attachment whose digest is the SHA-256 of the decoded
# attachment computed here by Python, the message otherwise byte for byte
# the same, on built messages and on messages of t/corpus.
# ctx:config_file(), which the scripts read their lists with: its file,
# and nil with why for a key that is no path, a missing file, one others
# may write, one over 1 MiB.  And sinkd -n accepts etc/sinkd.conf with its commented
# examples of the three turned on.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
TOP=$(cd .. && pwd)
SINKD=${SINKD:-$TOP/src/sinkd}
SO=$TOP/etc/sinks/attachhash.so
[ -x "$SINKD" ] || bail_out "src/sinkd is not built (run make)"
[ -f "$SO" ] || bail_out "no etc/sinks/attachhash.so: run make tests"
W=$(workdir shipped-sinks) || bail_out "no work directory"
trap '[ -n "$KEEP" ] || rm -rf "$W"' EXIT
mkdir -p "$W/spool" "$W/domains" "$W/sinks"
cp "$TOP/etc/sinks/display-name-spoof.lua" "$TOP/etc/sinks/dlp.lua" "$W/sinks/"
cp "$SO" "$W/sinks/"
cp "$TOP/etc/sinks/internal-names.example" "$W/sinks/internal-names"

cat >"$W/sinkd.conf" <<EOF
[sinkd]
chain = protocol, sink:spoof, sink:dlp, sink:attachhash
spool-dir = $W/spool
domains-dir = domains
[sink:spoof]
script = sinks/display-name-spoof.lua
names = sinks/internal-names
subject-tag = [SPOOF?]
[sink:dlp]
script = sinks/dlp.lua
words = confidential, internal only
patterns = PRJ%-%d%d%d%d%f[%D]
[sink:attachhash]
module = sinks/attachhash.so
EOF
# a.test tags, b.test refuses; outbound: a.test tags, b.test quarantines,
# the default policy rejects
printf '[sink:spoof]\naction = tag\n[sink:dlp]\naction = tag\n' >"$W/domains/a.test.conf"
printf '[sink:spoof]\naction = reject\n[sink:dlp]\naction = quarantine\n' >"$W/domains/b.test.conf"
printf '[sink:spoof]\naction = tag\ninternal-domains = corp.test\n[sink:dlp]\naction = tag\ncard-prefixes = no\n' \
	>"$W/domains/c.test.conf"

out=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
ok $? "sinkd -n accepts the three shipped sinks" || diag "$out"

SANITIZER=0
# run FROM RCPT [CLIENT]: $W/msg through sinkd -t; OUT (the message
# written), V (the verdict line), LOG (the other lines of stderr: the
# sinks' log lines); CLIENT 192.0.2.1 (inbound) by default
run() {
	"$SINKD" -t -c "$W/sinkd.conf" -F "$1" -R "$2" -C "${3:-192.0.2.1}" <"$W/msg" \
		>"$W/out" 2>"$W/err"
	OUT=$(cat "$W/out")
	V=$(grep '^verdict=' "$W/err")
	LOG=$(grep -v '^verdict=' "$W/err")
	grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' "$W/err" &&
		{ SANITIZER=$((SANITIZER + 1)); diag "$(head -40 "$W/err")"; }
}
# hdr NAME: the value of the first field NAME of OUT
hdr() { printf '%s\n' "$OUT" | sed -n "/^\$/q; s/^$1: //Ip" | head -1; }
# spoof FROM-FIELD RCPT: an inbound message with that From through sinkd -t
spoof() {
	printf 'From: %s\nTo: %s\nSubject: invoice\n\nPlease pay.\n' "$1" "$2" >"$W/msg"
	run bounce@outside.test "$2"
}

# ---------------------------------------------------------------------------
# display-name-spoof

spoof '"Alice Smith" <alice@evil.test>' x@a.test
like "$V" '^verdict=accept ' "spoof, a.test (tag): the message passes"
is "$(hdr X-Display-Name-Spoof)" 'display name "Alice Smith" is that of an internal user, the address <alice@evil.test> is outside' \
	"  with the header naming name and address"
is "$(hdr Subject)" "[SPOOF?] invoice" "  and the Subject prefix"
like "$V" 'sink\.spoof\.spoof="Alice_Smith"_<alice@evil\.test>' "  noted on the verdict line"
like "$LOG" 'sink:spoof: display name "Alice Smith" of an internal name from alice@evil\.test: tag' \
	"  and logged"

spoof '"Alice Smith" <alice@evil.test>' x@b.test
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:spoof text="Message refused: the sender uses the name of a person of this organisation from an outside address"' \
	"spoof, b.test (reject): 550 5.7.1 with the reply"

spoof '"Alice Smith" <alice@a.test>' x@a.test
is "$OUT" "$(cat "$W/msg")" "the genuine sender at the internal domain: no hit, message unchanged"
unlike "$V" "sink\.spoof" "  nothing noted"
spoof 'Alice Smith <alice@mail.b.test>' x@b.test
like "$V" '^verdict=accept ' "an internal subdomain is internal (b.test would reject)"

spoof '"  aLiCe    SMITH " <x@evil.test>' x@b.test
like "$V" '^verdict=reject ' "quotes, blanks and case do not hide the name"
spoof '=?UTF-8?B?QWxpY2UgU21pdGg=?= <x@evil.test>' x@b.test
like "$V" '^verdict=reject ' "an RFC 2047 B-encoded name"
spoof '=?ISO-8859-1?Q?Carol_M=FCller?= <x@evil.test>' x@a.test
like "$(hdr X-Display-Name-Spoof)" '^display name "Carol Müller" is that of an internal user' \
	"a Q-encoded Latin-1 name, decoded, matches a UTF-8 line of the names file"
spoof '"=?utf-8?q?Bob?=   =?utf-8?q?_Jones?=" <b@evil.test>' x@b.test
like "$V" '^verdict=reject ' "adjacent encoded-words"
spoof '"Jones, Bob" <b@evil.test>' x@b.test
like "$V" '^verdict=reject ' '"Last, First"'
spoof '"Bob Jones via Docs" <b@evil.test>' x@b.test
like "$V" '^verdict=reject ' '"Name via Service"'
spoof '"Bob Jones (via Docs)" <b@evil.test>' x@b.test
like "$V" '^verdict=reject ' '"Name (via Service)"'
spoof 'b@evil.test (Bob Jones)' x@b.test
like "$V" '^verdict=reject ' "a name as a comment after the address"
spoof "$(printf '"Bob\xe2\x80\x8b Jones" <b@evil.test>')" x@b.test
like "$V" '^verdict=reject ' "a zero-width space in the name"
spoof '"alice@b.test" <x@evil.test>' x@b.test
like "$V" '^verdict=reject ' "an internal address as the display name"
spoof '"Dave Null" <dave@evil.test>' x@b.test
like "$V" '^verdict=accept ' "a name not in the file: no hit"
spoof '"Bob Jonesy" <b@evil.test>' x@b.test
like "$V" '^verdict=accept ' "a longer name is not the name"

# internal-domains: the key, not the policy's domain
spoof '"Alice Smith" <alice@corp.test>' x@c.test
like "$V" '^verdict=accept ' "internal-domains: an address of the listed domain is genuine"
spoof '"Alice Smith" <alice@c.test>' x@c.test
like "$(hdr X-Display-Name-Spoof)" 'display name "Alice Smith"' "  and the policy's own domain is then outside"

# the default policy: the recipients' domains are internal
spoof '"Alice Smith" <alice@other.test>' x@other.test
like "$V" '^verdict=accept ' "default policy: the recipient's domain is internal"
spoof '"Alice Smith" <alice@evil.test>' x@other.test
like "$(hdr X-Display-Name-Spoof)" 'display name "Alice Smith"' "  and another domain is not"

# outbound mail is not checked (direction = inbound, its default)
printf 'From: "Alice Smith" <alice@evil.test>\nTo: x@b.test\nSubject: invoice\n\nPlease pay.\n' >"$W/msg"
run alice@a.test x@b.test 127.0.0.1
like "$V" 'direction=outbound' "outbound mail"
unlike "$V" 'sink\.spoof' "  is not checked for spoofing"

# ---------------------------------------------------------------------------
# dlp (outbound: the sender's domain decides; 127.0.0.1 is internal)

# dlp FROM: $W/msg from FROM, outbound
dlp() { run "$1" x@outside.test 127.0.0.1; }
text() { printf 'From: %s\nTo: x@outside.test\nSubject: %s\n\n%s\n' "$1" "${3:-data}" "$2" >"$W/msg"; }

text s@d.test "my card: 4111 1111 1111 1111, exp 12/27"
dlp s@d.test
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:dlp text="Message not sent: it holds data that may not leave the organisation"' \
	"dlp, default policy (reject): a Visa number in groups of four"
like "$V" 'sink\.dlp\.found=card_visa_\*\*\*\*1111' "  noted masked"
unlike "$V" '4111' "  the verdict line holds no part of the number but its last four"
like "$LOG" 'sink:dlp: found card visa \*\*\*\*1111: reject' "  and logged masked"
unlike "$LOG" '4111' "  the log holds no part of the number but its last four"

text s@d.test "MC 5555-5555-5555-4444 please"
dlp s@d.test
like "$V" '^verdict=reject .*found=card_mastercard_\*\*\*\*4444' "a Mastercard number with dashes"
text s@d.test "amex 3782 822463 10005."
dlp s@d.test
like "$V" '^verdict=reject .*found=card_amex_\*\*\*\*0005' "an Amex number in groups 4-6-5"
text s@d.test "ref 12 6011111111111117 ok"
dlp s@d.test
like "$V" '^verdict=reject .*found=card_discover_\*\*\*\*1117' "a number in one group, after another number"
text s@d.test "data" "card 4111111111111111"
dlp s@d.test
like "$V" '^verdict=reject .*found=card_visa_\*\*\*\*1111' "a number in the Subject"

# not cards
for n in "4111 1111 1111 1112" "order 12345678901234567890" "Order no. 2023120400001231" \
	"call +49 30 1234 5678 or 030-1234-5678-90" "invoice 1000000000000008" \
	"4111 1111 1111 11111111" "IBAN DE89 3704 0044 0532 0130 00" "41111111111111111111 x"; do
	text s@d.test "$n"
	dlp s@d.test
	like "$V" '^verdict=accept ' "not a card: $n"
done
unlike "$V" 'sink\.dlp' "  nothing noted"
text s@c.test "invoice 1000000000000008"
dlp s@c.test
is "$(hdr X-DLP)" "card number ****0008" "card-prefixes = no (c.test): a Luhn-valid number of any prefix"

# a base64 text attachment, quoted-printable with a soft line break, HTML
python3 - "$W/msg" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m['From'] = 's@d.test'; m['To'] = 'x@outside.test'; m['Subject'] = 'list'
m.set_content('the list is attached\n')
m.add_attachment('name;card\nA;4111-1111-1111-1111\n', subtype='csv',
                 filename='cards.csv', cte='base64')
open(sys.argv[1], 'w').write(m.as_string())
PY
dlp s@d.test
! grep -q '4111' "$W/msg" && grep -q 'NDExMS0xMTEx' "$W/msg"
ok $? "  (the attachment is base64: the number is not in the raw message)"
like "$V" '^verdict=reject .*found=card_visa_\*\*\*\*1111' "a card in a base64 text/csv attachment"
python3 - "$W/msg" <<'PY'
import sys
from email.message import EmailMessage
inner = EmailMessage()
inner['From'] = 'y@d.test'; inner['Subject'] = 'fwd'
inner.set_content('Card: 3782-822463-10005\n', cte='base64')
m = EmailMessage()
m['From'] = 's@d.test'; m['To'] = 'x@outside.test'; m['Subject'] = 'forwarded'
m.set_content('see below\n')
m.add_attachment(inner)
open(sys.argv[1], 'w').write(m.as_string())
PY
dlp s@d.test
like "$V" '^verdict=reject .*found=card_amex_\*\*\*\*0005' "a card in a forwarded message (message/rfc822, base64 inside)"
printf 'From: s@d.test\nTo: x@outside.test\nSubject: qp\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\ncard 5555 5555 55=\n55 4444 caf=C3=A9\n' >"$W/msg"
dlp s@d.test
like "$V" '^verdict=reject .*found=card_mastercard_\*\*\*\*4444' "a card in quoted-printable, split by a soft line break"
printf 'From: s@d.test\nTo: x@outside.test\nSubject: html\nMIME-Version: 1.0\nContent-Type: text/html; charset=us-ascii\n\n<p>This is <b>Confidential</b>.</p>\n' >"$W/msg"
dlp s@d.test
like "$V" '^verdict=reject .*found=word_"confidential"' "a word, any case, in HTML"
text s@d.test "see PRJ-4711 for details"
dlp s@d.test
like "$V" '^verdict=reject .*found=pattern_"PRJ%-%d%d%d%d%f\[%D\]"' "a Lua pattern"
text s@d.test "see PRJ-47110 and the nonconfidential notes"
dlp s@d.test
like "$V" '^verdict=accept ' "no pattern hit past its frontier, no word inside a word"

# tag and quarantine, per domain
text s@a.test "pay with 4111 1111 1111 1111 or 5555555555554444; internal only"
dlp s@a.test
like "$V" '^verdict=accept ' "a.test (tag): the message passes"
is "$(hdr X-DLP)" 'card visa ****1111, card mastercard ****4444, word "internal only"' \
	"  with the header naming what was found"
H=$(hdr X-DLP)
unlike "$H" '4111 1111|41111111|5555555555|5555 5555' "  the header never holds the number"
text s@b.test "pay with 4111 1111 1111 1111"
dlp s@b.test
like "$V" '^verdict=quarantine ' "b.test (quarantine): the message is held"
is "$(hdr X-DLP)" 'card visa ****1111' "  with the header"

# evaluate = yes (e.test): what dlp would do is logged, the message passes
printf '[sink:dlp]\nevaluate = yes\n' >"$W/domains/e.test.conf"
text s@e.test "pay with 4111 1111 1111 1111"
dlp s@e.test
like "$V" '^verdict=accept .*sink:dlp=evaluate:reject' "evaluate = yes: the reject dlp would give is on the verdict line"
is "$OUT" "$(cat "$W/msg")" "  and the message passes unchanged"

# inbound mail is not searched (direction = outbound, its default)
text x@outside.test "4111 1111 1111 1111"
run x@outside.test s@d.test
like "$V" 'direction=inbound' "inbound mail"
like "$V" '^verdict=accept ' "  is not searched"

# ---------------------------------------------------------------------------
# attachhash

python3 - "$W/msg" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m['From'] = 's@d.test'; m['To'] = 'x@outside.test'; m['Subject'] = 'files'
m.set_content('three files\n')
m.add_attachment(bytes(range(256)) * 40, maintype='application',
                 subtype='octet-stream', filename='data.bin')
m.add_attachment('plain notes\nsecond line\n', subtype='plain',
                 filename='notes.txt', cte='quoted-printable')
m.add_attachment(b'%PDF-1.4\n' + b'x' * 3000, maintype='application',
                 subtype='pdf', filename='Bericht März 100%.pdf')
inner = EmailMessage()
inner['From'] = 'y@d.test'; inner['Subject'] = 'inner'
inner.set_content('inner\n')
inner.add_attachment(b'nested', maintype='application', subtype='zip',
                     filename='in.zip')
m.add_attachment(inner)
open(sys.argv[1], 'w').write(m.as_string())
PY
dlp s@d.test
like "$V" '^verdict=accept .*sink\.attachhash\.hashed=4' "attachhash: four attachments hashed (one inside a message/rfc822)"
# digests FILE: what Python computes from FILE as sent (CRLF line ends):
# "sha256 name" per attachment (a file name, or disposition attachment)
digests() {
	python3 - "$1" <<'PY'
import sys, hashlib, email, email.policy
raw = open(sys.argv[1], 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
m = email.message_from_bytes(raw, policy=email.policy.default)
def name(n):
    if not n:
        return '-'
    return ''.join(c if 32 < ord(c) < 127 and c != '%' else
                   ''.join('%%%02x' % b for b in c.encode()) for c in n)
for p in m.walk():
    if p.is_multipart() or p.get_content_type() == 'message/rfc822':
        continue
    if p.get_filename() or p.get_content_disposition() == 'attachment':
        print(hashlib.sha256(p.get_payload(decode=True)).hexdigest(), name(p.get_filename()))
PY
}
# same_but_hashes SENT GOT: GOT is SENT byte for byte but for the
# X-Attachment-SHA256 fields in its header
same_but_hashes() {
	python3 - "$1" "$2" <<'PY'
import sys
a = open(sys.argv[1], 'rb').read()
b = open(sys.argv[2], 'rb').read().splitlines(keepends=True)
out, head = [], True
for l in b:
    if head and l.strip(b'\r\n') == b'':
        head = False
    if head and l.startswith(b'X-Attachment-SHA256: '):
        continue
    out.append(l)
sys.exit(0 if b''.join(out) == a else 1)
PY
}
got=$(printf '%s\n' "$OUT" | sed -n '/^$/q; s/^X-Attachment-SHA256: //p')
is "$got" "$(digests "$W/msg")" "each field holds the SHA-256 of the decoded attachment and its name, as Python computes them"
is "$(printf '%s\n' "$got" | wc -l)" 4 "  one field per attachment"
same_but_hashes "$W/msg" "$W/out"
ok $? "  and the message is otherwise byte for byte the one sent"

# messages of the corpus (t/corpus/MANIFEST.tsv): nested related and
# alternative parts, RFC 2231 and RFC 2047 file names in Latin-1 and UTF-8
for f in thunderbird/browser-message-window/test-alt-rel-with-attach.eml \
	mime4j/testmsgs/simple-attachment.msg \
	mime-tools/attachment-filename-encoding-Latin1.msg \
	mime-tools/attachment-filename-encoding-UTF8.msg; do
	cp "corpus/$f" "$W/msg"
	dlp s@d.test
	got=$(sed -n '/^\r\?$/q; s/^X-Attachment-SHA256: //p' "$W/out" | tr -d '\r')
	want=$(digests "$W/msg")
	[ -n "$want" ] || diag "no attachment in corpus/$f"
	is "$got" "$want" "corpus/$f: the digests and names Python computes"
	same_but_hashes "$W/msg" "$W/out"
	ok $? "  the message otherwise byte for byte the same"
done

printf 'From: s@d.test\nTo: x@outside.test\nSubject: none\n\nno files\n' >"$W/msg"
dlp s@d.test
is "$OUT" "$(cat "$W/msg")" "a message without attachments is left as it is"

# ---------------------------------------------------------------------------
# bad keys: sinkd -n says which

cp "$W/sinkd.conf" "$W/good.conf"
sed -i 's/^\[sink:dlp\]$/[sink:dlp]\naction = bounce/' "$W/sinkd.conf"
out=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
like "$out" "action: 'bounce' is not reject, quarantine or tag" "sinkd -n: a bad dlp action"
for p in 'PRJ[0-9' 'PRJ%' '(PRJ' 'PRJ%f%d' '%bx'; do
	cp "$W/good.conf" "$W/sinkd.conf"
	sed -i "s|^patterns = .*|patterns = $p|" "$W/sinkd.conf"
	out=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
	like "$out" "patterns: .*(malformed|missing|unfinished)" "sinkd -n: a malformed pattern, $p"
done
cp "$W/good.conf" "$W/sinkd.conf"
sed -i 's|^names = .*|names = sinks/missing|' "$W/sinkd.conf"
out=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
like "$out" "names: .*missing" "sinkd -n: a names file that is not there"
cp "$W/good.conf" "$W/sinkd.conf"
chmod 666 "$W/sinks/internal-names"
out=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
like "$out" "names: .*internal-names" "sinkd -n: a names file others may write"
chmod 644 "$W/sinks/internal-names"

# ---------------------------------------------------------------------------
# ctx:config_file(), which the scripts read their lists with: a path key's
# file, trusted as sinkd.conf is, at most 1 MiB; nil and why otherwise

mkdir -p "$W/cf/domains"
cat >"$W/cf/cf.lua" <<'LUA'
return {
	keys = {
		{name = "file", type = "path", default = ""},
		{name = "word", type = "string", default = "plain"},
	},
	eom = function(ctx)
		local t, why = ctx:config_file(ctx:header_get("Subject"))
		ctx:note("got", t and ("text:" .. #t .. ":" .. t:sub(1, 5)) or ("nil:" .. tostring(why)))
	end,
}
LUA
printf 'hello world\n' >"$W/cf/cf.txt"
# cf KEY FILE: the note of the script reading KEY, with file = FILE
cf() {
	printf '[sinkd]\nchain = sink:cf\nspool-dir = %s\n[sink:cf]\nscript = cf.lua\nfile = %s\nword = %s\n' \
		"$W/spool" "$2" "$W/cf/cf.txt" >"$W/cf/sinkd.conf"
	printf 'From: a@b.test\nTo: c@d.test\nSubject: %s\n\nx\n' "$1" |
		"$SINKD" -t -c "$W/cf/sinkd.conf" -F a@b.test -R c@d.test 2>&1 >/dev/null | grep '^verdict='
}
like "$(cf file cf.txt)" 'sink\.cf\.got=text:12:hello' "config_file: a path key's file, relative to sinkd.conf"
like "$(cf word cf.txt)" 'sink\.cf\.got=nil:word:_not_a_path_key' "  a string key, even one holding an absolute path: nil and why"
like "$(cf nokey cf.txt)" 'sink\.cf\.got=nil:nokey:_not_a_path_key' "  a key the sink does not have: nil"
like "$(cf file missing.txt)" 'sink\.cf\.got=nil:.*missing\.txt' "  a file that is not there: nil, naming it"
chmod 666 "$W/cf/cf.txt"
like "$(cf file cf.txt)" 'sink\.cf\.got=nil:.*cf\.txt.*writable' "  a file others may write: nil"
chmod 644 "$W/cf/cf.txt"
head -c 1048577 /dev/zero | tr '\0' x >"$W/cf/cf.big"
like "$(cf file cf.big)" 'sink\.cf\.got=nil:.*larger_than_1048576_bytes' "  a file over 1 MiB: nil"
head -c 1048576 /dev/zero | tr '\0' x >"$W/cf/cf.big"
like "$(cf file cf.big)" 'sink\.cf\.got=text:1048576:' "  1 MiB is read"

# ---------------------------------------------------------------------------
# etc/sinkd.conf with its commented sink examples turned on

cp -r "$TOP/etc" "$W/etc"
cp "$TOP/etc/sinks/internal-names.example" "$W/etc/sinks/internal-names"
awk -v so="$SO" '
	/^chain = / { next }
	/^#chain = .*sink:/ { sub(/^#/, "") }
	/^# Sinks sinkd ships/ { on = 1 }
	on && /^$/ { on = 0 }	# the block ends at the first empty line
	on && /^#(\[|[a-z])/ { sub(/^#/, "") }
	on && /^module = / { $0 = "module = " so }
	{ print }' "$TOP/etc/sinkd.conf" >"$W/etc/sinkd.conf"
sed -i 's|^spool-dir = .*|spool-dir = '"$W/spool"'|' "$W/etc/sinkd.conf"
grep -q '^chain = .*sink:spoof.*sink:dlp.*sink:attachhash' "$W/etc/sinkd.conf"
ok $? "etc/sinkd.conf's example chain names the three sinks" || diag "$(grep -n chain "$W/etc/sinkd.conf")"
is "$(grep -c '^\[sink:' "$W/etc/sinkd.conf")" 3 "  and its commented examples give three sink groups"
out=$("$SINKD" -n -c "$W/etc/sinkd.conf" 2>&1)
ok $? "sinkd -n accepts etc/sinkd.conf with the shipped sinks turned on" || diag "$out"

is "$SANITIZER" 0 "no sanitizer report"
done_testing
