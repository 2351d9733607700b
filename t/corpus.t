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
done_testing
