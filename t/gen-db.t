#!/usr/bin/env bash
# gen-db.t - bench/gen-db: the benchmark's synthetic signature database
#
# At a thousandth of its size: libclamav takes every line (gen-db loads
# it and compares the count; clamscan here loads it again), the counts
# follow the scale, the same seed gives the same bytes and another seed
# others, a second run finds the cache, a cache inside the source tree is
# refused, the test viruses are found and the clean messages of t/corpus
# stay clean.
#
# Needs python3 and clamscan (package clamav, as sigtool for the other
# virus tests).

T=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$T/.." && pwd)
# shellcheck source=lib/tap.sh
source "$T/lib/tap.sh"
# shellcheck source=lib/clamav.sh
source "$T/lib/clamav.sh"

W=$(workdir gen-db) || bail_out "no work directory"
trap 'rm -rf "$W"' EXIT
GEN=$TOP/bench/gen-db

gen() {
	"$GEN" --scale 0.001 "$@" >"$W/out" 2>"$W/err"
	RC=$?
}
kv() {
	sed -n "s/^$1=//p" "$W/out" | head -n 1
}

gen --seed 7 --cache "$W/a"
is "$RC" 0 "gen-db builds a database"
DIR=$(kv dir)
like "$DIR" "^$W/a/db-v[0-9]+-s7-x0.001-[0-9a-f]{8}$" "in the cache, named by version, seed, scale"
is "$(kv cached)" no "built this time"
is "$(kv hdb) $(kv hsb) $(kv mdb) $(kv msb) $(kv ndb) $(kv ldb)" "1500 1100 1100 300 45 15" \
	"the counts follow the scale"
is "$(kv cl_load_sigs)" "$(kv expected_sigs)" "cl_load took every signature ($(kv cl_load_sigs))"
is "$(kv expected_sigs)" $((1500 + 1100 + 1100 + 300 + 45 + 15 + 3)) "the test signatures are in"
like "$(cat "$W/err")" "signatures \\(cl_load\\)" "it prints the size and the counts"

gen --seed 7 --cache "$W/a"
is "$RC $(kv cached) $(kv dir)" "0 yes $DIR" "a second run finds it in the cache"

gen --seed 7 --cache "$W/b"
same=0
for f in "$DIR"/*.?db; do
	cmp -s "$f" "$(kv dir)/${f##*/}" || same=1
done
ok $same "the same seed gives the same files, byte for byte"
gen --seed 8 --cache "$W/c"
cmp -s "$DIR/synth.ndb" "$(kv dir)/synth.ndb"
ok $((!$?)) "another seed gives other signatures"

gen --seed 7 --cache "$TOP/bench/cache-test"
ok $((RC == 0)) "a cache inside the source tree is refused"
like "$(cat "$W/err")" "may not be inside the source tree" "and it says why"
ok "$([ -e "$TOP/bench/cache-test" ]; echo $((!$?)))" "and nothing is made there"

# what libclamav makes of it, outside gen-db
mkdir -p "$W/tmp" "$W/virus"
av_eicar "$W/eicar.com"
python3 "$T/lib/avmsg.py" attach "$W/eicar.com" "$W/virus/eicar.eml"
cp "$T/corpus/clamav/clam.mail" "$W/virus/clam.eml"
out=$(clamscan --no-summary --tempdir="$W/tmp" -d "$DIR" "$W/virus" 2>&1)
is "$(grep -c ' FOUND$' <<<"$out")" 2 "the test viruses are found"
like "$out" "eicar.com.UNOFFICIAL FOUND" "EICAR by its hash"

# the clean messages of t/corpus (MANIFEST.tsv), as bench/gen-corpus.py
# takes them
mkdir -p "$W/clean"
python3 "$TOP/bench/gen-corpus.py" --from-corpus "$T/corpus" "$W/clean" >/dev/null
n=$(find "$W/clean" -type f | wc -l)
ok $((n < 100)) "clean messages to scan ($n)"
out=$(clamscan --no-summary --tempdir="$W/tmp" -d "$DIR" "$W/clean" 2>&1)
found=$(grep ' FOUND$' <<<"$out" | grep -v 'Heuristics\.' )
is "$found" "" "no synthetic signature matches a clean message"
is "$(grep -c ': OK$' <<<"$out")" "$((n - $(grep -c 'Heuristics\.' <<<"$out")))" \
	"every clean message scanned"

done_testing
