#!/bin/bash
# negotiate.t - what sinkd asks of the MTA, for each kind of configuration
#
# bench/milterload plays Postfix (milter protocol 6, every step and reply
# offered) against a real sinkd and prints the protocol flags sinkd chose.
# A step no rule can refuse at costs no round trip: CONNECT, HELO, MAIL
# and RCPT come without a reply (SMFIP_NR_*), DATA and unknown commands
# not at all; a rule anywhere (a domain file too) brings its step's reply
# back.  A refusal at a step without a reply is held and given at the next
# step with one, never lost.  Over TCP every step keeps its reply.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/sinkd.sh"

ML=$TOP/bench/milterload
[ -x "$ML" ] || bail_out "$ML is not built (run make tests)"
e2e_workdir negotiate
chmod o+x "$W"	# sinkd checks, as postfix, that it can write its spool under it

NOBODY=0x10 NOHDRS=0x20 NOUNKNOWN=0x100 NODATA=0x200
NR_CONN=0x1000 NR_HELO=0x2000 NR_MAIL=0x4000 NR_RCPT=0x8000

MSG=$W/msg
mkdir -p "$MSG"
{
	printf 'From: a@example.net\nTo: b@example.org\nSubject: negotiate\n\n'
	for i in $(seq 1 100); do printf 'line %d of a message of about five kilobytes.....\n' "$i"; done
} >"$MSG/m.eml"

# start CHAIN [SOCKET] [LINES...]: a fresh sinkd with this chain and
# these extra lines in sinkd.conf
start() {
	local chain=$1 sock=${2:-unix:$W/sk/sinkd.sock}

	shift 2
	sk_stop
	rm -rf "$W/sk"
	sk_init "$W/sk" "$sock"
	chown postfix "$W/sk"
	sk_conf "chain = $chain" "$@"
	sk_start || bail_out "sinkd did not start"
}

# load ARGS...: one connection, one message; sets KV (the output)
load() {
	KV=$("$ML" -c 1 -m 1 "$@" "$SK_SOCKET" "$MSG" 2>"$W/ml.err")
	[ $? -eq 0 ] || diag "milterload: $(cat "$W/ml.err")"
}
kv() { printf '%s\n' "$KV" | sed -n "s/^$1=//p"; }
proto() { kv filter_protocol; }
# has FLAG: the negotiated flags include FLAG
has() { [ $(($(proto) & $1)) -ne 0 ]; }
# flags NAME...: "NAME=0|1 ..." for the flags named
flags() {
	local n out=
	for n in "$@"; do
		if has "${!n}"; then out="$out $n=1"; else out="$out $n=0"; fi
	done
	echo "${out# }"
}

STEPS=(NR_CONN NR_HELO NR_MAIL NR_RCPT NODATA NOUNKNOWN)

# --- no rules at all: the envelope without replies, one reply a message
start protocol ""
load -m 3
is "$(flags "${STEPS[@]}" NOHDRS NOBODY)" \
	"NR_CONN=1 NR_HELO=1 NR_MAIL=1 NR_RCPT=1 NODATA=1 NOUNKNOWN=1 NOHDRS=1 NOBODY=1" \
	"chain = protocol, no rules: no reply before end of message, no DATA, unknown, header or body step"
is "$(kv accept)/$(kv bytes_received)" "3/32" \
	"3 messages accepted, with 17 bytes of negotiation and one 5-byte reply a message (at end of message)"
like "$(sk_log)" "from=<sender@example\\.com> nrcpt=1 size=0 client=unknown\\[192\\.0\\.2\\.1\\] verdict=accept" \
	"the log line still has the envelope and the client"

# --- each rule brings back the reply of its own step, and only that one
check_rule() {
	local want=$1 what=$2
	shift 2
	start protocol "" "[protocol]" "$@"
	load
	is "$(flags "${STEPS[@]}")" "$want" "$what"
}
check_rule "NR_CONN=0 NR_HELO=1 NR_MAIL=1 NR_RCPT=1 NODATA=1 NOUNKNOWN=1" \
	"connect-deny: CONNECT is answered" "connect-deny = 198.51.100.0/24"
check_rule "NR_CONN=0 NR_HELO=1 NR_MAIL=1 NR_RCPT=1 NODATA=1 NOUNKNOWN=1" \
	"connect-deny-hosts: CONNECT is answered" "connect-deny-hosts = *.dyn.example"
check_rule "NR_CONN=1 NR_HELO=0 NR_MAIL=1 NR_RCPT=1 NODATA=1 NOUNKNOWN=1" \
	"helo-deny: HELO is answered" "helo-deny = localhost"
check_rule "NR_CONN=1 NR_HELO=1 NR_MAIL=0 NR_RCPT=0 NODATA=1 NOUNKNOWN=1" \
	"deny-senders: MAIL is answered, and RCPT (a recipient domain's sender rules)" \
	"deny-senders = @spam.example"
check_rule "NR_CONN=1 NR_HELO=1 NR_MAIL=0 NR_RCPT=0 NODATA=1 NOUNKNOWN=1" \
	"require-auth: MAIL and RCPT are answered" "require-auth = yes"
check_rule "NR_CONN=1 NR_HELO=1 NR_MAIL=1 NR_RCPT=0 NODATA=1 NOUNKNOWN=1" \
	"deny-recipients: RCPT is answered" "deny-recipients = @closed.example"
check_rule "NR_CONN=1 NR_HELO=1 NR_MAIL=1 NR_RCPT=0 NODATA=1 NOUNKNOWN=1" \
	"max-recipients: RCPT is answered" "max-recipients = 1"
check_rule "NR_CONN=1 NR_HELO=1 NR_MAIL=1 NR_RCPT=1 NODATA=0 NOUNKNOWN=1" \
	"reject-multi-recipient-bounce: DATA is asked for" "reject-multi-recipient-bounce = yes"
check_rule "NR_CONN=1 NR_HELO=1 NR_MAIL=1 NR_RCPT=1 NODATA=1 NOUNKNOWN=0" \
	"unknown-commands: unknown commands are asked for" "unknown-commands = XYZZY 502 5.5.1 Nothing happens"
check_rule "NR_CONN=1 NR_HELO=1 NR_MAIL=1 NR_RCPT=1 NODATA=1 NOUNKNOWN=0" \
	"unknown-reply set: unknown commands are asked for" "unknown-reply = 500 5.5.1 What?"
check_rule "NR_CONN=1 NR_HELO=1 NR_MAIL=1 NR_RCPT=1 NODATA=1 NOUNKNOWN=1" \
	"add-headers and bcc refuse nothing: no reply before end of message" \
	'add-headers = X-Test: ${queue_id}' "bcc = archive@example.net"

# the rules refuse what they should when their step is answered
start protocol "" "[protocol]" "deny-recipients = @closed.example" "max-recipients = 2"
load -r a@closed.example -r b@example.org -r c@example.org -r d@example.org
is "$(kv rcpt_refused)/$(kv accept)" "2/1" \
	"RCPT answered: the closed domain and the recipient over max-recipients are refused, the message accepted"

# --- a rule in a domain file counts as well
start protocol ""
sk_stop
printf '[protocol]\ndeny-senders = @spam.example\n' >"$W/sk/conf/domains/example.org.conf"
: >"$W/sk/sinkd.log"
sk_start || bail_out "sinkd did not start"
load -f x@spam.example -r b@example.org -r c@example.com
is "$(flags NR_MAIL NR_RCPT)" "NR_MAIL=0 NR_RCPT=0" "deny-senders in example.org.conf: MAIL and RCPT are answered"
is "$(kv rcpt_refused)/$(kv accept)" "1/1" \
	"the example.org recipient is refused for the sender at RCPT, the other one gets the message"

# --- a refusal at a step without a reply is held, and given at end of message
start protocol "" "max-message-size = 1k"
load -S
is "$(flags NR_MAIL NR_RCPT NODATA)/$(kv reject)/$(kv accept)" "NR_MAIL=1 NR_RCPT=1 NODATA=1/1/0" \
	"MAIL FROM SIZE= over max-message-size with MAIL unanswered: refused at end of message"
like "$(sk_log)" "verdict=reject handler=sinkd code=552 xcode=5\\.3\\.4" "the refusal is logged with its reply"
is "$(grep -c 'verdict=reject' "$W/sk/sinkd.log")" 1 "and logged once"
load
is "$(kv accept)" 1 "the next message, with no SIZE=, is accepted: a held refusal is for its message only"
start protocol "" "max-message-size = 1k" "[protocol]" "deny-senders = @spam.example"
load -S
is "$(flags NR_MAIL)/$(kv reject)" "NR_MAIL=0/1" "with MAIL answered, the same message is refused (at MAIL FROM)"

# --- content handlers ask for headers and body; steps keep their flags
start "protocol, rewrite" "" "[rewrite]" "header-add = X-Seen: yes"
load
is "$(flags NR_MAIL NR_RCPT NODATA NOHDRS NOBODY)/$(kv header_edits)" \
	"NR_MAIL=1 NR_RCPT=1 NODATA=1 NOHDRS=0 NOBODY=0/1" \
	"a content handler: headers and body are asked for, the envelope still without replies"

# --- over TCP every step before end of message keeps its reply
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start protocol "inet:$PORT@127.0.0.1"
load
is "$(flags "${STEPS[@]}")" "NR_CONN=0 NR_HELO=0 NR_MAIL=0 NR_RCPT=0 NODATA=0 NOUNKNOWN=1" \
	"over TCP: CONNECT, HELO, MAIL, RCPT and DATA are answered (a step without a reply would wait on delayed ACK)"
is "$(kv accept)" 1 "and the message is accepted"

# --- max-connections: one more connection is refused at connect (421 4.3.2)
# hold N: N connections that negotiate and then wait, until $W/release exists
hold() {
	python3 - "$1" "${SK_SOCKET#unix:}" "$W/release" "$W/held" <<'PY' &
import os, socket, struct, sys, time
n, path, release, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
conns = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    body = b"O" + struct.pack(">III", 6, 0x1ff, 0x1fffff)
    s.sendall(struct.pack(">I", len(body)) + body)
    head = s.recv(4)                       # the filter's OPTNEG reply
    s.recv(struct.unpack(">I", head)[0])
    conns.append(s)
open(ready, "w").close()
while not os.path.exists(release):
    time.sleep(0.05)
PY
	HOLD_PID=$!
	for i in $(seq 1 200); do [ -e "$W/held" ] && return 0; sleep 0.05; done
	return 1
}
rm -f "$W/release" "$W/held"
start protocol "" "max-connections = 3"
hold 3
ok $? "three connections negotiate and stay open"
load -c 2
is "$(kv conn_refused)/$(kv messages)/$(kv errors)" "2/0/0" \
	"max-connections = 3 with three open: two more connections are refused at connect"
like "$(sk_log)" "connection refused: [45] connections, max-connections = 3" "the refusal is logged"
touch "$W/release"
wait "$HOLD_PID"
for i in $(seq 1 50); do load; [ "$(kv accept)" = 1 ] && break; sleep 0.1; done
is "$(kv accept)/$(kv conn_refused)" "1/0" "once they are closed, a new connection gets through"
start protocol "" "max-connections = 100"
BEFORE=$(awk '/^Threads:/ {print $2}' "/proc/$(sk_pid)/status")
KV=$("$ML" -c 500 -m 4 "$SK_SOCKET" "$MSG" 2>"$W/ml.err")
like "$(kv messages)" '^[0-9]+$' "500 connections at once, 4 messages each: milterload finishes"
diag "500 connections, max-connections = 100: $(kv conn_refused) refused at connect, $(( $(kv accept) / 4 )) served"
is "$(( $(kv accept) % 4 ))/$(kv errors)/$(( $(kv accept) / 4 + $(kv conn_refused) ))" "0/0/500" \
	"every connection either has its 4 messages accepted or is refused at connect, none breaks"
for i in $(seq 1 100); do
	AFTER=$(awk '/^Threads:/ {print $2}' "/proc/$(sk_pid)/status")
	[ "$AFTER" -le "$BEFORE" ] && break
	sleep 0.1
done
is "$AFTER" "$BEFORE" "sinkd is back to its $BEFORE threads once they are closed"

sk_stop
sk_log_clean; ok $? "no sanitizer report in sinkd's log"
done_testing
