#!/bin/bash
# sink-proc.t - co-process sinks (sinkd-sink-protocol(7)) through sinkd -n,
# sinkd -t and a running sinkd
#
# A Python worker (t/sinks/proc-hooks.py, on etc/sinks/sinkd_sink.py)
# with every hook and action: its keys, the facts and header fields it
# reads, the raw message file, each verdict, the edits made through
# struct sinkd_api (a header value with CR/LF refused there), a refused
# reply and an unknown action; the errors of a bad hello at sinkd -n with
# file and line; the pool keys checked at init; user and resource limits
# as the worker sees them in /proc; a worker that answers garbage, a
# wrong token or an over-long line, dies, raises or is too slow gives
# that message on-error; and in a running sinkd: the next message is
# served by a new worker, a full pool gives a tempfail with a log line
# naming it, a worker is replaced after max-requests, and a worker's
# limits seen from outside in /proc/PID/limits; a daemon that dropped
# root starts workers as their user through its spawner; a service that
# goes away costs on-error until it is back; one worker with concurrency
# answers two messages out of order; SIGHUP gives new workers; 16
# connections at once, where exactly the messages whose worker failed
# get on-error.  A second worker (t/sinks/proc-footer.py) asks for a
# footer: placed where the disclaimer would put its text, signed mail
# wrapped, once per thread; a malformed one fails the hook before any
# action is made.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/sinkd.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
ML=$PWD/../bench/milterload
W=$(workdir sink-proc)
trap 'sk_stop; [ -n "$KEEP" ] || rm -rf "$W"' EXIT
mkdir -p "$W/spool"
# the workers run as other users too (nobody): they get the test worker
# and the helper from the work directory, not from the checkout, which
# may lie under a home only its owner may enter
# (in a directory of their own: $W itself is made 0711 below, and Python
# finds no module in a directory it cannot list)
install -d -m 755 "$W/bin"
install -m 755 sinks/proc-hooks.py "$W/bin/proc-hooks.py"
install -m 755 sinks/proc-footer.py "$W/bin/proc-footer.py"
install -m 644 ../etc/sinks/sinkd_sink.py "$W/bin/sinkd_sink.py"
HOOKS=$W/bin/proc-hooks.py

# conf COMMAND [LINES...]: $W/sinkd.conf with sink:proc running COMMAND
conf() {
	local cmd=$1
	shift
	{
		printf '[sinkd]\nchain = protocol, sink:proc\nspool-dir = %s\n' "$W/spool"
		printf '[sink:proc]\ncommand = %s\n' "$cmd"
		printf '%s\n' "$@"
	} >"$W/sinkd.conf"
}

SANITIZER=0
# run_file FILE [ARGS...]: the message FILE through sinkd -t; sets OUT
# (the message written), ERR (the log), V (the verdict line)
run_file() {
	local msg=$1
	shift
	"$SINKD" -t -c "$W/sinkd.conf" -F s@example.net -R "${RCPT:-c@example.org}" "$@" \
		<"$msg" >"$W/out" 2>"$W/err"
	OUT=$(cat "$W/out")
	grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' "$W/err" &&
		{ SANITIZER=$((SANITIZER + 1)); diag "$(head -40 "$W/err")"; }
	ERR=$(grep -v '^verdict=' "$W/err")
	V=$(grep '^verdict=' "$W/err")
}

# run SUBJECT [ARGS...]: run_file on a message with this subject
run() {
	local subj=$1
	shift
	printf 'From: a@example.net\nTo: c@example.org\nSubject: %s\nX-Drop: x\nX-Enc: =?utf-8?q?caf=C3=A9?=\n\nbody text\n' "$subj" \
		>"$W/in.eml"
	run_file "$W/in.eml" "$@"
}

# worker NAME PYTHON: an executable worker $W/NAME.py
worker() {
	printf '#!/usr/bin/python3\nimport json, sys, time\n%s\n' "$2" >"$W/$1.py"
	chmod 755 "$W/$1.py"
}

# ---------------------------------------------------------------------------
# every hook, every action

conf "$HOOKS" "words = a, b, c" "timeout = 3s" "max-line = 8k" "workers-max = 3"
out=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
is "$out" "configuration OK" "sinkd -n: a Python worker's hello is read"
"$SINKD" -P default -c "$W/sinkd.conf" >"$W/p" 2>&1
like "$(cat "$W/p")" $'sinkd.conf:6\nwords = a, b, c' "sinkd -P: the worker's own key, with its file and line"
like "$(cat "$W/p")" $'sinkd.conf:9\nworkers-max = 3' "  and sinkd's pool keys beside it"
conf "$HOOKS" "wordz = c"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" 'sinkd\.conf:6: .*wordz' "a key neither sinkd nor the worker declares is an error"
conf "$HOOKS" "words = a, b, c" "timeout = 3s" "max-line = 8k"

RCPT=gone@example.org run hello -R c@example.org
like "$V" '^verdict=accept ' "eom: continue gives accept"
like "$V" 'sink\.proc\.seen=mail:s@example\.net:;rcpt:gone@example\.org;rcpt:c@example\.org;data:gone@example\.org,c@example\.org;' \
	"mail, rcpt, data: each hook ran, in order, sharing the per-message store"
like "$V" 'sink\.proc\.word=none sink\.proc\.words=a\+b\+c sink\.proc\.strict=no' "eom: the keys, a list as a list"
like "$V" 'sink\.proc\.sender=s@example\.net sink\.proc\.qid=OFFLINE sink\.proc\.dryrun=yes' "eom: the facts"
like "$V" 'sink\.proc\.parts=1 sink\.proc\.ptypes=text/plain' "eom: the part list"
like "$V" 'sink\.proc\.subject=hello sink\.proc\.rawsize=1[0-9][0-9] ' "eom: the raw message file, parsed by Python's email package"
like "$V" 'sink\.proc\.xdrop=x ' "eom: a header field's raw value"
like "$V" 'sink\.proc\.decoded=caf' "eom: a header field decoded (RFC 2047)"
like "$V" 'sink\.proc\.session=yes' "the request carries a session id"
like "$OUT" $'^X-First: first\nFrom: a@example.net' "header-insert at 0"
like "$OUT" 'X-Proc: added by hooks' "header-add"
like "$OUT" 'Subject: changed: hello' "header-change"
unlike "$OUT" 'X-Drop' "header-delete"
like "$V" 'from=<new-sender@example\.net>' "sender-change"
like "$V" 'rcpts=<c@example\.org>,<added@example\.org>' "rcpt-add and rcpt-delete"
like "$OUT" $'body text\r?\n-- appended by the worker' "text-append"
like "$OUT" 'filename=blob\.bin' "part-add (bytes, as base64)"
like "$OUT" 'AAFiaW5hcnk=' "  with its content"
like "$ERR" 'warning: OFFLINE: sink:proc: eom done' "log, at its level"
ls "$W/spool" >"$W/spool.ls"
is "$(grep -c sinkd-sink "$W/spool.ls")" 0 "the raw message file is gone after the hook"

run replace
like "$OUT" $'\n\nthe worker\'s new text' "part-replace"
unlike "$OUT" 'body text' "  the old content gone"
run remove
like "$OUT" 'removed by the worker' "part-remove: the note in the part's place"
unlike "$OUT" 'body text' "  the content gone"
run reject
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:proc text="refused by the worker"' "reject with the worker's reply"
run tempfail
like "$V" '^verdict=tempfail code=451 ' "tempfail"
run quarantine
like "$V" '^verdict=quarantine handler=sink:proc' "quarantine"
run discard
like "$V" '^verdict=discard' "discard"
run crlf
like "$ERR" 'sink:proc: eom: actions\[0\] \(header-add\) refused' "a header value with CR/LF: refused by struct sinkd_api, logged"
like "$V" '^verdict=accept ' "  and the rest of the answer stands"
unlike "$OUT" 'X-Bad' "  nothing of it in the message"
run badreply
like "$ERR" 'eom: reply refused' "a reply whose class does not fit: refused"
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:proc text="rejected by sink:proc"' "  the default reply"
run noaction
like "$ERR" 'eom: actions\[0\]: no such action teleport' "an unknown action is the sink's failure"
like "$V" '^verdict=tempfail .*handler=sink:proc' "  on-error (tempfail)"
run error
like "$V" '^verdict=tempfail .*handler=sink:proc' "verdict error: on-error"
run raise
like "$ERR" 'sink:proc: worker [0-9]+: RuntimeError: a bug in the worker' "an exception: its traceback in sinkd's log, under the sink's name"
like "$V" '^verdict=tempfail ' "  and on-error"
run stderr
like "$ERR" 'sink:proc: worker [0-9]+: a line on stderr' "a worker's stderr line is logged with the sink's name"
run flood
is "$(grep -c 'sink:proc: worker [0-9]*: flood line' <<<"$ERR")" 100 "a flood on stderr: 100 lines logged"
like "$ERR" 'sink:proc: worker [0-9]+: 900 more lines on stderr not logged \(more than 100 in 10s\)' "  and the rest counted"
like "$V" '^verdict=accept ' "  the message is served"

# the early hooks, with what sinkd -t plays of the SMTP dialogue
run hello -C 192.0.2.66
like "$V" '^verdict=reject code=554 xcode=5\.7\.1 handler=sink:proc text="not from there"' "connect: reject"
run hello -C 192.0.2.1,bad.example
like "$V" '^verdict=reject code=550 .*text="bad helo"' "helo: the HELO name, reject"
RCPT=nobody@example.org run hello -R c@example.org
like "$V" '^verdict=accept .*rcpts=<c@example\.org>' "rcpt: one recipient refused, the other kept"
like "$V" 'seen=mail:s@example\.net:;rcpt:c@example\.org;' "  and only the other reaches data"

# abort: a message that ends before its end (closing false), then the
# connection (closing true), in one session
cat >"$W/ab.py" <<PY
#!/usr/bin/python3
import sys
sys.path.insert(0, "$W/bin")
import sinkd_sink
sink = sinkd_sink.Sink("ab")
@sink.hook("mail")
def mail(ctx):
    ctx.log("session %s" % ctx.session)
    return "reject" if ctx.get("sender").startswith("no") else None
@sink.hook("abort")
def abort(ctx):
    print("abort closing=%s session=%s" % (ctx.closing, ctx.session), file=sys.stderr, flush=True)
sink.run()
PY
chmod 755 "$W/ab.py"
conf "$W/ab.py"
run hello -F no@example.net
like "$V" '^verdict=reject ' "mail: reject"
sid=$(sed -n 's/.*sink:proc: session \([0-9]*\).*/\1/p' <<<"$ERR")
like "$ERR" "sink:proc: worker [0-9]+: abort closing=False session=$sid" "abort: the message ended before its end, in the same session"
like "$ERR" "sink:proc: worker [0-9]+: abort closing=True session=$sid" "abort: the connection closes"

# evaluate: logged, not done
conf "$HOOKS" "evaluate = yes"
run reject
like "$V" '^verdict=accept ' "evaluate = yes: a refusal is not made"
like "$ERR" 'sink:proc: evaluate: eom hook would give reject' "  but logged"

# the footer action: where and as the disclaimer puts its text, after
# every handler; signed mail wrapped and the outcome named; once per thread
FOOTER=$W/bin/proc-footer.py
FOOT="Sent through the footer test list, by a worker"
printf 'From: a@example.net\nTo: c@example.org\nSubject: plain\n\nbody text\n' >"$W/plain.eml"
cat >"$W/alt.eml" <<'EOF'
From: a@example.net
To: c@example.org
Subject: both forms
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="AA"

--AA
Content-Type: text/plain; charset=us-ascii

Plain form.
--AA
Content-Type: text/html; charset=us-ascii

<html><body><p>HTML form.</p></body></html>
--AA--
EOF
SIGNED=corpus/thunderbird/smime/alice.dsig.SHA256.multipart.eml
conf "$FOOTER"
run_file "$W/plain.eml"
like "$V" '^verdict=accept .* footer=added' "footer: the verdict line names the footer's outcome"
like "$OUT" $'\n\nbody text\n\n'"$FOOT"'$' "  a text/plain body: the footer after its text and an empty line"
run_file "$W/alt.eml"
like "$OUT" $'\nPlain form\\.\n\n'"$FOOT"$'\n' "  multipart/alternative: after the text of the plain alternative"
like "$OUT" "<p>HTML form\\.</p><p>$FOOT</p>"$'\n</body>' "  and, escaped in a paragraph, before </body> of the HTML one"
conf "$FOOTER" 'html = <p class="f">The <b>worker</b> list</p>'
run_file "$W/alt.eml"
like "$OUT" $'<p>HTML form\\.</p><p class="f">The <b>worker</b> list</p>\n</body>' \
	"footer with html: the HTML form, as it is, in the HTML alternative"
like "$OUT" $'\nPlain form\\.\n\n'"$FOOT" "  the text in the plain one"
conf "$FOOTER"
run_file "$SIGNED"
like "$V" '^verdict=accept .* footer=wrapped' "footer on S/MIME signed mail: wrapped"
is "$(grep '^X-Sinkd-Footer:' "$W/out" | tr -d '\r')" "X-Sinkd-Footer: wrapped (signed)" \
	"  an X-Sinkd-Footer field names the outcome"
cmp -s <(python3 lib/entity.py "$W/out" 0 | tr -d '\r') <(python3 lib/content.py "$SIGNED" | tr -d '\r')
ok $? "  the signed entity kept byte for byte as the first part"
like "$(python3 lib/entity.py "$W/out" 1)" "$FOOT" "  the footer in the part after it"
for f in "$W/plain.eml" "$W/alt.eml" "$SIGNED"; do
	run_file "$f"
	cp "$W/out" "$W/pass1"
	run_file "$W/pass1"
	like "$V" '^verdict=accept edits=0 .* changed=no' "${f##*/}: a second pass over the output adds no second footer"
	cmp -s "$W/pass1" "$W/out"
	ok $? "  and leaves it byte-identical"
done
for m in text html; do
	conf "$FOOTER" "malformed = $m"
	run_file "$W/plain.eml"
	like "$ERR" "eom: actions\\[1\\] \\(footer\\): a member is missing or of the wrong type" \
		"a footer action without its text or with an HTML form that is no string ($m): the sink's failure"
	like "$V" '^verdict=tempfail .*handler=sink:proc' "  on-error (tempfail)"
	unlike "$OUT" "$FOOT" "  and the good footer before it is not made either"
done
conf "$FOOTER" "malformed = early"
run_file "$W/plain.eml"
like "$ERR" 'sink:proc: data: actions\[0\] \(footer\) refused' "a footer before end of message: refused, logged"
like "$OUT" "$FOOT"'$' "  and the one at end of message stands"
conf "$FOOTER" "evaluate = yes"
run_file "$W/alt.eml"
like "$ERR" 'sink:proc: evaluate: would footer' "evaluate = yes: the footer action logs what it would do"
cmp -s "$W/alt.eml" "$W/out"
ok $? "  and changes nothing"
conf "$FOOTER" "wrap = Sent through the worker list."
run_file "$W/plain.eml"
is "$(python3 lib/wrapped.py "$W/out")" "The worker list <worker@example.org> | a@example.net | multipart/mixed message/rfc822 text/plain text/plain | Sent through the worker list." \
	"the wrap action, then a header change: the new message From the list, the author's inside"


# a sink in the shell, as sinkd-sink-protocol(7) shows it
cat >"$W/tag.sh" <<'SH'
#!/bin/sh
read -r hello
echo '{"type":"hello","version":1,"name":"tag","hooks":["eom"]}'
while read -r req; do
  t=${req#*\"token\":}; t=${t%%[,\}]*}
  echo "{\"token\":$t,\"actions\":[{\"action\":\"header-add\",\"name\":\"X-Tag\",\"value\":\"1\"}]}"
done
SH
chmod 755 "$W/tag.sh"
conf "$W/tag.sh"
run hello
like "$OUT" 'X-Tag: 1' "a sink written in the shell (the example of sinkd-sink-protocol(7))"

# ---------------------------------------------------------------------------
# a worker that fails: on-error for that message

conf "$HOOKS" "timeout = 2s" "max-line = 8k"
run garbage
like "$ERR" 'sink:proc: worker [0-9]+: answered with a line that is not a JSON object; killed, 1 request lost' "garbage: the worker is killed, logged"
like "$V" '^verdict=tempfail .*handler=sink:proc' "  the message gets on-error"
run badtoken
like "$ERR" 'answered a token it does not hold; killed' "a wrong token: killed"
like "$V" '^verdict=tempfail ' "  on-error"
run long
like "$ERR" 'answered a line longer than max-line \(8192 bytes\); killed' "an over-long line: killed"
like "$V" '^verdict=tempfail ' "  on-error"
run die
like "$ERR" 'sink:proc: worker [0-9]+: dying now' "a dying worker's last words are logged"
like "$ERR" 'sink:proc: worker [0-9]+: exit status 3; killed, 1 request lost' "  and its end"
like "$V" '^verdict=tempfail ' "  on-error"
run "sleep 6"
like "$ERR" 'no answer to eom within 2s; killed' "a slow worker: killed at the sink's timeout"
like "$V" '^verdict=tempfail ' "  on-error"
conf "$HOOKS" "timeout = 30s"
run orphan
like "$ERR" 'sink:proc: worker [0-9]+: exit status 3; killed, 1 request lost' \
	"a worker that dies while a process of another session holds its output: its end is seen at once, not at the timeout"
like "$V" '^verdict=tempfail ' "  on-error"
conf "$HOOKS" "timeout = 2s" "on-error = accept"
run die
like "$V" '^verdict=accept ' "on-error = accept: the message passes"
unlike "$OUT" 'X-Proc' "  with nothing of the failed hook"

# hostile answers: each fails the hook (on-error), or loses only what
# sinkd refuses; none crashes it
# hostile ANSWER PATTERN VERDICT DESCRIPTION: "raw:ANSWER" through sinkd -t
conf "$HOOKS" "timeout = 2s"
# (PATTERN -: the log is not checked)
hostile() {
	run "raw:$1"
	[ "$2" = - ] || like "$ERR" "$2" "$4"
	like "$V" "^verdict=$3 " "$([ "$2" = - ] && echo "$4: " || echo "  ")verdict $3"
}
hostile '{"token":TOKEN,"verdict":5}' 'eom: verdict: not a string' tempfail "a verdict that is not a string"
hostile '{"token":TOKEN,"verdict":"maybe"}' 'eom: verdict "maybe": no such verdict' tempfail "an unknown verdict"
hostile '{"token":TOKEN,"actions":{"action":"log"}}' 'eom: actions: not a list' tempfail "actions that are not a list"
hostile '{"token":TOKEN,"actions":[1]}' 'eom: actions\[0\]: no such action' tempfail "an action that is not an object"
hostile '{"token":TOKEN,"actions":[{"action":"header-add","name":5,"value":"x"}]}' \
	'actions\[0\] \(header-add\): a member is missing or of the wrong type' tempfail "a member of the wrong type"
hostile '{"token":TOKEN,"actions":[{"action":"note","key":"k","value":"v"},{"action":"part-remove","part":99999999999}]}' \
	'actions\[1\] \(part-remove\): a member is missing' tempfail "an index past 32 bits: nothing of the answer is made"
unlike "$V" 'sink\.proc\.k=' "  not even the action before it"
hostile '{"token":TOKEN,"actions":[{"action":"part-remove","part":42}]}' \
	'actions\[0\] \(part-remove\) refused' accept "a part that does not exist: refused by struct sinkd_api"
hostile '{"token":TOKEN,"reply":"550 no"}' 'eom: reply: not an object' tempfail "a reply that is not an object"
hostile '{"token":TOKEN,"verdict":"reject","reply":{"code":"550","text":"a\r\nb"}}' 'eom: reply refused' reject \
	"a reply with CR/LF: refused"
like "$V" 'text="rejected by sink:proc"' "  the default reply"
hostile '{"token":TOKEN,"actions":[{"action":"header-add","name":"X-Nul","value":"a\u0000b"}]}' - accept \
	"a NUL in a string: cut there"
like "$OUT" $'X-Nul: a\n' "  X-Nul: a"
hostile '{"token":"TOKEN"}' 'answered without a token; killed' tempfail "a token that is not a number"
hostile '{"token":TOKEN,"actions":[{"action":"part-add","type":"text/plain","base64":"!!!"}]}' - accept \
	"base64 that is not: no crash"
like "$OUT" 'multipart/mixed' "  a part is added (of what decoding gave)"
run "deep 1000000"
like "$ERR" 'answered with a line that is not a JSON object; killed' "a million nested arrays: refused before json-glib recurses"
like "$V" '^verdict=tempfail ' "  on-error"
run "deep 20"
like "$V" '^verdict=accept ' "twenty nested arrays in a member sinkd does not know: ignored"

# ---------------------------------------------------------------------------
# user and limits, as the worker sees them

id nobody >/dev/null 2>&1 || bail_out "no user nobody"
chmod 711 "$W" "$W/spool"
mkdir -p "$W/msgdir"
chmod 711 "$W/msgdir"
conf "$HOOKS" "user = nobody" "memory-limit = 512m" "cpu-limit = 1m" "nofile-limit = 64" "message-dir = $W/msgdir"
run limits
like "$V" "sink\\.proc\\.as=536870912 sink\\.proc\\.cpu=60 sink\\.proc\\.nofile=64 sink\\.proc\\.uid=$(id -u nobody) " \
	"user, memory-limit, cpu-limit, nofile-limit: applied (the worker's /proc/self)"
run hello
like "$V" 'sink\.proc\.subject=hello sink\.proc\.rawsize=' "  the raw message file (in message-dir) is readable by that user"
is "$(ls "$W/msgdir" | wc -l)" 0 "  and gone after the hook"
conf "$HOOKS"
run limits
like "$V" "sink\\.proc\\.as=1073741824 .*sink\\.proc\\.nofile=256 sink\\.proc\\.uid=$(id -u) " \
	"the defaults: 1g of address space, 256 files, sinkd's user"

# the worker that says hello at sinkd -n (run as root) is not root: it
# is the sink's user, or else sinkd's
cat >"$W/notroot.py" <<PY
#!/usr/bin/python3
import os, sys
if os.getuid() == 0:
    sys.exit("started as root")
sys.path.insert(0, "$W/bin")
import sinkd_sink
sinkd_sink.Sink("notroot").run()
PY
chmod 755 "$W/notroot.py"
conf "$W/notroot.py"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" '\(started as root\)' "a program that refuses root: run as root when sinkd's user is unknown"
conf "$W/notroot.py" "user = nobody"
is "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "configuration OK" "sinkd -n: the hello comes from the sink's user"
conf "$W/notroot.py"
sed -i "s/^\[sinkd\]\$/[sinkd]\nuser = nobody/" "$W/sinkd.conf"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "configuration OK" "  or, without one, from sinkd's user"

# ---------------------------------------------------------------------------
# configuration errors, with file and line

conf "$HOOKS" "user = no-such-user-here"
out=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
like "$out" 'sinkd\.conf:5: command: user no-such-user-here: no such user' "an unknown user"
conf "$HOOKS" "user = root"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" 'sinkd\.conf:5: command: user root: workers never run as root' "user root is refused"
conf "$HOOKS" "workers-min = 5" "workers-max = 2"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" 'sinkd\.conf:6: workers-min is more than workers-max \(2\)' "workers-min above workers-max, with file and line"
conf "$HOOKS" "message-dir = $W/no-such-dir"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "^[^ ]*sinkd\\.conf:6: message-dir $W/no-such-dir: not a directory" "a message-dir that is not there"
conf "$HOOKS" "workers-max = 0"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" 'sinkd\.conf:6: workers-max = 0: at least 1' "workers-max 0"

# nerr PYTHON: sinkd -n's errors with a worker running PYTHON
nerr() {
	worker bad "$1"
	conf "$W/bad.py"
	"$SINKD" -n -c "$W/sinkd.conf" 2>&1
}
where="$W/sinkd\\.conf:5: command: "
like "$(nerr 'sys.exit(0)')" "${where}the worker ended before its hello" "a worker that ends at once"
like "$(nerr 'sys.stderr.write("boom\n"); sys.exit(2)')" "${where}the worker ended before its hello \\(boom\\)" \
	"  with its last stderr line"
like "$(nerr 'print("hello there", flush=True); time.sleep(5)')" "${where}the worker's hello is not a JSON object" "a hello that is not JSON"
H='sys.stdin.readline(); print(json.dumps(%s), flush=True); sys.stdin.read()'
# shellcheck disable=SC2059
like "$(nerr "$(printf "$H" '{"type": "hello", "version": 2, "name": "x", "hooks": []}')")" \
	"${where}hello: protocol version 2; this sinkd speaks 1" "a hello of another version"
# shellcheck disable=SC2059
like "$(nerr "$(printf "$H" '{"type": "hello", "version": 1, "name": "x", "hooks": ["eom", "teleport"]}')")" \
	"${where}hello: hooks\\[1\\]: \"teleport\": no such hook" "an unknown hook"
# shellcheck disable=SC2059
like "$(nerr "$(printf "$H" '{"type": "hello", "version": 1, "name": "x", "hooks": [], "keys": [{"name": "k", "type": "float"}]}')")" \
	"${where}hello: key \"k\": type \"float\": unknown" "a key of an unknown type"
# shellcheck disable=SC2059
like "$(nerr "$(printf "$H" '{"type": "hello", "version": 1, "name": "x", "hooks": [], "keys": [{"name": "timeout"}]}')")" \
	"${where}key \"timeout\": a name sinkd gives every sink" "a key named like sinkd's"
# shellcheck disable=SC2059
like "$(nerr "$(printf "$H" '{"type": "hello", "version": 1, "name": "x", "hooks": [], "keys": [{"name": "workers-max"}]}')")" \
	"${where}hello: key \"workers-max\": a name sinkd gives co-process sinks" "a key named like the pool's"
# shellcheck disable=SC2059
like "$(nerr "$(printf "$H" '{"type": "hello", "version": 1, "name": "x", "hooks": [], "keys": [{"name": "n", "type": "int", "default": "many"}]}')")" \
	"${where}key \"n\": default \"many\": " "a key's bad default"
# shellcheck disable=SC2059
like "$(nerr "$(printf "$H" '{"type": "nothello"}')")" "${where}the first line is no hello" "a first line that is no hello"
conf "relative.py"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "${where}relative\\.py: not an absolute path" "a relative command"
conf "$W/none.py --x"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "${where}the worker ended before its hello \\(sinkd: cannot execute the worker: No such file" "a command that does not exist"
conf "'$W/unclosed"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "${where}" "a command line that does not parse"
printf '[sinkd]\nchain = protocol, sink:svc\nspool-dir = %s\n[sink:svc]\nsocket = unix:%s/nobody.sock\n' "$W/spool" "$W" >"$W/sinkd.conf"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "$W/sinkd\\.conf:5: socket: unix:$W/nobody\\.sock: " "a service that is not there"
printf '[sinkd]\nchain = protocol, sink:svc\n[sink:svc]\nsocket = tcp:1.2.3.4:5\n' >"$W/sinkd.conf"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" 'socket: "tcp:1\.2\.3\.4:5": not unix:/PATH' "a socket that is not unix:"

# command, socket and the pool keys are sinkd.conf's alone; the
# worker's own keys may be set per domain
mkdir -p "$W/domains"
conf "$HOOKS"
sed -i "s|^\[sinkd\]\$|[sinkd]\ndomains-dir = $W/domains|" "$W/sinkd.conf"
printf '[sink:proc]\ncommand = /bin/true\nword = per-domain\n' >"$W/domains/example.net.conf"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "$W/domains/example\\.net\\.conf:2: command: cannot be set per domain" \
	"command in a domain's policy file is an error"
printf '[sink:proc]\nword = per-domain\nworkers-max = 8\n' >"$W/domains/example.net.conf"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" "$W/domains/example\\.net\\.conf:3: workers-max: cannot be set per domain" \
	"  so is a pool key"
printf '[sink:proc]\nword = per-domain\n' >"$W/domains/example.net.conf"
run hello
like "$V" 'sink\.proc\.word=per-domain ' "a worker's key set in the sender domain's policy file reaches it (outbound)"
rm -rf "$W/domains"

# ---------------------------------------------------------------------------
# a service: socket = unix:PATH, the same protocol

cat >"$W/svc.py" <<'PY'
import os, socket, sys, threading
sys.path[0:0] = [sys.argv[2]]
import sinkd_sink
sink = sinkd_sink.Sink("svc")
@sink.hook("eom")
def eom(ctx):
    ctx.note("by", "service")
    if ctx.header("Subject") == "reject":
        return "reject", "550 5.7.1 the service says no"
def serve(conn):
    with conn, conn.makefile("rb") as r, conn.makefile("w") as w:
        sink.run(r, w)
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$W/svc.py" "$W/svc.sock" "$W/bin" >"$W/svc.out" 2>&1 &
SVC=$!
trap 'kill $SVC 2>/dev/null; sk_stop; [ -n "$KEEP" ] || rm -rf "$W"' EXIT
for i in $(seq 1 50); do [ -S "$W/svc.sock" ] && break; sleep 0.1; done
printf '[sinkd]\nchain = protocol, sink:svc\nspool-dir = %s\n[sink:svc]\nsocket = unix:%s/svc.sock\n' "$W/spool" "$W" >"$W/sinkd.conf"
run reject
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:svc text="the service says no"' "socket = unix:PATH: a service answers"
run hello
like "$V" '^verdict=accept .*sink\.svc\.by=service' "  and its actions are made"
kill $SVC
wait $SVC 2>/dev/null
run hello
like "$ERR" "sinkd\\.conf:5: socket: unix:$W/svc\\.sock: Connection refused" "a service that is not there: sinkd -t does not load"

# ---------------------------------------------------------------------------
# a running sinkd: replacement, a full pool, recycling, limits from outside

[ -x "$ML" ] || bail_out "$ML is not built (run make tests)"
chmod o+x "$W"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
chown postfix "$W/sk"
install -m 755 "$HOOKS" "$W/sk/conf/proc-hooks.py"
install -m 644 ../etc/sinks/sinkd_sink.py "$W/sk/conf/sinkd_sink.py"
sk_conf "chain = sink:proc, protocol" "[sink:proc]" "command = $W/sk/conf/proc-hooks.py" \
	"timeout = 6s" "workers-max = 1" "queue-timeout = 1s" "max-requests = 12" "nofile-limit = 40"
mkdir -p "$W/msgs"
for s in die garbage "sleep 5" "sleep 20" pid plain; do
	mkdir -p "$W/msgs/${s// /-}"
	printf 'From: a@example.net\nSubject: %s\n\nx\n' "$s" >"$W/msgs/${s// /-}/m.eml"
done
sk_start || bail_out "sinkd did not start: $(sk_log)"

# send DIR: one message of $W/msgs/DIR; prints milterload's result
send() { "$ML" -c 1 -m 1 "$SK_SOCKET" "$W/msgs/$1" 2>>"$W/ml.err"; }
started() { grep -c 'sink:proc: worker [0-9]* started' "$W/sk/sinkd.log"; }

like "$(send plain)" 'accept(ed)?=1' "daemon: a message is served"
is "$(started)" 1 "  by one worker"
like "$(send die)" 'tempfail=1' "daemon: a worker that dies: on-error for its message"
like "$(send plain)" 'accept(ed)?=1' "  the next message is served"
is "$(started)" 2 "  by a new worker"
like "$(send garbage)" 'tempfail=1' "daemon: garbage: on-error for its message"
like "$(send plain)" 'accept(ed)?=1' "  the next message is served"
is "$(started)" 3 "  by a new worker"
like "$(send sleep-20)" 'tempfail=1' "daemon: a worker past the timeout: on-error"
like "$(send plain)" 'accept(ed)?=1' "  the next message is served"
is "$(started)" 4 "  by a new worker"

# an unknown command after MAIL FROM, as Postfix passes one on
python3 - "$SK_SOCKET" >"$W/seq.out" 2>&1 <<'PY'
import sys
sys.path.insert(0, "lib")
import milterseq as m
m.report(*m.exchange(m.sockpath(sys.argv[1]),
                     b"".join([m.NEG, m.CONN, m.HELO, m.MAIL, m.UNKNOWN, m.QUIT])))
PY
like "$(sk_log)" 'sink:proc: .*unknown command XYZZY' "daemon: unknown gets the command"
like "$(cat "$W/seq.out")" 'last=y 500 5\.5\.1 not here either' "  and its refusal is the MTA's reply"

# a full pool: one worker, busy for 5s; another message waits 1s, then
# gets a tempfail
send sleep-5 >"$W/slow.out" &
SLOW=$!
for i in $(seq 1 50); do
	grep -q 'sink:proc: worker [0-9]*: sleeping 5' "$W/sk/sinkd.log" && break
	sleep 0.1
done
like "$(send plain)" '(tempfail|unsent)=1' "daemon: every worker busy: tempfail (at the first hook: connect)"
like "$(sk_log)" 'sink:proc: all 1 workers busy for 1s; tempfail' "  with a log line naming the pool"
wait $SLOW
like "$(cat "$W/slow.out")" 'accept(ed)?=1' "  the message that held the worker is served"

# recycling: max-requests = 12, 6 hooks a message
n0=$(started)
for i in 1 2 3 4 5 6 7; do send pid >>"$W/pids.out"; done
pids=$(grep -o 'sink\.proc\.pid=[0-9]*' "$W/sk/sinkd.log" | tail -n 7 | cut -d= -f2 | uniq | wc -l)
ok "$([ "$pids" -ge 3 ] && echo 0 || echo 1)" "daemon: max-requests = 12: 7 messages, served by at least 3 workers in turn ($pids)"
last=$(grep -o 'sink\.proc\.pid=[0-9]*' "$W/sk/sinkd.log" | tail -n 3 | cut -d= -f2 | sort -u | wc -l)
ok "$([ "$(started)" -gt "$n0" ] && echo 0 || echo 1)" "  new workers were started"
wpid=$(grep -o 'sink\.proc\.pid=[0-9]*' "$W/sk/sinkd.log" | tail -n 1 | cut -d= -f2)
if [ -r "/proc/$wpid/limits" ]; then
	like "$(grep 'Max open files' "/proc/$wpid/limits")" 'Max open files +40 +40' "daemon: /proc/PID/limits of a worker: nofile-limit"
	like "$(grep '^Uid:' "/proc/$wpid/status")" "^Uid:[[:space:]]+$(id -u postfix)[[:space:]]" "  /proc/PID/status: sinkd's user"
	is "$(awk '{print $4}' "/proc/$wpid/stat")" "$(sk_pid)" "  a child of sinkd"
else
	ok 1 "daemon: the last worker ($wpid) is alive"
fi
[ "$last" -ge 1 ] || diag "no pid notes"
sk_stop
for i in $(seq 1 50); do [ -e "/proc/$wpid" ] || break; sleep 0.1; done
ok "$([ ! -e "/proc/$wpid" ] && echo 0 || echo 1)" "daemon: sinkd stopped, its workers are gone"
[ -e "/proc/$wpid" ] && diag "$(cat /proc/$wpid/status | head -5)"
ok "$(sk_log_clean && echo 0 || echo 1)" "daemon: no sanitizer report"

# many at once: 16 connections of 12 messages each, 2 of every 12 make
# their worker die or answer garbage; exactly those 32 get on-error
sk_init "$W/sk3" "unix:$W/sk3/sinkd.sock"
chown postfix "$W/sk3"
install -m 755 "$HOOKS" "$W/sk3/conf/proc-hooks.py"
install -m 644 ../etc/sinks/sinkd_sink.py "$W/sk3/conf/sinkd_sink.py"
sk_conf "chain = sink:many, protocol" "[sink:many]" "command = $W/sk3/conf/proc-hooks.py" \
	"workers-max = 4" "queue-timeout = 30s" "max-requests = 50" "timeout = 30s"
mkdir -p "$W/msgs/many"
for i in $(seq 1 10); do printf 'From: a@example.net\nSubject: pass\n\nx %d\n' "$i" >"$W/msgs/many/m$i.eml"; done
printf 'From: a@example.net\nSubject: garbage\n\nx\n' >"$W/msgs/many/mg.eml"
printf 'From: a@example.net\nSubject: die\n\nx\n' >"$W/msgs/many/md.eml"
sk_start || bail_out "sinkd did not start: $(sk_log)"
"$ML" -c 16 -m 12 "$SK_SOCKET" "$W/msgs/many" >"$W/many.out" 2>>"$W/ml.err"
is "$(grep -E '^(messages|accept|tempfail|errors)=' "$W/many.out" | tr '\n' ' ')" "messages=192 errors=0 accept=160 tempfail=32 " \
	"daemon, 16 connections at once, 4 workers: the 32 messages whose worker failed get on-error, the 160 others pass"
is "$(grep -c 'sink:many: worker [0-9]*: .*killed, 1 request lost' "$W/sk3/sinkd.log")" 32 "  each failure cost one request"
sk_stop
ok "$(sk_log_clean && echo 0 || echo 1)" "daemon: no sanitizer report"

# a daemon that dropped root (to postfix) starts workers as user nobody
# through its spawner; they read the message from message-dir
sk_init "$W/sk2" "unix:$W/sk2/sinkd.sock"
chown postfix "$W/sk2"
install -m 755 "$HOOKS" "$W/sk2/conf/proc-hooks.py"
install -m 644 ../etc/sinks/sinkd_sink.py "$W/sk2/conf/sinkd_sink.py"
install -d -m 711 -o postfix "$W/sk2/msgdir"
# and a service on a socket, which goes away and comes back
svc_start() {
	rm -f "$W/svc2.sock"
	python3 "$W/svc.py" "$W/svc2.sock" "$W/bin" >>"$W/svc2.out" 2>&1 &
	SVC=$!
	for i in $(seq 1 50); do [ -S "$W/svc2.sock" ] && break; sleep 0.1; done
	chmod 666 "$W/svc2.sock"
}
svc_start
# and a worker that serves requests at once, in threads, answering the
# fast one before the slow one (concurrency)
cat >"$W/sk2/conf/conc.py" <<'PY'
#!/usr/bin/python3
import json, os, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sinkd_sink
sink = sinkd_sink.Sink("conc")
@sink.hook("eom")
def eom(ctx):
    s = ctx.header("Subject") or ""
    print("start %s" % s, file=sys.stderr, flush=True)
    if s.startswith("slow"):
        time.sleep(4)
    ctx.note("subject", s)
    print("answer %s token %d" % (s, ctx.token), file=sys.stderr, flush=True)
lock = threading.Lock()
def send(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
for line in sys.stdin:
    req = json.loads(line)
    if req.get("type") == "hello":
        send(sink.hello())
    else:
        threading.Thread(target=lambda r=req: send(sink.serve(r))).start()
PY
chmod 755 "$W/sk2/conf/conc.py"
sk_conf "chain = sink:nob, sink:svc, sink:conc, protocol" "[sink:nob]" "command = $W/sk2/conf/proc-hooks.py" \
	"user = nobody" "message-dir = $W/sk2/msgdir" "nofile-limit = 48" "max-requests = 0" \
	"[sink:svc]" "socket = unix:$W/svc2.sock" \
	"[sink:conc]" "command = $W/sk2/conf/conc.py" "workers-max = 1" "concurrency = 4"
mkdir -p "$W/msgs/limits"
printf 'From: a@example.net\nSubject: limits\n\nx\n' >"$W/msgs/limits/m.eml"
printf 'From: a@example.net\nSubject: all\n\nx\n' >"$W/msgs/plain/m.eml"
sk_start || bail_out "sinkd did not start: $(sk_log)"
like "$(sk_log)" 'sink: spawner [0-9]+ started' "daemon with user =: a spawner is started before sinkd drops root"
like "$(send limits)" 'accept(ed)?=1' "daemon, user = nobody: a message is served"
like "$(sk_log)" "sink\\.nob\\.nofile=48 sink\\.nob\\.uid=$(id -u nobody) " "  by a worker running as nobody, with its limits"
wpid=$(grep -o 'sink\.nob\.pid=[0-9]*' "$W/sk2/sinkd.log" | tail -n 1 | cut -d= -f2)
like "$(grep '^Uid:' "/proc/$wpid/status" 2>&1)" "^Uid:[[:space:]]+$(id -u nobody)[[:space:]]" "  /proc/PID/status of the worker: nobody"
like "$(grep 'Max open files' "/proc/$wpid/limits" 2>&1)" 'Max open files +48 +48' "  /proc/PID/limits: nofile-limit"
like "$(send plain)" 'accept(ed)?=1' "  the raw message file in message-dir is readable by it"
like "$(sk_log)" 'sink\.nob\.subject=all sink\.nob\.rawsize=' "  (it parsed it)"
is "$(ls "$W/sk2/msgdir" | wc -l)" 0 "  and the file is gone"
like "$(sk_log)" 'sink\.svc\.by=service' "daemon: a service on a socket serves it too"
kill $SVC
wait $SVC 2>/dev/null
like "$(send plain)" 'tempfail=1' "daemon: the service gone: on-error"
like "$(sk_log)" "sink:svc: .*unix:$W/svc2\\.sock: " "  logged"
svc_start
like "$(send plain)" 'accept(ed)?=1' "daemon: the service back: sinkd connects again"
is "$(grep -c 'sink\.svc\.by=service' "$W/sk2/sinkd.log")" 3 "  and it serves the message"
mkdir -p "$W/msgs/slow-1" "$W/msgs/fast-1"
printf 'From: a@example.net\nSubject: slow-1\n\nx\n' >"$W/msgs/slow-1/m.eml"
printf 'From: a@example.net\nSubject: fast-1\n\nx\n' >"$W/msgs/fast-1/m.eml"
send slow-1 >"$W/slow1.out" &
SLOW=$!
for i in $(seq 1 50); do grep -q 'sink:conc: worker [0-9]*: start slow-1' "$W/sk2/sinkd.log" && break; sleep 0.1; done
like "$(send fast-1)" 'accept(ed)?=1' "concurrency = 4: a message is served while the one worker still holds another"
wait $SLOW
like "$(cat "$W/slow1.out")" 'accept(ed)?=1' "  and the other is served too"
is "$(grep -o 'sink:conc: worker [0-9]*: answer [a-z]*-1' "$W/sk2/sinkd.log" | sed 's/.*answer //' | tr '\n' ' ')" "fast-1 slow-1 " \
	"  the answers came out of order"
like "$(sk_log)" 'sink\.conc\.subject=fast-1' "  each to its own request (fast-1)"
like "$(sk_log)" 'sink\.conc\.subject=slow-1' "  (slow-1)"
is "$(grep -c 'sink:conc: worker [0-9]* started' "$W/sk2/sinkd.log")" 1 "  one worker served both"
old=$wpid
sk_reload
ok $? "daemon: SIGHUP reloads"
like "$(send limits)" 'accept(ed)?=1' "  the new generation serves"
wpid=$(grep -o 'sink\.nob\.pid=[0-9]*' "$W/sk2/sinkd.log" | tail -n 1 | cut -d= -f2)
ok "$([ "$wpid" != "$old" ] && echo 0 || echo 1)" "  with a worker of its own ($old, then $wpid)"
for i in $(seq 1 50); do [ -e "/proc/$old" ] || break; sleep 0.1; done
ok "$([ ! -e "/proc/$old" ] && echo 0 || echo 1)" "  and the old generation's worker ended"
sk_stop
for i in $(seq 1 50); do [ -e "/proc/$wpid" ] || break; sleep 0.1; done
ok "$([ ! -e "/proc/$wpid" ] && echo 0 || echo 1)" "daemon: sinkd stopped, the spawner's workers are gone"
spid=$(sed -n 's/.*sink: spawner \([0-9]*\) started.*/\1/p' "$W/sk2/sinkd.log" | tail -n 1)
for i in $(seq 1 50); do [ -e "/proc/$spid" ] || break; sleep 0.1; done
ok "$([ -n "$spid" ] && [ ! -e "/proc/$spid" ] && echo 0 || echo 1)" "  and so is the spawner ($spid)"
ok "$(sk_log_clean && echo 0 || echo 1)" "daemon: no sanitizer report"
is "$SANITIZER" 0 "sinkd -t: no sanitizer report"

done_testing
