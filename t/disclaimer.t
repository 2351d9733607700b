#!/bin/bash
# disclaimer.t - the disclaimer handler through sinkd -t over the corpus
#
# Every plain, html, alternative, mixed and nested sample (non-ASCII
# charsets among them): the decoded text of each changed part must be the
# original's plus the disclaimer, exactly; every other part unchanged; no
# new parser defects (t/lib/mimecheck.py, Python's email package, and
# GMime's parser warnings, t/unit/mimewarn); or, for
# a message with no text body, a wrap with the content unchanged.  Then
# once per thread, bounces, direction, and header safety.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/domains" "$W/spool"
cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = protocol, disclaimer
spool-dir = $W/spool
internal-hosts = 10.255.0.0/16
[disclaimer]
text-file = $(fixture "$PWD/disclaimer/text.tmpl" "$W")
html-file = $(fixture "$PWD/disclaimer/html.tmpl" "$W")
CONF
# the disclaimers as they come out for sender a@example.com
sed 's/${sender}/a@example.com/' disclaimer/text.tmpl > "$W/exp.txt"
sed 's/${sender}/a@example.com/' disclaimer/html.tmpl > "$W/exp.html"

t() {
	"$SINKD" -t -c "$W/sinkd.conf" "$@" <"$MSG" >"$W/out" 2>"$W/err"
	RC=$?
	ERR=$(cat "$W/err")
}

declare -A seen changed wrapped
while IFS=$'\t' read -r path _ _ _ cat _; do
	case $cat in plain|html|alternative|mixed|nested) ;; *) continue ;; esac
	MSG=corpus/$path
	t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
	seen[$cat]=$((${seen[$cat]:-0} + 1))
	if [ $RC -ne 0 ] || [[ $ERR != verdict=accept* ]]; then
		ok 1 "$path ($cat): accepted"
		diag "$ERR"
		continue
	fi
	res=$(python3 lib/mimecheck.py "$MSG" "$W/out" "$W/exp.txt" "$W/exp.html" 2>&1)
	st=$?
	# no new defects for GMime's parser either
	w0=$(unit/mimewarn "$MSG") w1=$(unit/mimewarn "$W/out")
	if [ "$w1" -gt "$w0" ]; then
		st=1
		res="$res
problem: GMime parser warnings $w0 -> $w1"
	fi
	ok $st "$path ($cat): $(echo "$res" | head -n 1)"
	[[ $res == wrapped* ]] && wrapped[$cat]=$((${wrapped[$cat]:-0} + 1)) ||
		changed[$cat]=$((${changed[$cat]:-0} + 1))
	grep -q '^problem' <<<"$res" && diag "$res"
done <corpus/MANIFEST.tsv
# malformed samples: never a crash; passed (with the disclaimer where it
# fits, checked as above) or tempfailed per on-error, never mangled
declare -A mal
while IFS=$'\t' read -r path _ _ _ cat _; do
	[ "$cat" = malformed ] || continue
	MSG=corpus/$path
	t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
	case $ERR in
	verdict=accept*)
		# parsers disagree on malformed mail: either the parts check out
		# with Python's parser, or the original stands whole in the result
		# with only lines added (the disclaimer, a wrap)
		if grep -q '^X-Sinkd-Disclaimer: wrapped' "$W/out"; then
			# a wrap: the content, byte for byte, is its first part
			cmp -s <(python3 lib/entity.py "$W/out" 0 | tr -d '\r') \
				<(python3 lib/content.py "$MSG" | tr -d '\r')
			ok $? "malformed $path: wrapped, content kept byte for byte"
			mal[accepted]=$((${mal[accepted]:-0} + 1))
			continue
		fi
		norm='s/^\([!-9;-~]*\)[ \t][ \t]*:/\1:/'	# obsolete "Name :"
		res=$(python3 lib/mimecheck.py "$MSG" "$W/out" "$W/exp.txt" "$W/exp.html" 2>&1) ||
			res=$(python3 lib/mimecheck.py --inserted <(sed "$norm" "$MSG") <(sed "$norm" "$W/out") 2>&1)
		ok $? "malformed $path: $(echo "$res" | head -n 1)"
		grep -q '^problem\|changed or removed' <<<"$res" && diag "$res"
		mal[accepted]=$((${mal[accepted]:-0} + 1)) ;;
	verdict=tempfail*handler=disclaimer*)
		[ $RC -eq 0 ]; ok $? "malformed $path: tempfailed by on-error"
		mal[tempfailed]=$((${mal[tempfailed]:-0} + 1)) ;;
	*)
		ok 1 "malformed $path: exit $RC: $ERR" ;;
	esac
done <corpus/MANIFEST.tsv
diag "malformed: ${mal[accepted]:-0} passed with the disclaimer, ${mal[tempfailed]:-0} tempfailed"

for c in plain html alternative mixed nested; do
	diag "$c: ${seen[$c]:-0} samples, ${changed[$c]:-0} with the disclaimer in their text, ${wrapped[$c]:-0} wrapped"
done

# once per thread: a reply quoting the disclaimer gets no second one
MSG=corpus/python-email/msg_01.txt
t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
{ printf 'From: b@example.org\nTo: a@example.com\nSubject: Re: hi\nMIME-Version: 1.0\nContent-Type: text/plain\n\nThanks!\n\n'
  sed 's/^/> /' "$W/out"; } > "$W/reply"
MSG=$W/reply t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
is "$ERR" "verdict=accept edits=0 from=<a@example.com> rcpts=<b@example.org> direction=outbound policy=default changed=no" \
	"a reply quoting the disclaimer does not get it again"
cmp -s "$W/reply" "$W/out"; ok $? "  and leaves byte-identical"

# inbound mail (direction = outbound by default) and bounces get none
MSG=corpus/python-email/msg_01.txt
t -F a@example.com -R b@example.org -C 192.0.2.1,mx.example.net
is "$ERR" "verdict=accept edits=0 from=<a@example.com> rcpts=<b@example.org> direction=inbound policy=default changed=no" "inbound mail gets no disclaimer"
t -F '' -R b@example.org -C 10.255.0.1,pc.example.com
is "$ERR" "verdict=accept edits=0 from=<> rcpts=<b@example.org> direction=outbound policy=default changed=no" "a bounce gets no disclaimer"

# once per thread after a wrap: a message sinkd wrapped (the disclaimer
# beside content it cannot rewrite: undecodable text, no text body, signed
# mail) passes a second time unchanged, as each reply or forward loop would
# bring it back
printf 'From: a@example.com\nTo: b@example.org\nSubject: bogus\nMIME-Version: 1.0\nContent-Type: text/plain; charset=x-no-such-charset\n\nHello \xff\xfe there\n' >"$W/undecodable"
printf 'From: a@example.com\nTo: b@example.org\nSubject: pic\nMIME-Version: 1.0\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n' >"$W/notext"
for f in undecodable notext corpus/thunderbird/smime/alice.dsig.SHA256.multipart.eml; do
	[ -f "$f" ] || f=$W/$f
	MSG=$f t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
	grep -q '^X-Sinkd-Disclaimer: wrapped' "$W/out"
	ok $? "${f##*/}: wrapped on the first pass"
	cp "$W/out" "$W/pass1"
	MSG=$W/pass1 t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
	like "$ERR" '^verdict=accept edits=0 .* changed=no$' "  the second pass changes nothing"
	cmp -s "$W/pass1" "$W/out"
	ok $? "  and leaves it byte-identical"
	is "$(grep -c 'is confidential' "$W/out")" 2 "  one disclaimer (its text and HTML forms)"
done

# variables: HTML-escaped in HTML, never a new header
printf 'From: x\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/html\n\n<html><body>hi</body></html>\n' > "$W/html"
MSG=$W/html t -F '"<b>&"@example.com' -R b@example.org -C 10.255.0.1,pc.example.com
grep -q 'from &quot;&lt;b&gt;&amp;&quot;@example.com is confidential.</p>' "$W/out"
ok $? "HTML variables are escaped"
grep -q '</p>$' "$W/out" && grep -A1 '</p>$' "$W/out" | grep -q '^</body></html>$'
ok $? "HTML goes right before </body>"

# a 7bit us-ascii part gaining 8-bit text becomes UTF-8, quoted-printable
printf -- 'Ünïcödé: ${sender}\n' > "$W/u.tmpl"
sed -i "s|^text-file = .*|text-file = $W/u.tmpl|; s|^html-file = .*|html-file =|" "$W/sinkd.conf"
printf 'From: x\nSubject: s\n\nplain text\n' > "$W/plain"
MSG=$W/plain t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
grep -q '^Content-Type: text/plain; charset=utf-8$' "$W/out" &&
	grep -q '^Content-Transfer-Encoding: quoted-printable$' "$W/out" &&
	grep -q '^MIME-Version: 1.0$' "$W/out"
ok $? "an ASCII message gaining UTF-8 text becomes UTF-8, quoted-printable, MIME"
grep -q '^=C3=9Cn=C3=AFc=C3=B6d=C3=A9: a@example.com$' "$W/out"
ok $? "  with the disclaimer encoded"
printf 'From: x\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\nd\xe9j\xe0 vu\n' > "$W/latin"
MSG=$W/latin t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
grep -q '^Content-Type: text/plain; charset=iso-8859-1$' "$W/out" && grep -q $'^\xdcn\xefc\xf6d\xe9: a@example.com$' "$W/out"
ok $? "text that fits the part's charset stays in it (ISO-8859-1, 8bit)"

# a message over body-memory-limit: the tree is parsed from the spool file
printf 'body-memory-limit = 1k\n' > "$W/extra"
sed -i "/^spool-dir/r $W/extra" "$W/sinkd.conf"
{ printf 'From: x\nSubject: big\n\n'; for i in $(seq 1 300); do echo "line $i of a body kept in a file"; done; } > "$W/big"
MSG=$W/big t -F a@example.com -R b@example.org -C 10.255.0.1,pc.example.com
cmp -s <(sed '1,/^$/d' "$W/big") <(sed '1,/^$/d' "$W/out" | head -n 300) && grep -q '^=C3=9Cn=C3=AFc=C3=B6d=C3=A9: a@example.com$' "$W/out"
ok $? "a message spooled to disk gets the disclaimer, its text kept"
done_testing
