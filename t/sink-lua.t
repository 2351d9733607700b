#!/bin/bash
# sink-lua.t - Lua sinks (sinkd-lua(5)) through sinkd -n, sinkd -t and a
# running sinkd
#
# Every hook and action of a script, its keys and the calls of its
# context; the sandbox (no io, os, require, binary chunks); each limit
# (instructions, memory), a runtime error, CR/LF and huge replies: each
# gives the sink's on-error, or a refused call, with the script's file
# and line in the log; ctx:footer() where the disclaimer would put its
# text, wrapping signed mail, once per thread; syntax errors reported by
# sinkd -n with file and line; and in a running sinkd, a message past a
# limit leaves the next one alone, an unknown command reaches the script,
# SIGHUP with a broken script keeps the old generation, and a message in
# flight across a reload finishes on the generation it began with.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/sinkd.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
ML=$PWD/../bench/milterload
W=$(workdir sink-lua)
trap 'sk_stop; [ -n "$KEEP" ] || rm -rf "$W"' EXIT
mkdir -p "$W/spool"

# conf SCRIPT [LINES...]: $W/sinkd.conf with sink:lua running SCRIPT
conf() {
	local script=$1
	shift
	{
		printf '[sinkd]\nchain = protocol, sink:lua\nspool-dir = %s\n' "$W/spool"
		printf '[sink:lua]\nscript = %s\n' "$script"
		printf '%s\n' "$@"
	} >"$W/sinkd.conf"
}

SANITIZER=0
# run_file FILE [ARGS...]: the message FILE through sinkd -t (to $RCPT,
# by default c@example.org); sets OUT (the message written), ERR (the
# log), V (the verdict line)
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
	printf 'From: a@example.net\nTo: c@example.org\nSubject: %s\nX-Drop: x\n\nbody text\n' "$subj" \
		>"$W/in.eml"
	run_file "$W/in.eml" "$@"
}

# ---------------------------------------------------------------------------
# every hook, every action, the keys and the calls

cat >"$W/hooks.lua" <<'LUA'
-- each hook leaves a trace in the per-message store, or refuses
local function seen(ctx, what)
	ctx:kv_set("seen", (ctx:kv_get("seen") or "") .. what .. ";")
end
return {
	name = "hooks",
	keys = {
		{name = "word", type = "string", default = "none", doc = "a word"},
		{name = "words", type = "list", default = "a, b", doc = "words", merge = "union"},
		{name = "strict", type = "bool", default = false, doc = "a flag"},
	},
	connect = function(ctx)
		if ctx:get("client.addr") == "192.0.2.66" then
			return "reject", "554", "5.7.1", "not from there"
		end
	end,
	helo = function(ctx)
		if ctx:get("helo") == "bad.example" then
			return sinkd.REJECT, "550 5.7.1 bad helo"
		end
	end,
	mail = function(ctx)
		seen(ctx, "mail:" .. ctx:get("sender") .. ":" .. table.concat(ctx:mail_param(), "+"))
	end,
	rcpt = function(ctx, addr)
		if addr:match("^nobody@") then
			return "reject", "550", "5.1.1", "no such user"
		end
		seen(ctx, "rcpt:" .. addr)
	end,
	data = function(ctx)
		kept = ctx
		seen(ctx, "data:" .. table.concat(ctx:rcpt(), "+"))
	end,
	eom = function(ctx)
		ctx:note("seen", ctx:kv_get("seen"))
		ctx:note("keys", ctx:config("word") .. "/" .. table.concat(ctx:config_list("words"), "+")
			.. "/" .. ctx:config_list("words", 2) .. "/" .. ctx:config("strict"))
		local h = ctx:header()
		local name, raw = ctx:header(2)
		ctx:note("header", #h .. ":" .. h[1].name .. ":" .. name .. "=" .. raw)
		local p = ctx:parts()
		ctx:note("parts", #p .. ":" .. p[1].type .. ":" .. tostring(ctx:part_info(0).text)
			.. ":" .. tostring(ctx:part_info(1)))
		ctx:note("body", (ctx:part_content(0):gsub("%s+$", "")))
		ctx:note("raw", tostring(#ctx:raw() > 0))
		local s = ctx:header_get("Subject")
		if s == "accept" then return sinkd.ACCEPT
		elseif s == "continue" then return "continue"
		elseif s == "reject" then return "reject", "550", "5.7.1", "refused by the script"
		elseif s == "reject-default" then return "reject"
		elseif s == "discard" then return "discard"
		elseif s == "quarantine" then return sinkd.QUARANTINE
		elseif s == "tempfail" then
			ctx:reply("452", "4.3.1", "later please")
			return sinkd.TEMPFAIL
		elseif s == "error" then return sinkd.ERROR
		elseif s == "edits" then
			ctx:header_add("X-Added", "yes")
			ctx:header_change("Subject", 1, "changed")
			ctx:header_delete("X-Drop", 1)
			ctx:header_insert(0, "X-Top", "first")
			ctx:rcpt_add("new@example.org")
			ctx:rcpt_delete("c@example.org")
			ctx:sender_change("other@example.net")
			ctx:text_append(0, "appended line")
		elseif s == "ctx-stale" then
			return kept:get("sender")
		end
	end,
}
LUA
conf "$W/hooks.lua" "word = hello" "memory-limit = 32m"

"$SINKD" -n -c "$W/sinkd.conf" >"$W/n.out" 2>&1
ok $? "sinkd -n accepts a script with every hook and its own keys"
"$SINKD" -P default -c "$W/sinkd.conf" >"$W/p.out" 2>&1
like "$(cat "$W/p.out")" "word = hello" "sinkd -P shows the script's key as set"
like "$(cat "$W/p.out")" "memory-limit = 32m" "and sinkd's memory-limit for Lua sinks"

run plain -C 192.0.2.9,mx.example.net
like "$V" '^verdict=accept' "no verdict from the script: the message goes on"
like "$V" 'sink\.lua\.seen=mail:s@example\.net:;rcpt:c@example\.org;data:c@example\.org;' \
	"mail, rcpt and data ran, with the sender, the recipient and the recipients"
like "$V" 'sink\.lua\.keys=hello/a\+b/b/no' "config and config_list read the policy (set, default list, entry, bool)"
like "$V" 'sink\.lua\.header=4:From:To=c@example\.org' "header() lists the fields, header(i) gives name and raw value"
like "$V" 'sink\.lua\.parts=1:text/plain:true:nil' "parts() and part_info() describe the message"
like "$V" 'sink\.lua\.body=body_text' "part_content() gives the text"
like "$V" 'sink\.lua\.raw=true' "raw() gives the message"

run plain -C 192.0.2.66,mx.example.net
like "$V" '^verdict=reject code=554 xcode=5\.7\.1 handler=sink:lua text="not from there"' \
	"connect: a reject with code, xcode and text"
run plain -C 192.0.2.9,bad.example
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:lua text="bad helo"' \
	"helo: sinkd.REJECT with the reply as one string"
run plain -R nobody@example.org
like "$V" 'rcpts-rejected=1' "rcpt: a reject refuses that recipient"
like "$V" 'rcpts=<c@example\.org>' "and only that one"

run accept
like "$V" '^verdict=accept' "eom: sinkd.ACCEPT accepts"
run continue
like "$V" '^verdict=accept' "eom: \"continue\" lets the message go on"
run reject
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:lua text="refused by the script"' \
	"eom: \"reject\" with a reply"
run reject-default
like "$V" '^verdict=reject code=5[0-9][0-9] .*handler=sink:lua' "eom: \"reject\" alone: sinkd's reply"
run discard
like "$V" '^verdict=discard handler=sink:lua' "eom: discard"
run quarantine
like "$V" '^verdict=quarantine handler=sink:lua' "eom: quarantine"
run tempfail
like "$V" '^verdict=tempfail code=452 xcode=4\.3\.1 handler=sink:lua text="later please"' \
	"eom: ctx:reply() then sinkd.TEMPFAIL"
run error
like "$V" '^verdict=tempfail .*handler=sink:lua' "eom: sinkd.ERROR gives on-error (tempfail by default)"

run edits
like "$OUT" $'^X-Top: first\nFrom: a@example\\.net\nTo: c@example\\.org\nSubject: changed\nX-Added: yes\n\nbody text\n' \
	"header edits: inserted at the top, changed, deleted, added"
like "$OUT" 'appended line' "text_append() adds to the text"
like "$V" 'from=<other@example\.net> rcpts=<new@example\.org>' "envelope edits: sender changed, recipient added and removed"

run ctx-stale
like "$V" '^verdict=tempfail .*handler=sink:lua' "a context kept from an earlier hook cannot be used: on-error"
like "$ERR" "eom: $W/hooks\\.lua:[0-9]+: a context used after its hook returned" "  and logged"

# abort: a message that ends without end of message, and the connection's
# close; log levels by constant and by name
cat >"$W/abort.lua" <<'LUA'
return {
	rcpt = function(ctx, addr)
		if addr:match("^nobody@") then return "reject" end
	end,
	eom = function(ctx)
		ctx:log("warning", "eom ran")
		ctx:log("eom said so")
	end,
	abort = function(ctx, closing)
		ctx:log(sinkd.LOG_WARNING, "abort closing=" .. tostring(closing))
	end,
}
LUA
conf "$W/abort.lua"
RCPT=nobody@example.org run plain
like "$ERR" 'sink:lua: abort closing=false' "abort: the message ended before its end (every recipient refused)"
like "$ERR" 'sink:lua: abort closing=true' "abort: then the connection closes"
unlike "$ERR" 'eom ran' "  and eom did not run"
run plain
like "$ERR" 'warning: .*sink:lua: eom ran' "ctx:log(\"warning\", ...) logs a warning"
like "$ERR" 'sinkd: OFFLINE: sink:lua: eom said so' "  and ctx:log(text) an info line, which sinkd -t shows"
unlike "$ERR" 'abort closing=false' "a message that reached its end gets no abort"

# ctx:footer(): where and as the disclaimer puts its text, after every
# handler; signed mail wrapped and the outcome named; once per thread
cat >"$W/footer.lua" <<'LUA'
return {
	keys = {
		{name = "text", default = "Sent through the footer test list, by Lua"},
		{name = "html", default = ""},
	},
	data = function(ctx)
		ctx:kv_set("early", tostring(ctx:footer("too early for a footer")))
	end,
	eom = function(ctx)
		local html = ctx:config("html")
		ctx:note("early", ctx:kv_get("early"))
		ctx:note("nul", tostring(ctx:footer("a\0b")))
		ctx:note("htmlnul", tostring(ctx:footer("a footer", "a\0b")))
		ctx:note("utf8", tostring(ctx:footer("bad \255 UTF-8 in a footer")))
		ctx:note("footer", tostring(ctx:footer(ctx:config("text"), html ~= "" and html or nil)))
	end,
}
LUA
FOOT="Sent through the footer test list, by Lua"
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
printf 'From: a@example.net\nTo: c@example.org\nSubject: plain\n\nbody text\n' >"$W/plain.eml"
conf "$W/footer.lua"
run_file "$W/plain.eml"
like "$V" 'sink\.lua\.footer=true' "ctx:footer(text): true"
like "$V" ' footer=added' "  the verdict line names the footer's outcome"
like "$OUT" $'\n\nbody text\n\n'"$FOOT"'$' "  a text/plain body: the footer after its text and an empty line"
like "$V" 'sink\.lua\.early=false' "ctx:footer() before end of message: false"
like "$V" 'sink\.lua\.nul=false sink\.lua\.htmlnul=false' "ctx:footer() with a NUL in the text or the HTML: false"
like "$V" 'sink\.lua\.utf8=false' "ctx:footer() with text that is not UTF-8: false"
unlike "$OUT" 'a footer' "  none of them reaches the message"
run_file "$W/alt.eml"
like "$OUT" $'\nPlain form\\.\n\n'"$FOOT"$'\n' "multipart/alternative: the footer after the text of the plain alternative"
like "$OUT" "<p>HTML form\\.</p><p>$FOOT</p>"$'\n</body>' "  and, escaped in a paragraph, before </body> of the HTML one"
conf "$W/footer.lua" 'html = <p class="f">The <b>Lua</b> list</p>'
run_file "$W/alt.eml"
like "$OUT" $'<p>HTML form\\.</p><p class="f">The <b>Lua</b> list</p>\n</body>' \
	"ctx:footer(text, html): the HTML form, as it is, in the HTML alternative"
like "$OUT" $'\nPlain form\\.\n\n'"$FOOT" "  the text in the plain one"
conf "$W/footer.lua"
run_file "$SIGNED"
like "$V" 'sink\.lua\.footer=true .*footer=wrapped' "S/MIME signed mail: true, and wrapped"
is "$(grep '^X-Sinkd-Footer:' "$W/out" | tr -d '\r')" "X-Sinkd-Footer: wrapped (signed)" \
	"  an X-Sinkd-Footer field names the outcome"
cmp -s <(python3 lib/entity.py "$W/out" 0 | tr -d '\r') <(python3 lib/content.py "$SIGNED" | tr -d '\r')
ok $? "  the signed entity kept byte for byte as the first part"
like "$(python3 lib/entity.py "$W/out" 1)" "$FOOT" "  the footer in the part after it"
for f in "$W/plain.eml" "$W/alt.eml" "$SIGNED"; do
	run_file "$f"
	cp "$W/out" "$W/pass1"

	run_file "$W/pass1"
	like "$V" '^verdict=accept edits=0 .* changed=no ' "${f##*/}: a second pass over the output adds no second footer"
	cmp -s "$W/pass1" "$W/out"
	ok $? "  and leaves it byte-identical"
done
conf "$W/footer.lua" "evaluate = yes"
run_file "$W/alt.eml"
like "$ERR" 'sink:lua: evaluate: would footer' "evaluate = yes: ctx:footer() logs what it would do"
cmp -s "$W/alt.eml" "$W/out"
ok $? "  and changes nothing"

# ctx:wrap(): the message whole inside a new one, the From changed after
# it on the new one only
cat >"$W/wrap.lua" <<'LUA'
return {
	eom = function(ctx)
		ctx:note("wrap", tostring(ctx:wrap("Sent through the Lua list.")))
		ctx:note("again", tostring(ctx:wrap()))
		ctx:header_change("From", 1, "The Lua list <lua@example.org>")
	end,
}
LUA
conf "$W/wrap.lua"
run_file "$W/plain.eml"
like "$V" 'sink\.lua\.wrap=true sink\.lua\.again=false' "ctx:wrap(text): true; a second one: false"
is "$(python3 lib/wrapped.py "$W/out")" "The Lua list <lua@example.org> | a@example.net | multipart/mixed message/rfc822 text/plain text/plain | Sent through the Lua list." \
	"  the new message From the list, the author's inside, the text after it"


# ---------------------------------------------------------------------------
# the sandbox

cat >"$W/sandbox.lua" <<'LUA'
local absent = {}
for _, n in ipairs({"io", "os", "require", "package", "debug", "dofile",
		    "loadfile", "print", "coroutine"}) do
	if _G[n] ~= nil then absent[#absent + 1] = n end
end
local present = {}
for _, n in ipairs({"string", "table", "math", "utf8", "pairs", "pcall", "load",
		    "sinkd"}) do
	if _G[n] ~= nil then present[#present + 1] = n end
end
return {
	eom = function(ctx)
		local s = ctx:header_get("Subject")
		ctx:note("absent", #absent == 0 and "all" or table.concat(absent, "+"))
		ctx:note("present", table.concat(present, "+"))
		ctx:note("dump", tostring(string.dump))
		local f, err = load("\27Lua\84\0", "bin", "b")
		ctx:note("binary", tostring(f) .. ":" .. tostring(err and err:match("binary chunk") ~= nil))
		ctx:note("text", tostring(load("return 6 * 7")()))
		ctx:note("count", tostring(collectgarbage("count") > 0))
		if s == "gc-stop" then collectgarbage("stop") end
		if s == "stringmeta" then return ("x"):rep(3) end
	end,
}
LUA
conf "$W/sandbox.lua"
run plain
like "$V" 'sink\.lua\.absent=all' "no io, os, require, package, debug, dofile, loadfile, print, coroutine"
like "$V" 'sink\.lua\.present=string\+table\+math\+utf8\+pairs\+pcall\+load\+sinkd' \
	"string, table, math, utf8, the safe base functions and sinkd are there"
like "$V" 'sink\.lua\.dump=nil' "string.dump is gone"
like "$V" 'sink\.lua\.binary=nil:true' "load() refuses a binary chunk"
like "$V" 'sink\.lua\.text=42' "load() of text works"
like "$V" 'sink\.lua\.count=true' "collectgarbage(\"count\") works"
run gc-stop
like "$V" '^verdict=tempfail .*handler=sink:lua' "collectgarbage(\"stop\") is an error: on-error"
like "$ERR" "sink:lua: eom: $W/sandbox\\.lua:[0-9]+: collectgarbage\\(\"stop\"\\) is not allowed" \
	"logged with the script's file and line"

# ---------------------------------------------------------------------------
# limits, errors, refused calls

cat >"$W/limits.lua" <<'LUA'
return {
	keys = {{name = "mode", default = ""}},
	eom = function(ctx)
		local s = ctx:header_get("Subject")
		if s == "loop" then
			while true do end
		elseif s == "pcall-loop" then
			while true do pcall(function() while true do end end) end
		elseif s == "alloc" then
			local t = {}
			while true do t[#t + 1] = string.rep("x", 65536) .. #t end
		elseif s == "rep" then
			return string.rep("x", 1 << 30)
		elseif s == "runtime" then
			local x
			return x.field
		elseif s == "throw-table" then
			error({})
		elseif s == "huge-reply" then
			return "reject", "550", "5.7.1", string.rep("y", 100000)
		elseif s == "crlf-reply" then
			return "reject", "550", "5.7.1", "two\r\nlines"
		elseif s == "lf-reply-call" then
			ctx:note("reply", tostring(ctx:reply("550", "5.7.1", "two\nlines")))
			ctx:note("crlf", tostring(ctx:header_add("X-Bad", "a\r\nb")))
			ctx:note("cr", tostring(ctx:header_add("X-Bad", "a\rb")))
			ctx:note("nul", tostring(ctx:header_add("X-Bad", "a\0b")))
			ctx:note("colon", tostring(ctx:header_add("X-Bad:", "v")))
			ctx:note("good", tostring(ctx:header_add("X-Good", "v")))
			ctx:note("longname", tostring(ctx:header_add("X-" .. string.rep("n", 995), "v")))
			ctx:note("maxname", tostring(ctx:header_add("X-" .. string.rep("m", 994), "v")))
			ctx:note("lognul", tostring(ctx:log("a\0b")))
		elseif s == "not-a-verdict" then
			return "maybe"
		elseif s == "gc" then
			setmetatable({}, {__gc = function() while true do end end})
		elseif s == "close-loop" then
			local x <close> = setmetatable({}, {__close = function() while true do end end})
			while true do end
		end
	end,
}
LUA
conf "$W/limits.lua" "instruction-limit = 5000000" "memory-limit = 4m"
run loop
like "$V" '^verdict=tempfail .*handler=sink:lua' "an endless loop: on-error (tempfail)"
like "$ERR" "sink:lua: eom: $W/limits\\.lua:6: instruction-limit of 5000000 instructions exceeded" \
	"logged with the script's file and line"
run pcall-loop
like "$V" '^verdict=tempfail .*handler=sink:lua' "an endless loop catching its errors with pcall is stopped too"
run alloc
like "$V" '^verdict=tempfail .*handler=sink:lua' "unbounded allocation: on-error"
like "$ERR" "sink:lua: eom: $W/limits\\.lua:1[01]: memory-limit of 4194304 bytes exceeded" \
	"logged with the script's file and line"
run rep
like "$V" '^verdict=tempfail .*handler=sink:lua' "one allocation past the limit: on-error"
run runtime
like "$V" '^verdict=tempfail .*handler=sink:lua' "a runtime error: on-error"
like "$ERR" "sink:lua: eom: $W/limits\\.lua:16: attempt to index a nil value" \
	"logged with the script's file and line"
run throw-table
like "$ERR" "sink:lua: eom: $W/limits\\.lua:18: \\(error object is a table value\\)" \
	"an error that is not a string: logged with file and line"
run huge-reply
like "$V" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:lua text="y+"' "a huge reply text is sent"
T=${V#*text=\"}; T=${T%%\"*}
ok $(( ${#T} <= 512 ? 0 : 1 )) "cut to at most 512 bytes (${#T})"
run crlf-reply
like "$V" '^verdict=tempfail .*handler=sink:lua' "a returned reply with CR LF: on-error, not sent"
like "$ERR" 'eom returned a reply sinkd refuses' "and logged"
run lf-reply-call
like "$V" 'sink\.lua\.reply=false' "ctx:reply() with LF is refused (false)"
like "$V" 'sink\.lua\.crlf=false sink\.lua\.cr=false sink\.lua\.nul=false sink\.lua\.colon=false sink\.lua\.good=true' \
	"header values with CR LF, CR or NUL, names with a colon: refused; a good one passes"
like "$OUT" 'X-Good: v' "the good header is added"
like "$V" 'sink\.lua\.longname=false sink\.lua\.maxname=true' \
	"a name too long for \"NAME: \" to fit in 998 characters is refused; one that fits passes"
like "$V" 'sink\.lua\.lognul=false' "ctx:log() of a text with a NUL is refused (false)"
unlike "$OUT" 'X-Bad' "no refused header reaches the message"
like "$V" '^verdict=accept' "a refused call costs the message nothing else"
run not-a-verdict
like "$V" '^verdict=tempfail .*handler=sink:lua' "an unknown verdict: on-error"
like "$ERR" 'eom returned "maybe", not a verdict' "and logged"

run gc
like "$V" '^verdict=tempfail .*handler=sink:lua' "a finalizer (__gc), which Lua runs where no limit reaches: refused, on-error"
like "$ERR" "eom: $W/limits\\.lua:[0-9]+: setmetatable: a __gc metamethod is not allowed" "  logged"
run close-loop
like "$V" '^verdict=tempfail .*handler=sink:lua' "an endless loop in a __close handler run as the hook is stopped: on-error"

conf "$W/limits.lua" "instruction-limit = 0" "timeout = 1s"
run loop
like "$V" '^verdict=tempfail .*handler=sink:lua' "with no instruction limit, the sink's timeout stops an endless loop"
like "$ERR" "sink:lua: eom: $W/limits\\.lua:6: timeout of 1s exceeded" "  logged with the script's file and line"

conf "$W/limits.lua" "instruction-limit = 5000000" "on-error = reject"
run loop
like "$V" '^verdict=reject .*handler=sink:lua' "the sink's on-error applies (reject)"
conf "$W/limits.lua" "instruction-limit = 5000000" "on-error = accept"
run runtime
like "$V" '^verdict=accept' "the sink's on-error applies (accept)"

is "$SANITIZER" 0 "no sanitizer report or panic from any sinkd -t run"

# keys and limits per domain: a domain's policy gives its own value of a
# script's key and its own instruction-limit
cat >"$W/domain.lua" <<'LUA'
return {
	keys = {{name = "word", default = "none"}},
	eom = function(ctx)
		ctx:note("word", ctx:config("word"))
		local sum = 0
		for i = 1, 200000 do sum = sum + i end
	end,
}
LUA
conf "$W/domain.lua" "word = global"
mkdir -p "$W/domains"	# sinkd.conf's domains-dir, by default
printf '[sink:lua]\nword = local\ninstruction-limit = 100000\n' >"$W/domains/example.org.conf"
RCPT=c@example.net run plain -C 192.0.2.9,mx.example.net
like "$V" '^verdict=accept .*policy=default .*sink\.lua\.word=global' "the default policy: its value, and the loop within its limit"
RCPT=c@example.org run plain -C 192.0.2.9,mx.example.net
like "$V" '^verdict=tempfail .*handler=sink:lua .*policy=example\.org .*sink\.lua\.word=local' \
	"a domain's policy: its value, and its own instruction-limit stops the loop"
rm -rf "$W/domains"

# ---------------------------------------------------------------------------
# scripts sinkd -n refuses, with file and line

# bad NAME CONTENT REGEX: sinkd -n on a script holding CONTENT fails with
# a message matching REGEX
bad() {
	printf '%s\n' "$2" >"$W/$1.lua"
	conf "$W/$1.lua"
	"$SINKD" -n -c "$W/sinkd.conf" >"$W/n.out" 2>&1
	local rc=$?
	ok $(( rc != 1 )) "sinkd -n fails: $1"
	unlike "$(cat "$W/n.out")" 'Sanitizer|runtime error:' "  cleanly"
	like "$(cat "$W/n.out")" "$3" "  and says so with file and line"
}
bad syntax $'return {\n  eom = function(ctx)\n    return "x" +\n  end\n}' \
	"sinkd\\.conf:5: script: $W/syntax\\.lua:4: unexpected symbol near 'end'"
bad runtime $'local t = nil\nreturn t.x' "$W/runtime\\.lua:2: attempt to index a nil value"
bad notable 'return 42' "$W/notable\\.lua: the script returns number, not a table"
bad hooktype 'return { eom = "yes" }' "$W/hooktype\\.lua: eom: a string, not a function"
bad keytype 'return { keys = {{name = "k", type = "colour"}} }' "keys\\[1\\]\\.type: \"colour\" is not one of"
bad keyname 'return { keys = {{name = "memory-limit"}} }' "keys\\[1\\]: memory-limit: sinkd's own key for Lua sinks"
bad keytwice 'return { keys = {{name = "k"}, {name = "k"}} }' "keys\\[2\\]: k: declared twice"
bad keydefault 'return { keys = {{name = "flag", type = "bool", default = "maybe"}} }' \
	"sinkd\\.conf:5: script: key \"flag\": default \"maybe\": not a boolean"
bad dirdefault 'return { keys = {{name = "direction", default = "sideways"}} }' \
	"sinkd\\.conf:5: script: key \"direction\": default \"sideways\": not one of outbound, inbound, both"
bad toplevel-loop 'while true do end' "$W/toplevel-loop\\.lua:1: instruction-limit of [0-9]+ instructions exceeded"
bad binary $'\x1bLua' "attempt to load a binary chunk"
conf "$W/missing-file.lua"
"$SINKD" -n -c "$W/sinkd.conf" >"$W/n.out" 2>&1
like "$(cat "$W/n.out")" "sinkd\\.conf:5: script: .*missing-file\\.lua" "a missing script: named"

cat >"$W/initfail.lua" <<'LUA'
return {
	keys = {{name = "need", default = ""}},
	init = function(ctx)
		if ctx:config("need") == "" then return false, "need is not set" end
	end,
	eom = function(ctx) end,
}
LUA
conf "$W/initfail.lua"
"$SINKD" -n -c "$W/sinkd.conf" >"$W/n.out" 2>&1
ok $(( $? == 0 )) "init returning false fails the configuration"
like "$(cat "$W/n.out")" "need is not set" "  with what init said"
conf "$W/initfail.lua" "need = yes"
"$SINKD" -n -c "$W/sinkd.conf" >"$W/n.out" 2>&1
ok $? "  and passes once the key is set"

# ---------------------------------------------------------------------------
# the example of the README's "Writing a sink" does what it says

awk '/^    -- \/etc\/sinkd\/sinks\/nobigsend\.lua/,/^    }$/' ../README.md \
	| sed 's/^    //' >"$W/nobigsend.lua"
like "$(tail -n 1 "$W/nobigsend.lua")" '^}$' "the README's example sink is found"
conf "$W/nobigsend.lua" "max-rcpts = 2" "on-error = tempfail"
sed -i '1a internal-hosts = 127.0.0.0/8' "$W/sinkd.conf"
"$SINKD" -n -c "$W/sinkd.conf" >"$W/n.out" 2>&1
ok $? "  sinkd -n accepts it" || diag "$(cat "$W/n.out")"
# nbs IP RCPT...: a message with an attachment from IP to the recipients
nbs() {
	local ip=$1 r=() a
	shift
	for a; do r+=(-R "$a"); done
	printf 'From: a@example.net\nTo: b@example.org\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n\nxx\n--b--\n' \
		| "$SINKD" -t -c "$W/sinkd.conf" -F a@example.net -C "$ip,h.example.net" "${r[@]}" 2>&1 >/dev/null | grep '^verdict='
}
like "$(nbs 127.0.0.1 b@x.org c@x.org d@x.org)" '^verdict=reject code=550 xcode=5\.7\.1 handler=sink:lua text="attachments go to at most 2 recipients"' \
	"  it refuses outbound mail with an attachment to more recipients than max-rcpts"
like "$(nbs 127.0.0.1 b@x.org c@x.org)" '^verdict=accept' "  but not to max-rcpts"
like "$(nbs 192.0.2.1 b@x.org c@x.org d@x.org)" '^verdict=accept .*direction=inbound' "  nor inbound mail"

# ---------------------------------------------------------------------------
# a running sinkd: a message past a limit, then the next; SIGHUP

[ -x "$ML" ] || bail_out "$ML is not built (run make tests)"
chmod o+x "$W"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
chown postfix "$W/sk"
gen() {
	cat >"$W/sk/conf/gen.lua" <<LUA
return {
	unknown = function(ctx, command)
		ctx:log("unknown command " .. command)
		return "reject", "500 5.5.1 not here either"
	end,
	eom = function(ctx)
		ctx:log("generation $1")
		if ctx:header_get("Subject") == "loop" then while true do end end
	end,
}
LUA
	chmod 644 "$W/sk/conf/gen.lua"
}
gen 1
sk_conf "chain = sink:gen, protocol" "[sink:gen]" "script = gen.lua" "instruction-limit = 2000000"
mkdir -p "$W/msgs/loop" "$W/msgs/plain"
printf 'From: a@example.net\nSubject: loop\n\nx\n' >"$W/msgs/loop/m.eml"
printf 'From: a@example.net\nSubject: plain\n\nx\n' >"$W/msgs/plain/m.eml"
sk_start || bail_out "sinkd did not start: $(sk_log)"

# send DIR: one message of $W/msgs/DIR; prints milterload's result
send() { "$ML" -c 1 -m 1 "$SK_SOCKET" "$W/msgs/$1" 2>"$W/ml.err"; }
lines() { grep -c "$1" "$W/sk/sinkd.log"; }

send loop >"$W/ml.out"
like "$(cat "$W/ml.out")" 'tempfail=1' "daemon: an endless loop gives tempfail"
like "$(sk_log)" "sink:gen: .*eom: $W/sk/conf/gen\\.lua:8: instruction-limit of 2000000 instructions exceeded" \
	"daemon: logged with file and line"
send plain >"$W/ml.out"
like "$(cat "$W/ml.out")" 'accept(ed)?=1' "daemon: the next message is not affected"
# an unknown command after MAIL FROM, as Postfix passes one on
python3 - "$SK_SOCKET" >"$W/seq.out" 2>&1 <<'PY'
import sys
sys.path.insert(0, "lib")
import milterseq as m
m.report(*m.exchange(m.sockpath(sys.argv[1]),
                     b"".join([m.NEG, m.CONN, m.HELO, m.MAIL, m.UNKNOWN, m.QUIT])))
PY
like "$(sk_log)" 'sink:gen: .*unknown command XYZZY' "daemon: unknown gets the command"
like "$(cat "$W/seq.out")" 'last=y 500 5\.5\.1 not here either' "  and its refusal is the MTA's reply"
is "$(lines 'sink:gen: .*generation 1')" 2 "daemon: both ran on generation 1"

printf 'return {\n  eom = function(ctx)\n    return +\n  end\n}\n' >"$W/sk/conf/gen.lua"
sk_hup
for i in $(seq 1 100); do
	grep -q 'reload failed' "$W/sk/sinkd.log" && break
	sleep 0.1
done
like "$(sk_log)" "script: $W/sk/conf/gen\\.lua:3: unexpected symbol near '\\+'" \
	"SIGHUP with a broken script: the error names file and line"
like "$(sk_log)" "reload failed; keeping the running configuration" "  and the reload fails"
send plain >"$W/ml.out"
is "$(lines 'sink:gen: .*generation 1')" 3 "the old generation still serves"
gen 2
sk_reload; ok $? "SIGHUP with a good script reloads"
send plain >"$W/ml.out"
is "$(lines 'sink:gen: .*generation 2')" 1 "the new generation serves"
# a message in flight on generation 2 across a reload to generation 3
mkfifo "$W/go"
python3 lib/milterseq.py hold "$SK_SOCKET" <"$W/go" >"$W/held.out" 2>"$W/held.err" &
CLIENT=$!
exec 4>"$W/go"
for i in $(seq 1 100); do grep -q '^held' "$W/held.out" && break; sleep 0.1; done
is "$(head -n 1 "$W/held.out")" "held" "a message is in flight (up to its body)"
gen 3
sk_reload; ok $? "SIGHUP with generation 3 reloads while it is"
echo go >&4
exec 4>&-
wait "$CLIENT"
like "$(cat "$W/held.out")" $'\nlast=c' "the message in flight finishes"
is "$(lines 'sink:gen: .*generation 2')" 2 "  on the generation it began with"
is "$(lines 'sink:gen: .*generation 3')" 0 "  not on the new one"
send plain >"$W/ml.out"
is "$(lines 'sink:gen: .*generation 3')" 1 "the next message runs on generation 3"

sk_stop
sk_log_clean; ok $? "no sanitizer report or panic in the daemon's log"

done_testing
