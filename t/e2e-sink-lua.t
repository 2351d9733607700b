#!/bin/bash
# e2e-sink-lua.t - a Lua sink through a real Postfix, beside the disclaimer
#
# Real SMTP into a private Postfix whose milter is the real sinkd with the
# chain protocol, sink:act, disclaimer; the script (below) acts on the
# Subject.  Checked on what Postfix answered and delivered: a recipient
# refused at RCPT TO while the other gets the message; a subject changed
# by the sink and the disclaimer added to the same message, both
# delivered, with the attachment byte for byte as sent and every other
# header field kept; reject and tempfail with the script's own replies;
# discard (taken, delivered to nobody); quarantine (in Postfix's hold
# queue); a recipient added and the sender changed; an attachment
# removed, a notice in its place; a runtime error in the script gives on-error
# (tempfail) for that message and the next one passes; the per-message
# log lines name the sink and carry its notes; no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

e2e_workdir e2e-sink-lua
mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
# the SMTP client (127.0.0.1) is internal: its mail is outbound and gets
# the disclaimer
sed -i 's/^internal-hosts = .*/internal-hosts = 127.0.0.0\/8/' "$W/sk/conf/sinkd.conf"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:act, disclaimer/' "$W/sk/conf/sinkd.conf"
cat >"$W/sk/conf/act.lua" <<'LUA'
-- act.lua: what the Subject says
return {
	name = "act",
	keys = {
		{name = "refuse", type = "string", default = "", doc = "a recipient refused at RCPT"},
	},
	rcpt = function(ctx, addr)
		if addr == ctx:config("refuse") then
			return "reject", "550", "5.1.1", "act refuses " .. addr
		end
	end,
	eom = function(ctx)
		local s = ctx:header_get("Subject") or ""
		ctx:note("subject", s)
		if s == "tag" then
			ctx:header_change("Subject", 1, "[act] tag")
		elseif s == "reject" then
			return "reject", "550", "5.7.1", "act says no"
		elseif s == "tempfail" then
			return "tempfail", "451 4.7.1 act says later"
		elseif s == "discard" then
			return "discard"
		elseif s == "quarantine" then
			return "quarantine"
		elseif s == "route" then
			ctx:rcpt_add("copy@example.org")
			ctx:sender_change("act@example.com")
		elseif s == "strip" then
			for _, p in ipairs(ctx:parts()) do
				if p.filename == "a.bin" then
					ctx:part_remove(p.index, "a.bin was removed")
				end
			end
		elseif s == "crash" then
			local t = nil
			return t.x
		end
	end,
}
LUA
chmod 644 "$W/sk/conf/act.lua"
sk_conf '[sink:act]' "script = act.lua" "refuse = bad@example.org" \
	'[disclaimer]' "text-file = $(fixture "$TOP/t/disclaimer/text.tmpl" "$SK_DIR/conf")"
sk_start || bail_out "sinkd did not start"

# msg SUBJECT: a message with an attachment (random bytes, base64)
head -c 3000 /dev/urandom >"$W/a.bin"
msg() {
	{
		printf 'From: alice@example.com\nTo: bob@example.org\nSubject: %s\n' "$1"
		printf 'X-Keep: untouched\nMIME-Version: 1.0\n'
		printf 'Content-Type: multipart/mixed; boundary="b0"\n\n--b0\n'
		printf 'Content-Type: text/plain; charset=us-ascii\n\nHello Bob.\n\n--b0\n'
		printf 'Content-Type: application/octet-stream\nContent-Disposition: attachment; filename="a.bin"\n'
		printf 'Content-Transfer-Encoding: base64\n\n'
		base64 "$W/a.bin"
		printf -- '--b0--\n'
	} >"$W/$1.eml"
}
send() { OUT=$(pf_swaks --from alice@example.com --data "$W/$1.eml" "${@:2}"); }
# part FILE NAME: the decoded bytes of the attachment NAME of FILE, on stdout
part() {
	python3 - "$1" "$2" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
for p in m.walk():
	if p.get_filename() == sys.argv[2]:
		sys.stdout.buffer.write(p.get_payload(decode=True))
PY
}

# a recipient refused at RCPT; the subject changed by the sink and the
# disclaimer added, both delivered; the rest as sent
msg tag
send tag --to bob@example.org,bad@example.org
is "$(smtp_reply "$OUT" 'RCPT TO:<bad@example.org>')" "550 5.1.1 act refuses bad@example.org" \
	"rcpt: the script refuses one recipient"
like "$(smtp_reply "$OUT" .)" '^250 ' "  and the message is accepted for the other"
pf_wait_delivered bob@example.org 1 || diag "$OUT"
F=$(pf_last_message bob@example.org)
is "$(header "$F" Subject)" "[act] tag" "the subject the sink changed is delivered"
grep -q 'is confidential' "$F"; ok $? "  beside the disclaimer"
is "$(header "$F" X-Keep)" untouched "  other header fields as sent"
part "$F" a.bin | cmp -s - "$W/a.bin"; ok $? "  the attachment byte for byte as sent"
python3 - "$F" "$W/tag.eml" <<'PY'
import sys
# the attachment's base64 lines, as sent, are in the delivered message
sent = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n")
got = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
start = sent.index(b"Content-Type: application/octet-stream")
sys.exit(0 if sent[start:] in got else 1)
PY
ok $? "  and its MIME part unchanged, down to the line breaks"
is "$(pf_delivered_count bad@example.org)" 0 "the refused recipient gets nothing"

declare -A r
for v in reject tempfail; do
	msg $v
	send $v --to bob@example.org
	r[$v]=$(smtp_reply "$OUT" .)
done
is "${r[reject]}" "550 5.7.1 act says no" "reject: the script's reply reaches the client"
is "${r[tempfail]}" "451 4.7.1 act says later" "tempfail: likewise"

msg discard
send discard --to dave@example.org
like "$(smtp_reply "$OUT" .)" '^250 ' "discard: the client sees the message taken"

msg quarantine
send quarantine --to quinn@example.org
like "$(smtp_reply "$OUT" .)" '^250 ' "quarantine: the client sees the message taken"
for _ in $(seq 50); do
	[ "$(find "$W/pf/queue/hold" -type f 2>/dev/null | wc -l)" -ge 1 ] && break
	sleep 0.2
done
is "$(find "$W/pf/queue/hold" -type f 2>/dev/null | wc -l)" 1 "  it waits in Postfix's hold queue"

msg route
send route --to rita@example.org
like "$(smtp_reply "$OUT" .)" '^250 ' "route: accepted"
pf_wait_delivered copy@example.org 1 || diag "$OUT"
pf_wait_delivered rita@example.org 1
is "$(header "$(pf_last_message copy@example.org)" Return-Path)" "<act@example.com>" \
	"  the recipient the sink added gets it, from the sender it set"
is "$(header "$(pf_last_message rita@example.org)" Return-Path)" "<act@example.com>" \
	"  and so does the original recipient"

msg strip
send strip --to sam@example.org
pf_wait_delivered sam@example.org 1 || diag "$OUT"
F=$(pf_last_message sam@example.org)
grep -q '^a.bin was removed' "$F"; ok $? "strip: the attachment is removed, the sink's notice in its place"
part "$F" a.bin | cmp -s - "$W/a.bin"
ok $(( ! $? )) "  and its bytes are gone"
grep -q 'is confidential' "$F"; ok $? "  the disclaimer is there too"

msg crash
send crash --to carl@example.org
like "$(smtp_reply "$OUT" .)" '^451 4\.3\.0 ' "a runtime error in the script: on-error (tempfail)"
msg tag
send tag --to tina@example.org
like "$(smtp_reply "$OUT" .)" '^250 ' "  the next message passes"

is "$(pf_delivered_count dave@example.org)" 0 "the discarded message was delivered to nobody"
is "$(pf_delivered_count carl@example.org)" 0 "nor the one the script failed on"

sleep 1
log=$(sk_log)
like "$log" "sink:act: eom: [^ ]*act\\.lua:[0-9]+: attempt to index a nil value" \
	"the script's error is logged with its file and line"
like "$log" "verdict=reject handler=sink:act code=550 xcode=5.7.1" "the message line names the sink"
like "$log" "sink\\.act\\.subject=route" "  and carries its notes"
sk_log_clean
ok $? "no sanitizer report or panic in sinkd's log"

done_testing
