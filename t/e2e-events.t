#!/bin/bash
# e2e-events.t - after-accept events through a real Postfix: the journal,
# the webhook target, a native, a Lua and a co-process sink's accepted hook
#
# Real SMTP into a private Postfix whose milter is the real sinkd with an
# [event:hook] webhook target (a receiver of the test's own, t/lib/
# webhook.py, which records each request, dedupes by Idempotency-Key and
# counts duplicates) and the chain protocol, sink:ev (t/sinks/events.so,
# whose accepted hook logs each event with the size of the message copy
# it was handed).  Checked on what Postfix delivered and the receiver and
# the sink recorded:
#   - N messages give N webhook deliveries with distinct keys, each the
#     event of its message (queue id and SHA-256 in the key, recipients,
#     subject, JSON body); a domain whose policy sets enabled = no for the
#     target gives it no event; a Subject that is not UTF-8 still gives a
#     JSON event;
#   - the receiver answering 400: the event is given up (logged); 429:
#     tried again until it is taken;
#   - the receiver down while mail flows: the mail is still accepted and
#     delivered, and the events come once it is back, each key once;
#   - the receiver failing (500) and sinkd killed with SIGKILL: after a
#     restart the events are replayed, none lost, none twice;
#   - the sink's accepted hook gets every event, with the message's copy;
#   - journal full: journal-full = tempfail refuses the message (451) and
#     logs it, and accepts again once events are delivered; drop-oldest
#     accepts every message, drops the oldest events and logs it;
#   - outbound mail takes its sender domain's setting (direction =
#     outbound);
#   - the log holds no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/webhook.sh"

[ -f "$TOP/t/sinks/events.so" ] || bail_out "no t/sinks/events.so: run make tests"
e2e_workdir e2e-events
trap '_e2e_cleanup; wh_stop' EXIT
mkdir -p "$W/pf" "$W/sk" "$W/ev"
chown postfix "$W/ev"
wh_start "$W/hook" || bail_out "no webhook receiver"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:ev, sink:lev, sink:pev/' "$W/sk/conf/sinkd.conf"
cat >"$W/sk/conf/lev.lua" <<'LUA'
-- lev.lua: logs each event it gets; asks to have the first again later
local first = true
return {
	name = "lev",
	accepted_body = true,
	accepted = function(ctx, event, body)
		if first then
			first = false
			return "retry"
		end
		ctx:log("lev " .. event.key .. " to=" .. event.recipients[1]
			.. " subject=" .. event.headers.subject[1]
			.. " body=" .. (body and "yes" or "no"))
		return "done"
	end,
}
LUA
chmod 644 "$W/sk/conf/lev.lua"
# pev.py: a co-process sink (the shipped Python helper) whose accepted
# hook writes each event's key and the size of the message's copy
install -m 644 "$TOP/etc/sinks/sinkd_sink.py" "$W/sk/conf/"
cat >"$W/sk/conf/pev.py" <<'PY'
#!/usr/bin/python3
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sinkd_sink
sink = sinkd_sink.Sink("pev", keys=[
    {"name": "log", "type": "string", "default": "", "doc": "where events go"}],
    accepted_body=True)
@sink.hook("accepted")
def accepted(ctx):
    size = os.path.getsize(ctx.body) if ctx.body else -1
    with open(ctx.config("log"), "a") as f:
        f.write("%s\t%d\n" % (ctx.event["key"], size))
    return "done"
sink.run()
PY
chmod 755 "$W/sk/conf/pev.py"
sk_conf "state-dir = $W/sk/state" \
	'[event:hook]' 'type = webhook' "url = $WH_URL" 'timeout = 5s' 'retry-max = 1s' \
	'[sink:ev]' "module = $(fixture "$TOP/t/sinks/events.so" "$SK_DIR/conf")" \
	"log = $W/ev/events.log" "result = $W/ev/result" \
	'[sink:lev]' 'script = lev.lua' \
	'[sink:pev]' "command = $W/sk/conf/pev.py" "log = $W/ev/pev.log"
printf '[event:hook]\nenabled = no\n' >"$W/sk/conf/domains/quiet.example.conf"
printf '[event:hook]\ndirection = outbound\n' >"$W/sk/conf/domains/out.example.conf"
sk_start || bail_out "sinkd did not start"

# msg FILE TO SUBJECT [SUBJECT-REPEAT]: a message (a long subject, folded,
# with a repeat count)
msg() {
	python3 - "$W/$1" "$2" "$3" "${4:-0}" <<'PY'
import sys
path, to, subj, rep = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
lines = ["From: someone@outside.example", "To: " + to, "Subject: " + subj]
lines += [" " + "x" * 70 for _ in range(rep)]
lines += ["Message-ID: <%s@outside.example>" % subj, "", "Hello, %s." % subj, ""]
open(path, "w").write("\r\n".join(lines))
PY
}
send() { pf_swaks --from someone@outside.example --data "$W/$1" --to "$2"; }
# events FIELD: one line per recorded request: a field of its event
events() {
	PYTHONIOENCODING=utf-8 python3 - "$WH_DIR/requests.jsonl" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    e = r["event"]
    f = sys.argv[2]
    if f == "check":
        ok = (r["content_type"] == "application/json" and e["version"] == 1
              and e["key"] == r["key"] and r["key"] == "%s.%s" % (e["queue_id"], e["sha256"])
              and len(e["sha256"]) == 64 and e["verdict"] == "accept"
              and e["direction"] == "inbound" and e["sender"] == "someone@outside.example"
              and "body" not in e)
        print("ok" if ok else "bad: " + line.strip())
    elif f == "rcpt":
        print(",".join(e["recipients"]))
    elif f == "subject":
        print(e["headers"]["subject"][0])
    else:
        print(e[f])
PY
}
# accepted N SUBJECT-PREFIX TO: N messages, each accepted (250) and delivered
accepted() {
	local i out good=0
	for i in $(seq 1 "$1"); do
		msg "$2$i" "$3" "$2$i"
		out=$(send "$2$i" "$3")
		[[ "$(smtp_reply "$out" .)" == 250* ]] && good=$((good + 1))
	done
	echo "$good"
}

# a domain whose policy has the target off, then N messages
msg quiet x@quiet.example quiet
like "$(smtp_reply "$(send quiet x@quiet.example)" .)" '^250 ' "a message for a domain with the target off is accepted"
# inbound for two domains: one with the target off, one wanting only
# outbound events of it: none due; with a domain that has it on: due
msg quietout x@quiet.example quietout
like "$(smtp_reply "$(send quietout x@quiet.example,y@out.example)" .)" '^250 ' "  one for it and a domain whose target takes outbound mail only"
msg quietdef x@quiet.example quietdef
like "$(smtp_reply "$(send quietdef x@quiet.example,z@example.org)" .)" '^250 ' "  one for it and a domain with the target on"
is "$(accepted 5 first a@example.org)" 5 "5 messages accepted"
pf_wait_delivered a@example.org 5 || diag "not delivered"
wh_wait_keys 6 || diag "$(sk_log | tail -20)"
is "$(wh_keys)" 6 "6 webhook deliveries with distinct idempotency keys"
is "$(wh_dups)" 0 "  no key twice"
is "$(events check | sort -u)" ok "  each a JSON event whose key is its queue id and SHA-256, without the copy's path (the sinks want it, the webhook not)"
is "$(events subject | sort | paste -sd' ')" "first1 first2 first3 first4 first5 quietdef" "  one per message, by subject"
is "$(events rcpt | grep -c 'quiet.example$')" 0 "  none for the domain whose policy has the target off"
is "$(events rcpt | grep -c out.example)" 0 "  none for it with a domain whose target takes outbound mail only"
is "$(events rcpt | grep -c 'quiet.example,z@example.org')" 1 "  one for it with a domain that has the target on"

# a Subject with a byte that is not UTF-8 (Latin-1): the event is still
# JSON, the byte replaced
printf 'From: someone@outside.example\r\nTo: a@example.org\r\nSubject: caf\xe9\r\n\r\nHello.\r\n' >"$W/latin1"
like "$(smtp_reply "$(send latin1 a@example.org)" .)" '^250 ' "a message with an 8-bit Subject is accepted"
wh_wait_keys 7 || diag "$(sk_log | tail -20)"
is "$(events subject | tail -1)" "caf�" "  its event arrives, the byte that is not UTF-8 replaced by U+FFFD"

# the receiver down while mail flows
wh_stop
is "$(accepted 3 down a@example.org)" 3 "receiver down: 3 messages accepted"
pf_wait_delivered a@example.org 9 || diag "not delivered"
is "$(pf_delivered_count a@example.org)" 9 "  and delivered"
for i in $(seq 1 50); do grep -q 'event:hook: event .* not delivered' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'event:hook: event' "$SK_DIR/sinkd.log" | tail -1)" 'not delivered: .*again in' "  the failed delivery is logged, with the next try"
wh_start "$W/hook" "$WH_PORT" || bail_out "webhook receiver did not start again"
wh_wait_keys 10 || diag "$(sk_log | tail -20)"
is "$(wh_keys)" 10 "the receiver back: the 3 events arrive"
is "$(wh_dups)" 0 "  each key once"
is "$(events subject | grep -c '^down')" 3 "  the events of the messages sent while it was down"

# the receiver refusing one (400: given up, logged) and busy with the next
# (429: tried again)
wh_mode refuse
is "$(accepted 1 refused a@example.org)" 1 "receiver refusing (400): the message is accepted"
for i in $(seq 1 100); do grep -q 'refused for good' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'refused for good' "$SK_DIR/sinkd.log")" 'error: [0-9A-F]+: event:hook: event [0-9]+ refused for good: .*HTTP status 400 \(skipped; 1 in all\)' "  the event is given up, logged"
wh_mode busy
is "$(accepted 1 busy a@example.org)" 1 "receiver busy (429): the message is accepted"
for i in $(seq 1 100); do grep -q 'HTTP status 429' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'HTTP status 429' "$SK_DIR/sinkd.log" | head -1)" 'not delivered: .*HTTP status 429 \(try 1; again in' "  the 429 is tried again"
wh_mode ok
wh_wait_keys 11 || diag "$(sk_log | tail -20)"
is "$(events subject | grep -c '^busy\|^refused')" 1 "  and arrives once the receiver takes it; the refused one never does"
is "$(events subject | grep -c '^busy')" 1 "  (the busy one)"

# the receiver failing, and sinkd killed with events not yet delivered
wh_mode fail
is "$(accepted 3 kill a@example.org)" 3 "receiver failing: 3 messages accepted"
for i in $(seq 1 50); do grep -q 'HTTP status 500' "$SK_DIR/sinkd.log" && break; sleep 0.1; done
like "$(grep 'event:hook: event' "$SK_DIR/sinkd.log" | tail -1)" 'HTTP status 500' "  the 500 is logged"
sk_kill
sk_start || bail_out "sinkd did not start again"
like "$(grep 'journal .*: .* bytes, last event' "$SK_DIR/sinkd.log" | tail -1)" 'last event 17;' "after kill -9, the journal is replayed: 17 events"
wh_mode ok
wh_wait_keys 14 || diag "$(sk_log | tail -20)"
is "$(wh_keys)" 14 "  the 3 undelivered events arrive after the restart"
is "$(wh_dups)" 0 "  none twice"
is "$(events subject | grep -c '^kill')" 3 "  the events of the messages sent before the kill"

# the sink's accepted hook: every event (the quiet domain's too), with
# the message's copy
for i in $(seq 1 100); do [ "$(wc -l <"$W/ev/events.log" 2>/dev/null)" -ge 17 ] && break; sleep 0.1; done
is "$(cut -f1 "$W/ev/events.log" | python3 -c '
import json, sys
print(len(set(json.loads(l)["key"] for l in sys.stdin)))')" 17 "the sink's accepted hook got the 17 events"
is "$(cut -f2 "$W/ev/events.log" | awk '$1 <= 0' | wc -l)" 0 "  each with the message's copy"
is "$(cut -f1 "$W/ev/events.log" | grep -c quiet.example)" 3 "  the quiet domain's too (enabled is the webhook's key)"
like "$(grep 'sink:ev: event taken' "$SK_DIR/sinkd.log" | head -1)" '^[^ ]* sinkd\[[0-9]*\]: [0-9A-F]*: sink:ev: event taken' "  its log lines go to sinkd's log, with the queue id"
for i in $(seq 1 100); do [ "$(grep -c 'sink:lev: lev ' "$SK_DIR/sinkd.log")" -ge 17 ] && break; sleep 0.1; done
is "$(grep -o 'sink:lev: lev [^ ]*' "$SK_DIR/sinkd.log" | sort -u | wc -l)" 17 "a Lua sink's accepted hook got the 17 events"
is "$(grep 'sink:lev: lev ' "$SK_DIR/sinkd.log" | grep -vc ' body=yes')" 0 "  each with the message's copy (accepted_body = true)"
like "$(grep 'sink:lev: lev .*subject=first3' "$SK_DIR/sinkd.log")" 'to=a@example.org subject=first3 ' "  as a table: recipients, headers"
like "$(grep 'sink:lev: event 1 ' "$SK_DIR/sinkd.log" | head -1)" 'accepted hook returned retry' "  its retry is logged, and the event comes again"
for i in $(seq 1 100); do [ "$(wc -l <"$W/ev/pev.log" 2>/dev/null)" -ge 17 ] && break; sleep 0.1; done
is "$(cut -f1 "$W/ev/pev.log" | sort -u | wc -l)" 17 "a co-process sink's accepted hook got the 17 events"
is "$(awk -F'\t' '$2 <= 0' "$W/ev/pev.log" | wc -l)" 0 "  each with the message's copy (accepted_body)"
sk_stop
bodies=$(find "$SK_DIR/state/journal/bodies" -type f | wc -l)
is "$bodies" 0 "  the copies are removed once delivered"

# journal full, tempfail: a 64k journal, no sink; events of ~25k (a long
# subject) while the receiver is down
sed -i '/^chain = /c chain = protocol' "$W/sk/conf/sinkd.conf"
sed -i "s|^state-dir = .*|state-dir = $W/sk/state2\njournal-size = 64k|" "$W/sk/conf/sinkd.conf"
sk_start || bail_out "sinkd did not start with a small journal"
wh_stop
msg big1 b@example.org big1 350
msg big2 b@example.org big2 350
msg big3 b@example.org big3 350
like "$(smtp_reply "$(send big1 b@example.org)" .)" '^250 ' "journal-full = tempfail: a first message accepted"
like "$(smtp_reply "$(send big2 b@example.org)" .)" '^250 ' "  a second one"
is "$(smtp_reply "$(send big3 b@example.org)" .)" "451 4.3.0 Temporary local problem, try again later" \
	"  the third, past journal-size, is tempfailed"
like "$(grep 'journal full' "$SK_DIR/sinkd.log" | tail -1)" 'event: journal full .*message tempfailed' "  and logged"
n=$(wh_keys)
wh_start "$W/hook" "$WH_PORT" || bail_out "webhook receiver did not start again"
wh_wait_keys $((n + 2)) || diag "$(sk_log | tail -20)"
is "$(wh_keys)" $((n + 2)) "  the receiver back: the 2 events arrive"
# the cursor is written and the segments it passed removed
for i in $(seq 1 100); do [ "$(ls "$SK_DIR/state2/journal" | grep -c '\.seg$')" -le 1 ] && break; sleep 0.1; done
like "$(smtp_reply "$(send big3 b@example.org)" .)" '^250 ' "  then the third is accepted"
wh_wait_keys $((n + 3)) || diag "$(sk_log | tail -20)"
sk_stop
like "$(grep 'journal: .* events written' "$SK_DIR/sinkd.log" | tail -1)" ' 1 refused \(full\)' "  the refusal is counted"

# journal full, drop-oldest: every message accepted, the oldest events go
sed -i "s|^journal-size = 64k|journal-size = 64k\njournal-full = drop-oldest|" "$W/sk/conf/sinkd.conf"
sk_start || bail_out "sinkd did not start with drop-oldest"
wh_stop
good=0
for i in 1 2 3 4; do
	msg drop$i b@example.org drop$i 350
	[[ "$(smtp_reply "$(send drop$i b@example.org)" .)" == 250* ]] && good=$((good + 1))
done
is "$good" 4 "journal-full = drop-oldest: 4 messages accepted"
like "$(grep 'dropped events' "$SK_DIR/sinkd.log" | tail -1)" 'warning: journal full \(65536 bytes\): dropped events [0-9]+ to [0-9]+' "  the drop is logged"
n=$(wh_keys)
wh_start "$W/hook" "$WH_PORT" || bail_out "webhook receiver did not start again"
for i in $(seq 1 100); do events subject | grep -q '^drop4' && break; sleep 0.1; done
got=$(events subject | grep '^drop' | cut -c1-5 | sort | paste -sd' ')
like "$got" 'drop4$' "  the newest event arrives ($got)"
unlike "$got" 'drop1' "  the oldest was dropped"
sk_conf '[event:later]' 'type = webhook' "url = $WH_URL"
sk_reload || diag "no reload"
like "$(grep 'event:later' "$SK_DIR/sinkd.log")" 'event:later: a new target: .*until a restart' "a target added by a reload: a warning that it starts at the next restart"
sk_stop
like "$(grep 'journal: .* events written' "$SK_DIR/sinkd.log" | tail -1)" ' [1-9][0-9]* dropped \(full\)' "  the drop is counted"

# outbound mail (the client made internal): the sender domain's policy,
# whose target takes outbound mail only, makes it due
sed -i '/^\[event:later\]$/,$d; s|^internal-hosts = .*|internal-hosts = 127.0.0.0/8|' "$W/sk/conf/sinkd.conf"
sk_start || bail_out "sinkd did not start again"
msg outgoing far@elsewhere.example outgoing
pf_swaks --from someone@out.example --data "$W/outgoing" --to far@elsewhere.example >/dev/null
for i in $(seq 1 100); do events subject | grep -q '^outgoing' && break; sleep 0.1; done
like "$(events direction | tail -1) $(events subject | tail -1)" '^outbound outgoing$' \
	"an outbound message of a domain whose target takes outbound mail only: its event, direction outbound"
sk_stop
is "$(wh_dups)" 0 "no key reached the receiver twice"

ok "$(sk_log_clean; echo $?)" "no sanitizer report in sinkd's log"
done_testing
