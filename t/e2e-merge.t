#!/bin/bash
# e2e-merge.t - several recipient domains through a real Postfix: the
# recipient whose domain's policy cannot share the message gets 452 4.5.3
# at RCPT TO and the message goes to the others only; the ban of one
# domain holds whatever the order of the recipients
#
# Real SMTP (swaks) into a private Postfix whose milter is the real sinkd,
# chain protocol, rewrite, and nothing else that would ask for a reply at
# RCPT TO: sinkd must ask for one itself because two domains differ on a
# key that must agree.  a.test does not rewrite its inbound mail, b.test
# refuses .exe attachments, c.test rewrites text.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

for cmd in postfix swaks python3; do
	command -v "$cmd" >/dev/null 2>&1 || bail_out "$cmd is not installed (./bootstrap test installs it)"
done
e2e_workdir e2e-merge
mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, rewrite/' "$W/sk/conf/sinkd.conf"
printf '[rewrite]\ndirection = outbound\n' >"$W/sk/conf/domains/a.test.conf"
printf '[rewrite]\nbanned-extensions = exe\nbanned-action = reject\n' >"$W/sk/conf/domains/b.test.conf"
printf '[rewrite]\ntext-replace = foo => bar\n' >"$W/sk/conf/domains/c.test.conf"
sk_start || bail_out "sinkd did not start"

python3 - "$W/exe" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "s@outside.example"
m["Subject"] = "attached"
m.set_content("see the attachment\n")
m.add_attachment(b"MZ\x90\x00" * 32, maintype="application",
                 subtype="octet-stream", filename="setup.exe")
open(sys.argv[1], "wb").write(m.as_bytes())
PY

# nmsg RCPT ID: messages with X-E2E-Id: ID delivered to RCPT (for wait_msg)
nmsg() {
	local box
	box=$(pf_mailbox "$1") || { echo 0; return; }
	[ -d "$box" ] || { echo 0; return; }
	grep -lx "X-E2E-Id: $2" "$box"/* 2>/dev/null | wc -l
}

# send ID TO SWAKS-ARGS...: one session from an outside sender; OUT is the
# transcript
send() {
	local id=$1 to=$2
	shift 2
	OUT=$(pf_swaks --from s@outside.example --to "$to" --header "X-E2E-Id: $id" "$@")
}

DEFER='452 4.5.3 Too many recipients for one transaction with different policies, try again'

# --- a recipient that cannot share the message is deferred at RCPT TO
send apart1 x@a.test,z@c.test --body 'foo here'
is "$(smtp_reply "$OUT" 'RCPT TO:<x@a.test>')" '250 2.1.5 Ok' "x@a.test, z@c.test: x@a.test accepted"
is "$(smtp_reply "$OUT" 'RCPT TO:<z@c.test>')" "$DEFER" "  z@c.test deferred at RCPT TO"
like "$(smtp_reply "$OUT" .)" '^250 2\.0\.0 Ok: queued' "  the message is accepted for x@a.test"
wait_msg x@a.test apart1 || diag "$OUT"
pf_wait_queue_empty 20
is "$(nmsg x@a.test apart1)" 1 "  and delivered to x@a.test"
is "$(nmsg z@c.test apart1)" 0 "  not to z@c.test"
grep -qx 'foo here' "$(pf_last_message x@a.test)"
ok $? "  under a.test's policy alone (no text rewriting)"
grep -q 'rcpt=<z@c.test>: policy c.test differs from <x@a.test>.s policy a.test in \[rewrite\] text-replace; deferred' \
	"$W/sk/sinkd.log"
ok $? "  sinkd logs which key keeps them apart"

send apart2 z@c.test,x@a.test --body 'foo here'
is "$(smtp_reply "$OUT" 'RCPT TO:<z@c.test>')" '250 2.1.5 Ok' "z@c.test, x@a.test: z@c.test accepted"
is "$(smtp_reply "$OUT" 'RCPT TO:<x@a.test>')" "$DEFER" "  x@a.test deferred at RCPT TO"
like "$(smtp_reply "$OUT" .)" '^250 2\.0\.0 Ok: queued' "  the message is accepted for z@c.test"
wait_msg z@c.test apart2 || diag "$OUT"
pf_wait_queue_empty 20
is "$(nmsg x@a.test apart2)" 0 "  not delivered to x@a.test"
grep -qx 'bar here' "$(pf_last_message z@c.test)"
ok $? "  z@c.test gets c.test's rewriting"

# the client sends the deferred recipient again, on its own
send apart3 x@a.test --body 'foo here'
like "$(smtp_reply "$OUT" .)" '^250 2\.0\.0 Ok: queued' "x@a.test alone, as the client retries it: accepted"
wait_msg x@a.test apart3
ok $? "  and delivered"

# --- the ban of b.test holds whatever the order
send ban0 y@b.test --data "$W/exe"
is "$(smtp_reply "$OUT" .)" '550 5.7.1 Attachment setup.exe is not accepted (extension exe)' \
	"y@b.test alone: the .exe is refused"
send ban1 x@a.test,y@b.test --data "$W/exe"
is "$(smtp_reply "$OUT" 'RCPT TO:<y@b.test>')" '250 2.1.5 Ok' "x@a.test, y@b.test: both recipients accepted"
is "$(smtp_reply "$OUT" .)" '550 5.7.1 Attachment setup.exe is not accepted (extension exe)' \
	"  and the .exe refused"
grep -Eq ': from=<s@outside\.example> nrcpt=2 .* verdict=reject handler=rewrite .* direction=inbound policy=a\.test,b\.test$' \
	"$W/sk/sinkd.log"
ok $? "  sinkd's line for the message names the direction and both policy domains"
send ban2 y@b.test,x@a.test --data "$W/exe"
is "$(smtp_reply "$OUT" .)" '550 5.7.1 Attachment setup.exe is not accepted (extension exe)' \
	"y@b.test, x@a.test: refused"
send ban3 x@a.test --data "$W/exe"
like "$(smtp_reply "$OUT" .)" '^250 2\.0\.0 Ok: queued' "x@a.test alone: accepted (a.test bans nothing)"
wait_msg x@a.test ban3
ok $? "  and delivered"
pf_wait_queue_empty 20
is "$(( $(nmsg x@a.test ban1) + $(nmsg x@a.test ban2) + $(nmsg y@b.test ban1) + $(nmsg y@b.test ban2) ))" 0 \
	"nothing of the refused messages was delivered"

sk_log_clean
ok $? "sinkd's log has no sanitizer report"
done_testing
