#!/bin/bash
# fuzz-regress.t - what the fuzz targets found, replayed through sinkd
#
# fuzz/regress/TARGET/ holds the inputs that once made a fuzz target
# (fuzz/, HACKING.md "Fuzzing") crash, leak or hang, each fixed since.
# Each goes through the normal binary (the ASan+UBSan one under make
# sanitize), set up as the target sets itself up:
#
#   fuzz_message  the message, through sinkd -t with fuzz/message.conf and
#                 the target's envelope: exit 0 and a verdict= line
#   fuzz_conf     sinkd.conf itself, through sinkd -n: exit 0 with
#                 "configuration OK", or 1 with every line an error naming
#                 its file (and line), no control character in it
#   fuzz_policy   domains/example.org.conf next to fuzz/policy.conf, the
#                 shipped default.conf and example.com.conf: the same
#   fuzz_sink     the script (before a line __END__; after a NUL byte, a
#                 sequence of calls for fuzz/sink-calls.lua) as sink.lua
#                 next to fuzz/sink.conf, the message (after it, or the
#                 target's own), through sinkd -t with the target's envelope: exit 0
#                 and a verdict= line, or a script that does not load: exit
#                 1 with every error naming its file
#   fuzz_milter   the raw milter packets, written to a running sinkd's
#                 socket with fuzz/milter.conf's rules (t/lib/milterseq.py
#                 replay): the connection closed, no message let through,
#                 and sinkd still running and letting the next well-formed
#                 message through (the fuzz target itself is built by
#                 clang only: make fuzz)
#
# and never a signal, a hang or a sanitizer report.  A few hostile inputs
# built here go the same way, so that every target is tested even while
# its directory is empty.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/clamav.sh
source lib/sinkd.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
TOP=$(cd .. && pwd)
command -v sigtool >/dev/null || bail_out "sigtool (package clamav) is needed"
W=$(mktemp -d)
trap 'sk_stop; rm -rf "$W"' EXIT
umask 022
# as under the fuzz targets: GLib's slice allocator would hide its blocks
# (GError among them) from ASan and LeakSanitizer
export G_SLICE=always-malloc

# the three set-ups: fuzz/fuzz_message.c, fuzz_conf.c and fuzz_policy.c
M=$W/message C=$W/conf P=$W/policy
mkdir -p "$M/spool" "$M/tmp" "$C" "$P/domains" "$P/lists" "$P/db" "$W/in"
cp "$TOP/fuzz/message.conf" "$M/sinkd.conf"
cp disclaimer/text.tmpl disclaimer/html.tmpl "$M/"
av_db "$M/db" || bail_out "cannot build the test signature database"
cp conf/ok/lists "$C/lists"
cp "$TOP/etc/disclaimer.txt" "$TOP/etc/disclaimer.html" "$C/"
cp "$TOP/fuzz/policy.conf" "$P/sinkd.conf"
cp "$TOP/etc/domains/default.conf" "$TOP/etc/domains/example.com.conf" "$P/domains/"
cp "$TOP/etc/lists/example.com.lists" "$P/lists/"
cp conf/ok/lists "$P/lists/example.org.lists"
cp "$TOP/etc/disclaimer.txt" "$TOP/etc/disclaimer.html" "$P/"

# sane FILE: no sanitizer report, no panic in FILE
sane() {
	if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' "$1"; then
		diag "$(grep -E -A20 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' "$1" | head -40)"
		return 1
	fi
}

# message NAME FILE: sinkd -t as fuzz_message runs it
message() {
	timeout 60 "$SINKD" -t -c "$M/sinkd.conf" -F sender@example.net \
		-R rcpt@example.org -C 192.0.2.10,mx.example.net <"$2" >/dev/null 2>"$W/err"
	local rc=$? last
	last=$(tail -n 1 "$W/err")
	[ $rc -eq 0 ] && [[ $last == verdict=* ]] && sane "$W/err"
	ok $? "fuzz_message $1: exit 0 (got $rc), ${last:0:60}"
}

# check NAME DIR CONF: sinkd -n, exit 0 or 1 with file:line errors only
check() {
	timeout 60 "$SINKD" -n -c "$3" >"$W/out" 2>"$W/err"
	local rc=$? bad
	case $rc in
	0)
		[ "$(cat "$W/out")" = "configuration OK" ] && [ ! -s "$W/err" ] ;;
	1)
		# one line each: no control character but the tab
		bad=$(grep -cvE "^($2/[^:]+(:[0-9]+)?|built-in default of \[[a-z]+\] [a-z-]+): " "$W/err")
		[ -s "$W/err" ] && [ "$bad" -eq 0 ] &&
			! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$W/err" ;;
	*)
		false ;;
	esac && sane "$W/err"
	ok $? "$1: exit 0 or 1 (got $rc), errors name file:line"
	[ $rc -le 1 ] || diag "$(head -n 5 "$W/err")"
}

# fuzz/fuzz_sink.c's set-up: fuzz/sink.conf, its message when the input
# has none (from the target's source), the templates, spool/
S=$W/sink
mkdir -p "$S/spool"
cp "$TOP/fuzz/sink.conf" "$S/sinkd.conf"
cp disclaimer/text.tmpl disclaimer/html.tmpl "$S/"
python3 - "$TOP/fuzz/fuzz_sink.c" "$S/default.eml" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
body = re.search(r"default_message\[\] =\n(.*?);\n", src, re.S).group(1)
text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body))
open(sys.argv[2], "wb").write(text.encode().decode("unicode_escape").encode("latin-1"))
EOF
[ -s "$S/default.eml" ] || bail_out "no message in fuzz/fuzz_sink.c"

# sink NAME FILE: sinkd -t as fuzz_sink runs it
sink() {
	python3 - "$2" "$S/sink.lua" "$S/msg.eml" "$S/default.eml" "$TOP/fuzz/sink-calls.lua" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
i = d.find(b"\n__END__\n")
script = d if i < 0 else d[:i]
if script[:1] == b"\0":
    # a sequence of calls: fuzz/sink-calls.lua with prog set to them
    prog = "".join("\\%03u" % b for b in script[1:])
    script = ('local prog = "%s"\n' % prog).encode() + open(sys.argv[5], "rb").read()
open(sys.argv[2], "wb").write(script)
open(sys.argv[3], "wb").write(open(sys.argv[4], "rb").read() if i < 0 else d[i + 9:])
EOF
	timeout 60 "$SINKD" -t -c "$S/sinkd.conf" -F sender@example.net \
		-R rcpt@example.org -R other@example.org -C 192.0.2.10,mx.example.net \
		<"$S/msg.eml" >/dev/null 2>"$W/err"
	local rc=$? last bad
	last=$(tail -n 1 "$W/err")
	case $rc in
	0)
		[[ $last == verdict=* ]] ;;
	1)
		bad=$(grep -cv "^$S/" "$W/err")
		[ -s "$W/err" ] && [ "$bad" -eq 0 ] ;;
	*)
		false ;;
	esac && sane "$W/err"
	ok $? "fuzz_sink $1: exit 0 with a verdict or 1 with file errors (got $rc), ${last:0:60}"
}

# the fixed configurations themselves: clean
for f in "$M" "$P"; do
	got=$(timeout 60 "$SINKD" -n -c "$f/sinkd.conf" 2>&1)
	is "$got" "configuration OK" "sinkd -n on the ${f##*/} target's sinkd.conf"
done

# the hostile inputs, NAME.TARGET, with no findings to be had from them
printf 'Subject: no body' >"$W/in/headers-only.message"
printf '\0\0\r\r\n:\n \n\tfolded\n\n\0body' >"$W/in/nul-and-cr.message"
{ for i in $(seq 200); do printf 'Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n' "$i" "$i"; done
  printf 'Content-Type: text/plain\n\nconfidential http://example.com/\n'; } >"$W/in/nested-200.message"
{ printf 'Subject: '; head -c 100000 /dev/zero | tr '\0' x; printf '\n\nbody\n'; } >"$W/in/long-header.message"
printf '' >"$W/in/empty.conf"
printf '\xff\xfe[sinkd\n=\n[]\n\\' >"$W/in/garbage.conf"
printf '[sinkd]\nchain = rewrite, rewrite, nosuch\n[rewrite]\ntext-replace = /(/ => x, /\\b/ => \\q\n' \
	>"$W/in/bad-values.conf"
printf '[sinkd]\nchain = protocol\nchain = protocol\n[sinkd]\n' >"$W/in/twice.conf"
printf '' >"$W/in/empty.policy"
printf '[protocol]\nconnect-deny = 192.0.2.0/24\nmax-recipients = -1\n[nosuch]\n' >"$W/in/bad-keys.policy"
printf '[rewrite]\ntext-replace = /(a+)+$/ => \\1\\9, \\, => x\nheader-change = Subject: /(/ =>\n' \
	>"$W/in/bad-regex.policy"

printf 'return {\n  eom = function(ctx) while true do end end,\n}\n' >"$W/in/endless.sink"
printf 'return {\n  eom = function(ctx) ctx:header_add("X\\0", ("x"):rep(1e6)) end,\n' >"$W/in/unfinished.sink"
printf 'return { eom = function(ctx) ctx:part_content(-1) end }\n__END__\n' >"$W/in/no-message.sink"

for f in "$W"/in/*.sink "$TOP"/fuzz/regress/fuzz_sink/*; do
	[ -f "$f" ] || continue
	sink "$(basename "$f")" "$f"
done
for f in "$W"/in/*.message "$TOP"/fuzz/regress/fuzz_message/*; do
	[ -f "$f" ] || continue
	message "$(basename "$f")" "$f"
done
for f in "$W"/in/*.conf "$TOP"/fuzz/regress/fuzz_conf/*; do
	[ -f "$f" ] || continue
	cp "$f" "$C/sinkd.conf"
	check "fuzz_conf $(basename "$f")" "$C" "$C/sinkd.conf"
done
for f in "$W"/in/*.policy "$TOP"/fuzz/regress/fuzz_policy/*; do
	[ -f "$f" ] || continue
	cp "$f" "$P/domains/example.org.conf"
	check "fuzz_policy $(basename "$f")" "$P" "$P/sinkd.conf"
done

# fuzz_milter: a sinkd on fuzz/milter.conf's rules, as t/packet-order.t runs it
[ "$(id -u)" -eq 0 ] || bail_out "the fuzz_milter inputs need root (a sinkd running as postfix)"
chmod o+x "$W"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
cp disclaimer/text.tmpl disclaimer/html.tmpl "$W/sk/conf/"
sed -e '1,/^\[sinkd\]/d' -e '/^spool-dir/d' -e '/^internal-hosts/d' \
	-e 's#^text-file = #&'"$W/sk/conf/"'#' -e 's#^html-file = #&'"$W/sk/conf/"'#' \
	"$TOP/fuzz/milter.conf" >>"$W/sk/conf/sinkd.conf"
chown -R postfix "$W/sk"
chown -R root "$W/sk/conf"	# sinkd trusts only root's configuration
sk_start || bail_out "sinkd did not start"
field() { printf '%s\n' "$OUT" | sed -n "s/^$1=//p"; }
for f in "$TOP"/fuzz/regress/fuzz_milter/*; do
	[ -f "$f" ] || continue
	OUT=$(python3 lib/milterseq.py replay "$SK_SOCKET" "$f" 2>&1)
	is "$(field edits)/$(field closed)" "0/1" \
		"fuzz_milter $(basename "$f"): nothing let through, connection closed (replies $(field replies))"
	kill -0 "$(sk_pid)" 2>/dev/null
	ok $? "fuzz_milter $(basename "$f"): sinkd still runs"
	OUT=$(python3 lib/milterseq.py run "$SK_SOCKET" good 2>&1)
	[ "$(field edits)" -gt 0 ] && [ "$(field last)" = c ]
	ok $? "fuzz_milter $(basename "$f"): the next well-formed message is let through"
done
sk_stop
sk_log_clean
ok $? "fuzz_milter: no sanitizer report in sinkd's log"
done_testing
