#!/bin/bash
# corpus.t - every message of t/corpus through sinkd -t with a chain that
# changes nothing: each must come out byte-identical, verdict=accept edits=0.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/domains"
cat > "$work/sinkd.conf" <<CONF
[sinkd]
chain = protocol
spool-dir = $work
body-memory-limit = 64k
[protocol]
deny-senders = nobody@nowhere.invalid
CONF

n=0
while IFS=$'\t' read -r path _ _ _ category notes; do
	[ "$path" = path ] && continue
	case $notes in "NOT A MESSAGE:"*) continue ;; esac
	f=corpus/$path
	n=$((n + 1))
	"$SINKD" -t -c "$work/sinkd.conf" -F sender@example.org -R rcpt@example.net \
		-C 192.0.2.10,client.example <"$f" >"$work/out" 2>"$work/err"
	st=$?
	verdict=$(cat "$work/err")
	if [ $st -eq 0 ] && cmp -s "$f" "$work/out" \
	   && [[ $verdict == "verdict=accept edits=0 "* ]]; then
		ok 0 "$path ($category) passes byte-identical"
	else
		ok 1 "$path ($category) passes byte-identical"
		diag "exit $st; stderr: $verdict" "$(cmp "$f" "$work/out" 2>&1)"
	fi
done <corpus/MANIFEST.tsv
[ "$n" -ge 600 ]
ok $? "the whole corpus was run ($n messages)"

# with one header field added, nothing of the original may go: every line
# stands in the output, in order (obsolete "Name :" comes out "Name:", as an
# MTA passes it to a milter)
cat >> "$work/sinkd.conf" <<CONF
add-headers = X-Sinkd-Test: yes
CONF
bad=0
while IFS=$'\t' read -r path _ _ _ category notes; do
	[ "$path" = path ] && continue
	case $notes in "NOT A MESSAGE:"*) continue ;; esac
	"$SINKD" -t -c "$work/sinkd.conf" -F sender@example.org -R rcpt@example.net \
		-C 192.0.2.10,client.example <"corpus/$path" >"$work/out" 2>/dev/null
	norm='s/^\([!-9;-~]*\)[ \t][ \t]*:/\1:/'
	if ! python3 lib/mimecheck.py --inserted <(sed "$norm" "corpus/$path") <(sed "$norm" "$work/out") >/dev/null ||
	   [ "$(grep -c '^X-Sinkd-Test: yes' "$work/out")" != 1 ]; then
		bad=$((bad + 1))
		diag "header added to $path: lines of the original changed or lost"
	fi
done <corpus/MANIFEST.tsv
is "$bad" 0 "a header field added to each corpus message: nothing else changes"
done_testing
