#!/bin/bash
# e2e-disclaimer.t - the disclaimer handler through a real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# protocol and disclaimer handlers; what is checked is what Postfix
# delivered: the disclaimer in a plain message (header fields changed in
# place by the milter), an S/MIME signed message wrapped and still
# verifying with openssl, a message already carrying the disclaimer left
# byte-identical, and inbound mail untouched.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

e2e_workdir e2e-disclaimer
C=$TOP/t/corpus

mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
# the SMTP client (127.0.0.1) is internal: its mail is outbound
sed -i 's/^internal-hosts = .*/internal-hosts = 127.0.0.0\/8/' "$W/sk/conf/sinkd.conf"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, disclaimer/' "$W/sk/conf/sinkd.conf"
sk_conf '[disclaimer]' "text-file = $(fixture "$TOP/t/disclaimer/text.tmpl" "$SK_DIR/conf")" "html-file = $(fixture "$TOP/t/disclaimer/html.tmpl" "$SK_DIR/conf")"
sk_start || bail_out "sinkd did not start"

# send ID FROM TO FILE: the file as the message, over SMTP
send() {
	OUT=$(pf_swaks --from "$2" --to "$3" --data "$4" --header "X-E2E-Id: $1")
}
last() { pf_last_message "$1"; }

# a plain message gets the disclaimer, with header fields changed in place
printf 'From: alice@example.com\nTo: bob@example.org\nSubject: plain\n\nHello Bob,\nsee you.\n' > "$W/plain"
send plain alice@example.com bob@example.org "$W/plain"
pf_wait_delivered bob@example.org 1 || diag "$OUT"
F=$(last bob@example.org)
grep -q 'is confidential' "$F"; ok $? "plain: the delivered message carries the disclaimer"
python3 - "$F" <<'PY'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
import re
t = m.get_content().replace("\r\n", "\n")
# swaks ends DATA with a line break of its own: the text that reached
# Postfix ends with an empty line, hence one or more
ok = re.match(r"Hello Bob,\nsee you\.\n\n+This message from alice@example\.com is confidential\.\n", t)
sys.exit(0 if ok and not m.defects else 1)
PY
ok $? "plain: its text is the original, an empty line, the disclaimer"

# a signed message is wrapped and still verifies
S=thunderbird/smime/alice.dsig.SHA256.multipart.eml
send signed alice@example.com carol@example.org "$C/$S"
pf_wait_delivered carol@example.org 1 || diag "$OUT"
F=$(last carol@example.org)
grep -q '^X-Sinkd-Disclaimer: wrapped (signed)' "$F"; ok $? "signed: wrapped, and named in X-Sinkd-Disclaimer"
python3 "$TOP/t/lib/entity.py" "$F" 0 > "$W/entity"
(cd "$C" && openssl cms -verify -in "$W/entity" -CAfile thunderbird/smime/certs/TestCA.pem -out /dev/null) 2>/dev/null
ok $? "signed: the delivered wrapped entity verifies with openssl cms -verify"
# (but for the line break swaks adds at the end of DATA: epilogue)
cmp -s <(tr -d '\r' <"$W/entity" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}') \
	<(python3 "$TOP/t/lib/content.py" "$C/$S" | tr -d '\r' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')
ok $? "signed: it is the original entity, byte for byte"
grep -q 'is confidential' <(python3 "$TOP/t/lib/entity.py" "$F" 1)
ok $? "signed: the disclaimer follows it"

# a message with the disclaimer already is left alone
sed -n '/^$/,$p' "$(last bob@example.org)" > /dev/null
{ printf 'From: alice@example.com\nTo: dave@example.org\nSubject: Re: plain\n\n'
  sed 's/^/> /' "$TOP/t/disclaimer/text.tmpl" | sed 's/${sender}/bob@example.org/'; } > "$W/reply"
send reply alice@example.com dave@example.org "$W/reply"
pf_wait_delivered dave@example.org 1 || diag "$OUT"
[ "$(grep -c 'is confidential' "$(last dave@example.org)")" = 1 ]
ok $? "once per thread: a reply quoting the disclaimer gets no second one"

# inbound mail: none (direction = outbound)
sed -i 's/^internal-hosts = .*/internal-hosts = 10.255.0.0\/16/' "$W/sk/conf/sinkd.conf"
sk_hup
for i in $(seq 1 50); do grep -q 'configuration reloaded' "$W/sk/sinkd.log" && break; sleep 0.1; done
send inbound alice@example.com erin@example.org "$W/plain"
pf_wait_delivered erin@example.org 1 || diag "$OUT"
grep -q 'is confidential' "$(last erin@example.org)"
ok $((! $?)) "inbound mail gets no disclaimer"

sk_stop; ok $? "sinkd stops"
sk_log_clean; ok $? "no sanitizer report or panic in sinkd's log"
done_testing
