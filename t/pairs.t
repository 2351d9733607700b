#!/bin/bash
# pairs.t - handlers together: no handler undoes another, in any order
#
# Every pair of handlers in both orders (rewrite and disclaimer, clamav
# and rewrite, clamav and disclaimer, protocol with each) and the full
# chain forwards and backwards, through sinkd -t, with rules that fire:
# banned extension exe and banned-names globs, a subject tag, a literal
# and a regex text substitution, link prefixing and defanging, header
# deletions (X-Mailer, the field the protocol handler adds, X-Virus-*), a
# protocol add-headers field, clamav action = tag with status headers, and
# the disclaimer both ways.  The messages: the constructed cases of
# t/lib/pairmsgs.py (a banned program alone, no text body, text that does
# not decode, malformed structure, a program inside an attached message,
# a virus in a banned part) and the corpus.  t/lib/paircheck.py, on
# Python's email package, checks that every handler's effect is in each
# output (see there), and that across the runs of one message the verdict
# and the virus status do not depend on the order.
#
# Runtime: the pairs run on a subset (the constructed cases, and every
# fourth message of each corpus category, in MANIFEST order); the full
# chain, both ways, runs on the whole corpus; the constructed cases run
# outbound too.  Two sinkd -t at a time.
#
# Signed mail: the S/MIME samples that verify before still verify after the
# full chain (the wrapped entity, openssl cms -verify), whatever rewrite's
# rules would have changed; every signed sample also goes through rewrite
# and the disclaimer, both orders, with signed = strip and attach.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/clamav.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/domains" "$W/spool" "$W/db" "$W/msgs" "$W/out" "$W/conf"
av_db "$W/db" || bail_out "no test signatures"
av_eicar "$W/eicar"
python3 lib/pairmsgs.py "$W/msgs" "$W/eicar" || bail_out "cannot build the messages"

SENDER=a@example.com
PREFIX=https://gw.example/?u=
# conf CHAIN...: a configuration with these handlers in this order (and
# the disclaimer's signed action $SIGNED, wrap by default); prints its name
conf() {
	local name
	name=$(IFS=-; echo "$*")@${SIGNED:-wrap}
	cat >"$W/conf/$name.conf" <<CONF
[sinkd]
chain = $(IFS=,; echo "$*")
spool-dir = $W/spool
internal-hosts = 10.255.0.0/16
[protocol]
add-headers = X-Pair-Added: yes
[clamav]
database = $W/db
action = tag
status-headers = yes
[rewrite]
banned-extensions = exe
banned-names = *.bat, evil-*
subject-tag = [EXT]
text-replace = the => ðe, /[Mm]essage/ => MSG
link-prefix = $PREFIX
defang = yes
header-delete = X-Mailer, X-Pair-Added, X-Virus-*
[disclaimer]
text-file = $PWD/disclaimer/text.tmpl
html-file = $PWD/disclaimer/html.tmpl
direction = both
signed = ${SIGNED:-wrap}
CONF
	echo "$name"
}
PAIRS=()
for p in "rewrite disclaimer" "clamav rewrite" "clamav disclaimer" \
	 "protocol rewrite" "protocol disclaimer" "protocol clamav"; do
	set -- $p
	PAIRS+=("$(conf "$1" "$2")" "$(conf "$2" "$1")")
done
FULL=("$(conf protocol clamav rewrite disclaimer)" "$(conf disclaimer rewrite clamav protocol)")
SIGNEDC=()
for a in strip attach; do
	SIGNEDC+=("$(SIGNED=$a conf rewrite disclaimer)" "$(SIGNED=$a conf disclaimer rewrite)")
done

# the jobs: name, file, chain, direction
declare -A nth
{
	for f in "$W"/msgs/*.eml; do
		n=case/$(basename "$f" .eml)
		for c in "${PAIRS[@]}" "${FULL[@]}"; do printf '%s\t%s\t%s\tinbound\n' "$n" "$f" "$c"; done
		for c in "${FULL[@]}"; do printf '%s-out\t%s\t%s\toutbound\n' "$n" "$f" "$c"; done
	done
	while IFS=$'\t' read -r path _ _ _ cat notes; do
		[ "$path" = path ] && continue
		case $notes in "NOT A MESSAGE:"*) continue ;; esac
		k=${nth[$cat]:-0}
		nth[$cat]=$((k + 1))
		chains=("${FULL[@]}")
		[ $((k % 4)) -eq 0 ] && chains+=("${PAIRS[@]}")
		case $cat in smime-signed|smime-opaque|pgp-signed) chains+=("${SIGNEDC[@]}") ;; esac
		for c in "${chains[@]}"; do printf '%s\t%s\t%s\tinbound\n' "$path" "$PWD/corpus/$path" "$c"; done
	done <corpus/MANIFEST.tsv
} >"$W/jobs0"

# run LINE: one job (name, file, chain, direction), its output and
# verdict kept; prints the job with where they are and sinkd's exit status
run() {
	local name file conf dir id client chain
	IFS=$'\t' read -r name file conf dir <<<"$1"
	id=$(printf '%s|%s|%s' "$name" "$conf" "$dir" | md5sum | cut -c1-16)
	client=192.0.2.1,mx.example.net
	[ "$dir" = outbound ] && client=10.255.0.1,pc.example.com
	"$SINKD" -t -c "$W/conf/$conf.conf" -F "$SENDER" -R b@example.org -C "$client" \
		<"$file" >"$W/out/$id.eml" 2>"$W/out/$id.err"
	chain=${conf%@*}
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$file" "${chain//-/,}" "$dir" \
		"$W/out/$id.eml" "$W/out/$id.err" "$?" "${conf#*@}"
}
export -f run
export SINKD W SENDER
xargs -d '\n' -n 1 -P 2 bash -c 'run "$1"' _ <"$W/jobs0" >"$W/jobs"
is "$(wc -l <"$W/jobs")" "$(wc -l <"$W/jobs0")" "every run done ($(wc -l <"$W/jobs0") runs of sinkd -t)"

sed "s/\${sender}/$SENDER/" disclaimer/text.tmpl >"$W/exp.txt"
sed "s/\${sender}/$SENDER/" disclaimer/html.tmpl >"$W/exp.html"
python3 lib/paircheck.py --literal the --literal-new ðe --regex '[Mm]essage' --regex-new MSG \
	--prefix 'hxxps://gw[.]example/?u=' --ext exe --glob '*.bat' --glob 'evil-*' \
	--tag '[EXT]' --virus-tag '[VIRUS]' --added 'X-Pair-Added: yes' \
	--deleted X-Mailer --deleted X-Pair-Added --deleted 'X-Virus-*' \
	--text "$(cat "$W/exp.txt")" --html "$(cat "$W/exp.html")" "$W/jobs" >"$W/results"
[ -s "$W/results" ]; ok $? "the checker ran"
while IFS=$'\t' read -r st what why; do
	ok "$st" "$what"
	[ "$st" -eq 0 ] || diag "$why"
done <"$W/results"

# the constructed cases: what each must come to, by name
# holds FILE TEXT: a leaf of the message, decoded, holds the text
holds() {
	python3 - "$1" "$2" <<'PY'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.compat32)
sys.exit(0 if any(sys.argv[2] in (p.get_payload(decode=True) or b"").decode("utf-8", "replace")
                  for p in m.walk() if not p.is_multipart()) else 1)
PY
}
# out NAME CHAIN [SIGNED]: the output of that run
out() { awk -F'\t' -v n="$1" -v c="$2" -v s="${3:-wrap}" '$1 == n && $3 == c && $8 == s { print $5 }' "$W/jobs"; }
for c in rewrite,disclaimer disclaimer,rewrite protocol,clamav,rewrite,disclaimer \
	 disclaimer,rewrite,clamav,protocol; do
	for n in case/only-exe case/only-exe-out case/top-exe case/top-exe-out; do
		o=$(out "$n" "$c")
		[ -n "$o" ] || continue
		grep -q '^X-Sinkd-Disclaimer: wrapped (no text body)' "$o" &&
			grep -q 'The attachment "x.exe" was removed' "$o" && ! grep -qi 'name="x.exe"' "$o"
		ok $? "$n [$c]: wrapped, the program replaced by its notice inside the wrap"
	done
	o=$(out case/undecodable "$c")
	grep -q '^X-Sinkd-Disclaimer: wrapped (undecodable text)' "$o" && holds "$o" 'ðe text, ðe' &&
		grep -q 'The attachment "setup.exe" was removed' "$o"
	ok $? "case/undecodable [$c]: wrapped, inside it the HTML rewritten and the program removed"
	o=$(out case/malformed "$c")
	grep -q '^X-Sinkd-Disclaimer: wrapped (malformed structure)' "$o" &&
		grep -q 'The attachment "run.bat" was removed' "$o" &&
		grep -q 'The attachment "tool.exe" was removed' "$o"
	ok $? "case/malformed [$c]: wrapped, the banned parts replaced inside the wrap"
done
bad=0
for o in $(awk -F'\t' '$1 == "case/virus-exe" && $3 ~ /clamav/ { print $5 }' "$W/jobs"); do
	grep -q '^X-Virus-Status: Infected' "$o" || bad=$((bad + 1))
done
is "$bad" 0 "case/virus-exe: the virus in a banned part is found in every order"

# signed mail: after the full chain the wrapped entity still verifies;
# with signed = attach (rewrite before or after), the attached message,
# which carries rewrite's header changes (the Subject tag), still does
verified=0
while IFS=$'\t' read -r path _ _ _ cat notes; do
	case $cat in smime-signed|smime-opaque) ;; *) continue ;; esac
	cmd=$(grep -o 'openssl cms -verify -in [^ ]* -CAfile [^ ;|]*' <<<"$notes" | head -n 1)
	[ -n "$cmd" ] && (cd corpus && $cmd) >/dev/null 2>&1 || continue
	ca=$(sed 's/.*-CAfile //' <<<"$cmd")
	for c in "${FULL[@]}"; do
		chain=${c%@*}
		o=$(out "$path" "${chain//-/,}")
		grep -q '^X-Sinkd-Disclaimer: wrapped (signed)' "$o" &&
			python3 lib/entity.py "$o" 0 >"$W/entity" &&
			(cd corpus && openssl cms -verify -in "$W/entity" -CAfile "$ca" -out /dev/null) >/dev/null 2>&1
		ok $? "$path [${chain//-/,}]: the signed entity still verifies"
		verified=$((verified + 1))
	done
	for chain in rewrite,disclaimer disclaimer,rewrite; do
		o=$(out "$path" "$chain" attach)
		grep -q '^X-Sinkd-Disclaimer: attached (signed)' "$o" &&
			python3 lib/entity.py "$o" 1 | python3 -c '
import sys
raw = sys.stdin.buffer.read()
inner = raw.partition(b"\r\n\r\n")[2]
head = inner.partition(b"\r\n\r\n")[0]
sys.stdout.buffer.write(inner)
sys.exit(0 if b"\r\nSubject: [EXT] " in b"\r\n" + head else 1)' >"$W/inner" &&
			(cd corpus && openssl cms -verify -in "$W/inner" -CAfile "$ca" -out /dev/null) >/dev/null 2>&1
		ok $? "$path [$chain], signed = attach: the attached message, its Subject tagged, still verifies"
		verified=$((verified + 1))
	done
done <corpus/MANIFEST.tsv
[ "$verified" -ge 40 ]; ok $? "signed samples checked: $verified runs"
done_testing
