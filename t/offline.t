#!/bin/bash
# offline.t - the protocol handler's rules through sinkd -t, stage by stage
#
# Each case runs one message through the chain offline and checks the
# verdict line (exact code, enhanced code, text, handler), the envelope
# after edits and the message printed.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

mkdir -p "$W/domains" "$W/spool"
cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = protocol
spool-dir = $W/spool
internal-hosts = 10.255.0.0/16
max-message-size = 4k
body-memory-limit = 1k
[protocol]
connect-deny = 192.0.2.0/24
connect-allow = 192.0.2.7
connect-reply = 554 5.7.1 Go away, \${client_addr} is not welcome
helo-deny = localhost, /^\\[?127\\./
helo-reply = 550 5.7.1 Bad HELO
deny-senders = bad@example.net, @spam.example, /^x-/
allow-senders = x-good@example.net
sender-reply = 550 5.7.1 Sender refused\\nSee the policy
require-auth = yes
deny-recipients = nobody@example.org
recipient-reply = 550 5.1.1 No such user here
max-recipients = 3
reject-multi-recipient-bounce = yes
add-headers = X-Seen: \${direction} from \${client_addr} helo=\${helo} auth=\${auth_user}
CONF
cat > "$W/domains/example.com.conf" <<CONF
[protocol]
deny-senders = friend@example.net
sender-reply = 550 5.7.1 example.com does not take mail from you
list-file = lists
rewrite-recipients = old@example.com => new@example.com, @legacy.example.com => @example.com
bcc = archive@example.com
rewrite-sender = @internal.example.com => @example.com
CONF
cat > "$W/lists" <<CONF
[lists]
staff@example.com = alice@example.com, bob@example.com, team@example.com
team@example.com = carol@example.org, alice@example.com
CONF
printf 'From: someone\nTo: someone\nSubject: test\n\nbody line\n' > "$W/msg"

# t ARGS...: run sinkd -t on $W/msg (or $MSG); sets OUT (stdout file), ERR
BADEXIT=0
t() {
	"$SINKD" -t -c "$W/sinkd.conf" "$@" <"${MSG:-$W/msg}" >"$W/out" 2>"$W/err" || BADEXIT=$((BADEXIT + 1))
	ERR=$(cat "$W/err")
}

t -F a@example.net -R x@example.org -C 192.0.2.5,mx.example.net
is "$ERR" 'verdict=reject code=554 xcode=5.7.1 handler=protocol text="Go away, ${client_addr} is not welcome" edits=0 ' \
	"connect-deny refuses 192.0.2.5 at connect with connect-reply"
[ ! -s "$W/out" ]; ok $? "a refused message is not printed"
t -F a@example.net -R x@example.org -C 192.0.2.7,mx.example.net
like "$ERR" '^verdict=accept ' "connect-allow exempts 192.0.2.7"
t -F a@example.net -R x@example.org -C 198.51.100.1,localhost
is "$ERR" 'verdict=reject code=550 xcode=5.7.1 handler=protocol text="Bad HELO" edits=0 ' "helo-deny by name"
t -F a@example.net -R x@example.org -C 198.51.100.1,[127.0.0.1]
like "$ERR" '^verdict=reject code=550 xcode=5.7.1 handler=protocol text="Bad HELO"' "helo-deny by regex"

for s in bad@example.net BAD@Example.Net u@spam.example x-anything@example.org; do
	t -F "$s" -R x@example.org -C 198.51.100.1,mx.example.net
	like "$ERR" '^verdict=reject code=550 xcode=5.7.1 handler=protocol text="Sender refused\\nSee the policy"' \
		"deny-senders refuses $s with the two-line sender-reply"
done
t -F x-good@example.net -R x@example.org -C 198.51.100.1,mx.example.net
like "$ERR" '^verdict=accept ' "allow-senders exempts x-good@example.net from the regex"
t -F u@a.spam.example -R x@example.org -C 198.51.100.1,mx.example.net
like "$ERR" '^verdict=accept ' "@domain does not match a subdomain"

t -F u@example.com -R x@example.org -C 10.255.1.1,pc.example.com
is "$ERR" 'verdict=reject code=530 xcode=5.7.0 handler=protocol text="Authentication required" edits=0 from=<u@example.com> rcpts= direction=outbound policy=example.com changed=no' \
	"require-auth: an internal client must authenticate"
t -F u@example.com -R x@example.org -C 10.255.1.1,pc.example.com -A user1
like "$ERR" '^verdict=accept ' "require-auth: authenticated, accepted"
grep -q '^X-Seen: outbound from 10.255.1.1 helo=pc.example.com auth=user1$' "$W/out"
ok $? "add-headers expands direction, client, helo and auth user"
t -F u@example.com -R x@example.org -C 198.51.100.9,mx.example.net -A user1
grep -q '^X-Seen: outbound from 198.51.100.9' "$W/out"
ok $? "an authenticated external client is outbound"

t -F a@example.net -R nobody@example.org -R x@example.org -C 198.51.100.1,mx.example.net
is "$ERR" 'verdict=accept edits=1 rcpts-rejected=1 from=<a@example.net> rcpts=<x@example.org> direction=inbound policy=default changed=protocol:+X-Seen' \
	"deny-recipients refuses only that recipient"
t -F a@example.net -R nobody@example.org -C 198.51.100.1,mx.example.net
is "$ERR" 'verdict=reject code=550 xcode=5.1.1 handler=protocol text="No such user here" edits=0 rcpts-rejected=1 from=<a@example.net> rcpts= direction=inbound policy=default changed=no' \
	"no recipient left: the message is refused with recipient-reply"
t -F a@example.net -R 1@example.org -R 2@example.org -R 3@example.org -R 4@example.org -C 198.51.100.1,mx.example.net
like "$ERR" '^verdict=accept edits=1 rcpts-rejected=1 deferred=<4@example.org>:452:4.5.3 from=<a@example.net> rcpts=<1@example.org>,<2@example.org>,<3@example.org>( |$)' \
	"max-recipients = 3 defers the fourth"
t -F '' -R 1@example.org -R 2@example.org -C 198.51.100.1,mx.example.net
like "$ERR" '^verdict=reject code=550 xcode=5.5.3 handler=protocol text="Multi-recipient bounce rejected"' \
	"reject-multi-recipient-bounce at DATA"
t -F '' -R 1@example.org -C 198.51.100.1,mx.example.net
like "$ERR" '^verdict=accept ' "a bounce to one recipient passes"

# per-domain policy, inbound
t -F friend@example.net -R a@example.com -R b@example.org -C 198.51.100.1,mx.example.net
like "$ERR" 'rcpts-rejected=1 from=<friend@example.net> rcpts=<b@example.org>( |$)' \
	"inbound: example.com's own deny-senders refuses its recipient, example.org's is kept"
t -F friend@example.net -R a@example.com -C 198.51.100.1,mx.example.net
is "$ERR" 'verdict=reject code=550 xcode=5.7.1 handler=protocol text="example.com does not take mail from you" edits=0 rcpts-rejected=1 from=<friend@example.net> rcpts= direction=inbound policy=default changed=no' \
	"  with example.com's own reply"

# routing edits
t -F a@example.net -R staff@example.com -C 198.51.100.1,mx.example.net
like "$ERR" 'from=<a@example.net> rcpts=<alice@example.com>,<bob@example.com>,<carol@example.org>,<archive@example.com>( |$)' \
	"list expansion with a nested list, each member once, plus bcc"
t -F a@example.net -R old@example.com -R u@legacy.example.com -C 198.51.100.1,mx.example.net
like "$ERR" 'rcpts=<new@example.com>,<u@example.com>,<archive@example.com>( |$)' "rewrite-recipients, address and @domain"
t -F u@internal.example.com -R x@example.org -C 10.255.1.1,pc.example.com -A user1
like "$ERR" 'from=<u@example.com> ' "rewrite-sender on outbound mail of example.com"

# header safety: a HELO carrying CR/LF cannot add a header
t -F a@example.net -R x@example.org -C $'198.51.100.1,evil\r\nBcc: victim@example.org'
grep -qi '^Bcc:' "$W/out"
ok $((! $?)) "CR/LF in a variable cannot inject a header"
[ "$(grep -c '^X-Seen:' "$W/out")" = 1 ]
ok $? "  the header stays one line"

# fidelity
t -F a@example.net -R x@example.org -C 192.0.2.7,mx.example.net
head -c 5 "$W/out" | grep -q 'From:'; ok $? "output starts with the message"
tail -n 1 "$W/out" | grep -q '^body line$'; ok $? "the body is kept"
! grep -q $'\r' "$W/out"; ok $? "LF input gives LF output"
printf 'From: someone\r\nSubject: crlf\r\n\r\nbody\r\n' > "$W/crlf"
MSG=$W/crlf t -F a@example.net -R x@example.org -C 198.51.100.1,mx.example.net
[ "$(grep -c $'\r$' "$W/out")" = 5 ]; ok $? "CRLF input gives CRLF output, added header included"

# size and spool
head -c 2000 /dev/urandom | base64 -w 76 > "$W/big"
printf 'Subject: big\n\n' | cat - "$W/big" > "$W/bigmsg"
MSG=$W/bigmsg t -F a@example.net -R x@example.org -C 198.51.100.1,mx.example.net
like "$ERR" '^verdict=accept' "a message over body-memory-limit passes"
tail -n +4 "$W/out" | cmp -s - "$W/big"; ok $? "  its body is kept byte for byte"
head -c 6000 /dev/urandom | base64 -w 76 > "$W/huge"
printf 'Subject: huge\n\n' | cat - "$W/huge" > "$W/hugemsg"
MSG=$W/hugemsg t -F a@example.net -R x@example.org -C 198.51.100.1,mx.example.net
is "$ERR" 'verdict=reject code=552 xcode=5.3.4 handler=sinkd text="Message size exceeds fixed limit" edits=0 from=<a@example.net> rcpts=<x@example.org> direction=inbound policy=default changed=no' \
	"over max-message-size: 552 5.3.4"
[ -z "$(ls -A "$W/spool")" ]; ok $? "no spool file is left behind"

# the verdict line: direction, policy, what changed, in a fixed order
t -F a@example.net -R x@example.org -C 198.51.100.1,mx.example.net
like "$ERR" '^verdict=accept edits=1 from=<a@example\.net> rcpts=<x@example\.org> direction=inbound policy=default changed=protocol:\+X-Seen$' \
	"verdict line: envelope, direction, policy, changed=handler:what"
t -F u@example.com -R x@example.org -C 10.255.0.1,pc.example.com -A u
like "$ERR" ' direction=outbound policy=example\.com changed=protocol:\+rcpt,protocol:\+X-Seen$' \
	"  outbound: the sender domain's policy; a recipient added"

# a dry run: sinkd -t on EICAR with the quarantine and every temporary
# directory under this test's own; nothing is written in any of them
# unless --quarantine asks for the quarantine for real
source lib/clamav.sh
if command -v sigtool >/dev/null && av_db "$W/db"; then
	mkdir -p "$W/q" "$W/cltmp" "$W/tmp"
	cat > "$W/av.conf" <<CONF
[sinkd]
chain = protocol, clamav
spool-dir = $W/spool
body-memory-limit = 1k
internal-hosts = 10.255.0.0/16
[protocol]
add-headers = X-Seen: yes
[clamav]
database = $W/db
tmpdir = $W/cltmp
quarantine-dir = $W/q
action = quarantine
clean-cache = no
CONF
	{ printf 'From: a@example.net\nTo: x@example.org\nSubject: v\nMIME-Version: 1.0\n'
	  printf 'Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n'
	  head -c 3000 /dev/urandom | base64 -w 76
	  printf -- '--b\nContent-Type: application/octet-stream; name=e.com\nContent-Transfer-Encoding: base64\n\n'
	  av_eicar "$W/eicar"; base64 <"$W/eicar"; printf -- '--b--\n'; } >"$W/virus"
	av() { TMPDIR=$W/tmp "$SINKD" -t -c "$W/av.conf" -F a@example.net -R x@example.org \
		-C 198.51.100.1,mx.example.net "$@" <"$W/virus" >"$W/out" 2>"$W/err"
		ERR=$(tail -n 1 "$W/err"); }
	av
	like "$ERR" "^verdict=discard handler=clamav edits=1 from=<a@example\\.net> rcpts=<x@example\\.org> direction=inbound policy=default changed=protocol:\\+X-Seen virus=eicar\\.com\\.UNOFFICIAL quarantine=$W/q\$" \
		"EICAR, dry run: the verdict line says it would be quarantined, and where"
	is "$(ls -A "$W/q" | wc -l)" 0 "  nothing is written in the quarantine"
	is "$(ls -A "$W/spool" "$W/cltmp" | grep -vc ':$\|^$')" 0 "  nor in spool-dir or clamav's tmpdir"
	is "$(ls -A "$W/tmp" | wc -l)" 0 "  and its own temporary directory is gone"
	av --quarantine
	like "$ERR" "^verdict=discard handler=clamav .* quarantine=$W/q/[0-9]{8}T[0-9]{6}-[0-9a-f]{16}\\.eml\$" \
		"--quarantine: quarantined for real, the verdict line names the entry"
	is "$(ls "$W/q" | grep -c '\.meta$')" 1 "  and the entry is there"
	sed -i 's/^action = quarantine/action = quarantine\nquarantine-method = hold/' "$W/av.conf"
	av
	like "$ERR" '^verdict=quarantine handler=clamav .* quarantine=hold$' \
		"quarantine-method = hold: verdict=quarantine ... quarantine=hold"
	sed -i 's/^action = .*/action = reject/; /^quarantine-method/d' "$W/av.conf"
	av
	like "$ERR" '^verdict=reject code=550 xcode=5\.7\.1 handler=clamav text="Message contains a virus \(eicar\.com\.UNOFFICIAL\)" .* virus=eicar\.com\.UNOFFICIAL$' \
		"action = reject: the reply and the virus"
	# what the body handlers did, named in the verdict line
	cat > "$W/rw.conf" <<CONF
[sinkd]
chain = rewrite, disclaimer
spool-dir = $W/spool
[rewrite]
banned-extensions = com
[disclaimer]
text-file = $(fixture "$PWD/disclaimer/text.tmpl" "$W")
CONF
	"$SINKD" -t -c "$W/rw.conf" -F a@example.com -R b@example.org <"$W/virus" >"$W/out" 2>"$W/err"
	like "$(tail -n 1 "$W/err")" ' direction=outbound policy=example\.com changed=sinkd:body rewrite=replaced:e\.com disclaimer=added$' \
		"the verdict line names the part rewrite replaced and the disclaimer added"
else
	bail_out "sigtool (package clamav) is needed for the dry-run tests"
fi
is "$BADEXIT" 0 "sinkd -t exited 0 every time"
done_testing
