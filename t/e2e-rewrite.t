#!/bin/bash
# e2e-rewrite.t - the rewrite handler, then the disclaimer, through a real
# Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# chain protocol, rewrite, disclaimer.  Checked on what Postfix delivered:
# one message gets its subject tag, its text rewritten in its own charset
# (a substitution and a link prefix), its banned attachment replaced by a
# notice and the disclaimer, all in one pass, while its other attachment
# stays byte-identical; a reply is not tagged twice; a domain that refuses
# banned attachments refuses at end of DATA, naming the file; a name given
# only by filename* behind a harmless plain filename is banned; a regex that
# hits its match limit tempfails.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

e2e_workdir e2e-rewrite
mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, rewrite, disclaimer/' "$W/sk/conf/sinkd.conf"
sk_conf '[rewrite]' 'subject-tag = [EXTERNAL]' 'text-replace = Mueller => Müller' \
	'link-prefix = https://links.example.net/?u=' 'banned-extensions = exe, scr' \
	'[disclaimer]' "text-file = $(fixture "$TOP/t/disclaimer/text.tmpl" "$SK_DIR/conf")" "html-file = $(fixture "$TOP/t/disclaimer/html.tmpl" "$SK_DIR/conf")" \
	'direction = both'
printf '[rewrite]\nbanned-action = reject\n' >"$W/sk/conf/domains/strict.example.conf"
printf '[rewrite]\ntext-replace = /(\\w+\\s?)+$/ => x\n' >"$W/sk/conf/domains/slow.example.conf"
sk_start || bail_out "sinkd did not start"

send() { OUT=$(pf_swaks --from "$2" --to "$3" --data "$4" --header "X-E2E-Id: $1"); }

python3 - "$W/msg" <<'PY'
import sys
from email.message import EmailMessage
from email.policy import SMTP
m = EmailMessage(policy=SMTP)
m["From"] = "someone@outside.example"
m["To"] = "bob@example.org"
m["Subject"] = "Rechnung"
m.set_content("Dear Mr Mueller,\nsee https://www.example.com/invoice?id=7 today.\nGrüße\n",
              charset="iso-8859-1", cte="quoted-printable")
m.add_attachment(bytes(range(256)) * 40, maintype="application", subtype="pdf",
                 filename="invoice.pdf")
m.add_attachment(b"MZ\x90\x00" * 64, maintype="application", subtype="octet-stream",
                 filename="invoice.pdf.exe")
open(sys.argv[1], "wb").write(m.as_bytes())
PY
send one someone@outside.example bob@example.org "$W/msg"
like "$(smtp_reply "$OUT" .)" '^250 ' "accepted"
pf_wait_delivered bob@example.org 1 || diag "$OUT"
F=$(pf_last_message bob@example.org)
is "$(header "$F" Subject)" "[EXTERNAL] Rechnung" "the subject is tagged"
python3 - "$W/msg" "$F" <<'PY'
import email, email.policy, sys
pol = email.policy.default
a = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=pol)
b = email.message_from_bytes(open(sys.argv[2], "rb").read(), policy=pol)
pa, pb = list(a.iter_parts()), list(b.iter_parts())
problems = []
if len(pa) != 3 or len(pb) != 3:
    problems.append("parts: %d -> %d" % (len(pa), len(pb)))
else:
    t = pb[0].get_content().replace("\r\n", "\n")
    if not t.startswith("Dear Mr Müller,\nsee https://links.example.net/?u=https%3A%2F%2Fwww.example.com%2Finvoice%3Fid%3D7 today.\nGrüße\n"):
        problems.append("text: %r" % t[:200])
    if "is confidential" not in t:
        problems.append("no disclaimer in the text")
    if pb[0].get_content_charset() != "iso-8859-1":
        problems.append("charset %s" % pb[0].get_content_charset())
    raw = lambda p: p.get_payload().replace("\r\n", "\n")
    if pa[1].items() != pb[1].items() or raw(pa[1]) != raw(pb[1]):
        problems.append("the pdf attachment changed")
    if pb[2].get_content_type() != "text/plain" or "invoice.pdf.exe" not in pb[2].get_content():
        problems.append("the exe was not replaced by a notice")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
ok $? "text rewritten in its charset, link prefixed, disclaimer added, exe replaced, pdf untouched"
grep -c 'X-E2E-Id: one' "$F" | grep -qx 1
ok $? "delivered once"

# a name that only RFC 2231 gives (filename*), after a harmless plain one
# that GMime's first-parameter lookup would take: banned all the same
{ printf 'From: someone@outside.example\nTo: frank@example.org\nSubject: tool\n'
  printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n\n'
  printf -- '--b1\nContent-Type: text/plain\n\nRun it.\n--b1\n'
  printf 'Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n'
  printf "Content-Disposition: attachment; filename=\"run.txt\"; filename*=utf-8''run.exe\n\n"
  printf 'TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA\n--b1--\n'; } >"$W/star"
send star someone@outside.example frank@example.org "$W/star"
like "$(smtp_reply "$OUT" .)" '^250 ' "filename*: accepted"
pf_wait_delivered frank@example.org 1 || diag "$OUT"
F=$(pf_last_message frank@example.org)
grep -q 'The attachment "run.exe" was removed by the mail gateway (extension exe)' "$F" &&
	! grep -q 'TVqQAAMAAAAEAAAA' "$F"
ok $? "filename*=utf-8''run.exe behind filename=\"run.txt\": replaced by a notice"

# a reply is not tagged again
printf 'From: someone@outside.example\nTo: bob@example.org\nSubject: Re: [EXTERNAL] Rechnung\n\nThanks.\n' >"$W/reply"
send reply someone@outside.example carol@example.org "$W/reply"
pf_wait_delivered carol@example.org 1 || diag "$OUT"
is "$(header "$(pf_last_message carol@example.org)" Subject)" "Re: [EXTERNAL] Rechnung" "a reply is not tagged twice"

# a domain that refuses banned attachments
send strict someone@outside.example dave@strict.example "$W/msg"
is "$(smtp_reply "$OUT" .)" "550 5.7.1 Attachment invoice.pdf.exe is not accepted (extension exe)" \
	"banned-action = reject: refused at end of DATA, naming the file"
# a regex that hits its match limit
{ printf 'From: someone@outside.example\nTo: erin@slow.example\nSubject: slow\n\n'
  for i in $(seq 1 200); do printf 'word '; done; printf '!\n'; } >"$W/slow"
send slow someone@outside.example erin@slow.example "$W/slow"
like "$(smtp_reply "$OUT" .)" '^451 4\.3\.0 ' "a regex at its match limit: tempfail (on-error)"
sleep 1
is "$(pf_delivered_count dave@strict.example)$(pf_delivered_count erin@slow.example)" "00" "neither was delivered"

sk_stop; ok $? "sinkd stops"
sk_log_clean; ok $? "no sanitizer report or panic in sinkd's log"
done_testing
