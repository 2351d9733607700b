#!/bin/bash
# merge.t - inbound mail for several domains through sinkd -t: the policy
# that judges the message does not depend on the recipients' order, and a
# recipient whose domain cannot share the message is deferred
#
# a.test does not rewrite its inbound mail (direction = outbound; its
# own rules are for outbound mail); b.test refuses .exe attachments;
# c.test rewrites the text its recipients see.  The ban of b.test holds
# whichever recipient comes first; c.test and a.test never share a
# transaction: the later one is deferred with 452 4.5.3 (-R gives the RCPT
# TO commands in order), and the earlier one gets the message under its
# own policy only.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

mkdir -p "$W/domains" "$W/spool"
cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = protocol, rewrite
spool-dir = $W/spool
internal-hosts = 10.255.0.0/16
CONF
cat > "$W/domains/a.test.conf" <<'CONF'
[rewrite]
direction = outbound
text-replace = confidential => [withheld]
banned-extensions = js
banned-action = reject
CONF
cat > "$W/domains/b.test.conf" <<'CONF'
[rewrite]
banned-extensions = exe
banned-action = reject
CONF
cat > "$W/domains/c.test.conf" <<'CONF'
[rewrite]
text-replace = foo => bar
CONF

# a message with an .exe attachment (and one with a .js, which only
# a.test's outbound rules ban), and a plain one
python3 - "$W" <<'PY'
import sys
from email.message import EmailMessage
for name, file in (("exe", "setup.exe"), ("js", "run.js")):
    m = EmailMessage()
    m["From"] = "s@outside.example"
    m["To"] = "x@a.test"
    m["Subject"] = "attached"
    m.set_content("see the attachment\n")
    m.add_attachment(b"MZ\x90\x00" * 32, maintype="application",
                     subtype="octet-stream", filename=file)
    open(sys.argv[1] + "/" + name, "wb").write(m.as_bytes())
PY
printf 'From: s@outside.example\nTo: x@a.test\nSubject: plain\n\nfoo and confidential\n' > "$W/plain"

# t MSG ARGS...: sinkd -t on $W/MSG from an external client; sets ERR
t() {
	local msg=$1
	shift
	"$SINKD" -t -c "$W/sinkd.conf" -C 198.51.100.1,mx.outside.example \
		-F s@outside.example "$@" <"$W/$msg" >"$W/out" 2>"$W/err"
	ERR=$(cat "$W/err")
}

BAN='^verdict=reject code=550 xcode=5.7.1 handler=rewrite text="Attachment setup.exe is not accepted \(extension exe\)"'

t exe -R y@b.test
like "$ERR" "$BAN" "b.test alone: the .exe is refused"
t exe -R x@a.test
like "$ERR" '^verdict=accept ' "a.test alone: accepted with the attachment"
grep -q 'filename="setup.exe"' "$W/out"
ok $? "  the attachment is there"
t exe -R x@a.test -R y@b.test
like "$ERR" "$BAN" "x@a.test, y@b.test: refused all the same"
t exe -R y@b.test -R x@a.test
like "$ERR" "$BAN" "y@b.test, x@a.test: refused"
t js -R x@a.test -R y@b.test
like "$ERR" '^verdict=accept .*rcpts=<x@a.test>,<y@b.test>( |$)' \
	"a.test's outbound ban (.js) does not weigh on inbound mail"

t plain -R x@a.test -R z@c.test
like "$ERR" '^verdict=accept edits=0 rcpts-rejected=1 deferred=<z@c.test>:452:4.5.3 from=<s@outside.example> rcpts=<x@a.test>( |$)' \
	"x@a.test, z@c.test: z@c.test is deferred with 452 4.5.3, x@a.test stays"
grep -qx 'foo and confidential' "$W/out"
ok $? "  x@a.test gets the text as a.test's policy leaves it"
t plain -R z@c.test -R x@a.test
like "$ERR" '^verdict=accept edits=1 rcpts-rejected=1 deferred=<x@a.test>:452:4.5.3 from=<s@outside.example> rcpts=<z@c.test>( |$)' \
	"z@c.test, x@a.test: x@a.test is deferred"
grep -qx 'bar and confidential' "$W/out"
ok $? "  z@c.test gets c.test's rewriting"
t plain -R z@c.test
like "$ERR" '^verdict=accept edits=1 from=<s@outside.example> rcpts=<z@c.test>( |$)' \
	"z@c.test in a transaction of its own: accepted"

t exe -R x@a.test -R z@c.test -R y@b.test -R t@a.test
like "$ERR" "${BAN}.* rcpts-rejected=1 deferred=<z@c.test>:452:4.5.3 from=<s@outside.example> rcpts=<x@a.test>,<y@b.test>,<t@a.test> direction=inbound policy=a\\.test,b\\.test changed=no$" \
	"four recipients: only the one that conflicts is deferred, and the ban holds for the rest"
t exe -R y@b.test -R z@c.test
like "$ERR" "${BAN}.* deferred=<z@c.test>:452:4.5.3 " \
	"y@b.test, z@c.test: z@c.test deferred (text rules), the .exe refused for y@b.test"

# debug = yes: the files of the policy, and how its domains' differing
# keys were combined, each value with its file:line
sed 's/^\[sinkd\]$/[sinkd]\ndebug = yes/' "$W/sinkd.conf" >"$W/debug.conf"
"$SINKD" -t -c "$W/debug.conf" -C 198.51.100.1,mx.outside.example -F s@outside.example \
	-R x@a.test -R y@b.test <"$W/exe" >/dev/null 2>"$W/err"
ERR=$(sed "s|$W/||g" "$W/err")
like "$ERR" "debug: [^ ]+: policy a.test,b.test from domains/a.test.conf, domains/b.test.conf" \
	"debug: the combined policy names its domains' files"
like "$ERR" 'debug: [^ ]+: policy a.test,b.test: \[rewrite\] banned-extensions: a.test: "" \(built-in default\); b.test: ".exe" \(domains/b.test.conf:2\); rule union: ".exe"' \
	"  and how a key the domains differ on was decided, from which file:line (a.test's outbound ban stays out)"

# outbound mail: the sender domain's policy alone, nothing deferred
"$SINKD" -t -c "$W/sinkd.conf" -C 10.255.1.1,pc.a.test -F u@a.test \
	-R z@c.test -R x@a.test <"$W/plain" >"$W/out" 2>"$W/err"
like "$(cat "$W/err")" '^verdict=accept edits=1 from=<u@a.test> rcpts=<z@c.test>,<x@a.test>( |$)' \
	"outbound mail from a.test to c.test and a.test: one transaction"
grep -qx 'foo and \[withheld\]' "$W/out"
ok $? "  under a.test's outbound rules"

done_testing
