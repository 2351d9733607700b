#!/bin/bash
# e2e-shipped-sinks.t - the sinks sinkd ships (sinkd-sinks(7)) through a
# real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# chain protocol, sink:spoof, sink:dlp, sink:attachhash (etc/sinks/, the
# module built by make).  Checked on what Postfix answered and delivered:
# a message holding a card number gets dlp's 550 at end of DATA and is not
# delivered; one with a word dlp tags is delivered with X-DLP naming it,
# never the number; a message from outside wearing an internal name is
# delivered with display-name-spoof's header and Subject prefix, and one
# to a domain whose policy rejects it gets 550; the genuine sender's mail
# arrives untouched; attachments arrive with X-Attachment-SHA256 fields
# whose digests are those Python computes from what was sent; the log
# names the sinks and holds no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

SO=$TOP/etc/sinks/attachhash.so
[ -f "$SO" ] || bail_out "no etc/sinks/attachhash.so: run make tests"
e2e_workdir e2e-shipped-sinks
mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
C=$SK_DIR/conf
mkdir -p "$C/sinks"
install -m 644 "$TOP/etc/sinks/display-name-spoof.lua" "$TOP/etc/sinks/dlp.lua" "$C/sinks/"
install -m 644 "$TOP/etc/sinks/internal-names.example" "$C/sinks/internal-names"
install -m 755 "$SO" "$C/sinks/"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:spoof, sink:dlp, sink:attachhash/' "$C/sinkd.conf"
# 127.0.0.1 is not internal here (sk_init): dlp searches both directions
sk_conf '[sink:spoof]' 'script = sinks/display-name-spoof.lua' 'names = sinks/internal-names' \
	'subject-tag = [SPOOF?]' \
	'[sink:dlp]' 'script = sinks/dlp.lua' 'direction = both' 'words = confidential' \
	'[sink:attachhash]' 'module = sinks/attachhash.so'
printf '[sink:spoof]\naction = reject\n[sink:dlp]\naction = tag\n' >"$C/domains/strict.example.conf"
out=$("$SINKD" -n -c "$C/sinkd.conf" 2>&1)
ok $? "sinkd -n accepts the configuration" || diag "$out"
sk_start || bail_out "sinkd did not start"

send() { pf_swaks --from "$1" --to "$2" --data "$W/$3"; }

# dlp: a card number is refused at end of DATA
printf 'From: bob@example.org\nTo: x@example.org\nSubject: order\n\nmy card is 4111 1111 1111 1111, exp 12/27\n' >"$W/card"
OUT=$(send bob@example.org x@example.org card)
is "$(smtp_reply "$OUT" .)" "550 5.7.1 Message not sent: it holds data that may not leave the organisation" \
	"dlp: the SMTP client gets the 550 for a card number"
is "$(pf_delivered_count x@example.org)" 0 "  and nothing is delivered"

# dlp tag (strict.example's policy): delivered with X-DLP, no number
printf 'From: bob@example.org\nTo: y@strict.example\nSubject: notes\n\nconfidential: card 5555-5555-5555-4444\n' >"$W/tag"
OUT=$(send bob@example.org y@strict.example tag)
like "$(smtp_reply "$OUT" .)" '^250 ' "dlp tag: the message is accepted"
pf_wait_delivered y@strict.example 1 || diag "$OUT"
F=$(pf_last_message y@strict.example)
is "$(header "$F" X-DLP)" 'card mastercard ****4444, word "confidential"' "  and delivered with X-DLP naming what was found"
unlike "$(header "$F" X-DLP)" '5555-5555|55555555' "  never the number"

# spoof tag: delivered with the header and the Subject prefix
printf 'From: "=?UTF-8?Q?Alice_Smith?=" <alice@mail.example.net>\nTo: z@example.org\nSubject: invoice\n\nPlease pay.\n' >"$W/spoof"
OUT=$(send alice@mail.example.net z@example.org spoof)
like "$(smtp_reply "$OUT" .)" '^250 ' "spoof tag: the message is accepted"
pf_wait_delivered z@example.org 1 || diag "$OUT"
F=$(pf_last_message z@example.org)
is "$(header "$F" X-Display-Name-Spoof)" \
	'display name "Alice Smith" is that of an internal user, the address <alice@mail.example.net> is outside' \
	"  and delivered with display-name-spoof's header"
is "$(header "$F" Subject)" "[SPOOF?] invoice" "  and the Subject prefix"

# spoof reject (strict.example)
OUT=$(send alice@mail.example.net w@strict.example spoof)
is "$(smtp_reply "$OUT" .)" \
	"550 5.7.1 Message refused: the sender uses the name of a person of this organisation from an outside address" \
	"spoof reject: the SMTP client gets the 550"
is "$(pf_delivered_count w@strict.example)" 0 "  and nothing is delivered"

# the genuine sender (example.org is z@example.org's own domain)
printf 'From: Alice Smith <alice@example.org>\nTo: v@example.org\nSubject: hello\n\nHi.\n' >"$W/genuine"
OUT=$(send alice@example.org v@example.org genuine)
pf_wait_delivered v@example.org 1 || diag "$OUT"
F=$(pf_last_message v@example.org)
is "$(header "$F" X-Display-Name-Spoof)" "" "the genuine sender's mail arrives without the spoof header"
is "$(header "$F" Subject)" "hello" "  and its Subject as sent"

# attachhash: the digests delivered are those of the attachments sent
python3 - "$W/files" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m['From'] = 'bob@example.org'; m['To'] = 'u@example.org'; m['Subject'] = 'files'
m.set_content('two files\n')
m.add_attachment(bytes(range(256)) * 64, maintype='application',
                 subtype='octet-stream', filename='blob.bin')
m.add_attachment('line one\nline two\n', subtype='plain', filename='read me.txt',
                 cte='quoted-printable')
open(sys.argv[1], 'w').write(m.as_string())
PY
OUT=$(send bob@example.org u@example.org files)
like "$(smtp_reply "$OUT" .)" '^250 ' "attachhash: the message is accepted"
pf_wait_delivered u@example.org 1 || diag "$OUT"
F=$(pf_last_message u@example.org)
want=$(python3 - "$W/files" <<'PY'
import sys, hashlib, email, email.policy
raw = open(sys.argv[1], 'rb').read().replace(b'\n', b'\r\n')
m = email.message_from_bytes(raw, policy=email.policy.default)
for p in m.walk():
    if not p.is_multipart() and p.get_filename():
        n = ''.join(c if 32 < ord(c) < 127 and c != '%' else
                    ''.join('%%%02x' % b for b in c.encode()) for c in p.get_filename())
        print(hashlib.sha256(p.get_payload(decode=True)).hexdigest(), n)
PY
)
got=$(sed -n '/^$/q; s/^X-Attachment-SHA256: //p' "$F")
is "$got" "$want" "  delivered with one X-Attachment-SHA256 per attachment, the digests Python computes"

sleep 1
log=$(sk_log)
like "$log" "verdict=reject handler=sink:dlp code=550 xcode=5\.7\.1" "the log line names dlp's refusal"
like "$log" 'sink:spoof: display name "Alice Smith" of an internal name from alice@mail\.example\.net: tag' \
	"  and display-name-spoof's own log line"
sk_stop
sk_log_clean
ok $? "no sanitizer report or panic in sinkd's log"
done_testing
