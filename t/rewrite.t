#!/bin/bash
# rewrite.t - the rewrite handler: golden sinkd -t cases, then the corpus
#
# Each directory under t/rewrite/ is a case: "conf" (lines appended to the
# [rewrite] group; other groups may follow), the message ("in.eml", or
# "input" naming a file under t/), optional "args" (extra sinkd -t
# arguments, one per line, printf %b escapes honoured), and what sinkd -t
# must give: "verdict" (its verdict line) and "out.eml" (the message it
# writes).  REGEN=1 writes verdict and out.eml from what sinkd gives, to
# be read before they are committed.
#
# Then every plain, html, alternative, mixed and nested corpus sample
# (charsets of every kind among them) with one literal text-replace rule:
# t/lib/rwcheck.py checks, with Python's email package, that the decoded
# text of each changed part is exactly the expected rewrite and every
# other part unchanged; and a catastrophic regex takes on-error without
# stalling.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/domains" "$W/spool"

for dir in rewrite/*/; do
	case=${dir%/}
	name=${case#rewrite/}
	{ printf '[sinkd]\nchain = rewrite\nspool-dir = %s\ninternal-hosts = 10.255.0.0/16\n[rewrite]\n' "$W/spool"
	  cat "$case/conf"; } >"$W/sinkd.conf"
	in=$case/in.eml
	[ -f "$case/input" ] && in=$(cat "$case/input")
	args=(-F sender@example.org -R rcpt@example.net -C 192.0.2.10,mx.example.org)
	if [ -f "$case/args" ]; then
		while IFS= read -r a; do args+=("$(printf '%b' "$a")"); done <"$case/args"
	fi
	"$SINKD" -t -c "$W/sinkd.conf" "${args[@]}" <"$in" >"$W/out" 2>"$W/err"
	verdict=$(tail -n 1 "$W/err")
	if [ -n "$REGEN" ]; then
		printf '%s\n' "$verdict" >"$case/verdict"
		cp "$W/out" "$case/out.eml"
	fi
	is "$verdict" "$(cat "$case/verdict" 2>/dev/null)" "$name: verdict"
	cmp -s "$W/out" "$case/out.eml"
	ok $? "$name: the message is the golden one"
	[ $? -eq 0 ] || diag "$(diff "$case/out.eml" "$W/out" | head -20)"
done

# the corpus, with one literal rule on a word most texts hold
cat >"$W/sinkd.conf" <<CONF
[sinkd]
chain = rewrite
spool-dir = $W/spool
[rewrite]
text-replace = the => ðe
CONF
declare -A seen changed
while IFS=$'\t' read -r path _ _ _ cat _; do
	case $cat in plain|html|alternative|mixed|nested) ;; *) continue ;; esac
	MSG=corpus/$path
	"$SINKD" -t -c "$W/sinkd.conf" -F a@example.com -R b@example.org <"$MSG" >"$W/out" 2>"$W/err"
	rc=$?
	seen[$cat]=$((${seen[$cat]:-0} + 1))
	err=$(tail -n 1 "$W/err")
	if [ $rc -ne 0 ] || [[ $err != verdict=accept* ]]; then
		ok 1 "$path ($cat): accepted"
		diag "$err"
		continue
	fi
	res=$(python3 lib/rwcheck.py "$MSG" "$W/out" "the" "ðe" 2>&1)
	st=$?
	if [[ $res == unchanged ]] && ! cmp -s "$MSG" "$W/out"; then
		st=1 res="problem: unchanged, but not byte-identical"
	fi
	ok $st "$path ($cat): $(echo "$res" | head -n 1)"
	[ $st -eq 0 ] || diag "$res"
	[[ $res == changed* ]] && changed[$cat]=$((${changed[$cat]:-0} + 1))
done <corpus/MANIFEST.tsv
for cat in plain html alternative mixed nested; do
	diag "$cat: ${seen[$cat]:-0} samples, ${changed[$cat]:-0} rewritten"
	[ "${changed[$cat]:-0}" -gt 0 ]
	ok $? "$cat: some samples were rewritten"
done

# a regex that backtracks catastrophically hits its match limit: on-error
# (tempfail), at once, over a whole corpus message too
cat >"$W/sinkd.conf" <<CONF
[sinkd]
chain = rewrite
spool-dir = $W/spool
[rewrite]
text-replace = /(\\w+\\s?)+\$/ => x
CONF
{ printf 'Subject: t\n\n'; for i in $(seq 1 200); do printf 'word '; done; printf '!\n'; } >"$W/slow"
"$SINKD" -t -c "$W/sinkd.conf" -F a@example.com -R b@example.org <"$W/slow" >/dev/null 2>"$W/err"
like "$(tail -n 1 "$W/err")" '^verdict=tempfail code=451 xcode=4\.3\.0 handler=rewrite ' \
	"a catastrophic regex takes on-error"
like "$(cat "$W/err")" 'match limit' "and the log says why"
done_testing
