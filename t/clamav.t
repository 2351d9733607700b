#!/bin/bash
# clamav.t - the virus handler's embedded engine through sinkd -t
#
# Signatures are ClamAV's own test signatures and an EICAR hash built here
# (t/lib/clamav.sh).  Every corpus message must get the verdict clamscan
# gives it with the same database: the infected ones rejected with the
# virus's name, every clean one accepted byte-identical.  Each file of
# clamav-testfiles (archives, packers, documents: 44 container formats),
# attached to a message, must be rejected.  Then every action, on-error,
# on-limit with a nested-archive bomb and a size limit, the oversize path,
# replies, the status headers and the skips.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/clamav.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
TESTFILES=/usr/share/clamav-testfiles
command -v clamscan >/dev/null && command -v sigtool >/dev/null ||
	bail_out "clamscan and sigtool (package clamav) are needed"
[ -d $TESTFILES ] || bail_out "$TESTFILES (package clamav-testfiles) is needed"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
av_db "$W/db" || bail_out "cannot build the test signature database"
mkdir -p "$W/domains" "$W/spool" "$W/q" "$W/empty"
# clamscan with the engine settings sinkd uses by default (block-encrypted:
# encrypted archives and documents are findings)
CLAMSCAN="--no-summary --disable-cache -d $W/db --alert-exceeds-max=yes --alert-encrypted=yes
	--max-recursion=16 --max-files=10000 --max-filesize=100M --max-scansize=400M"

conf() {
	cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = ${CHAIN:-clamav}
spool-dir = $W/spool
internal-hosts = 10.255.0.0/16
$MAIN
[clamav]
database = ${DB:-$W/db}
quarantine-dir = ${QDIR:-$W/q}
clean-cache = no
$(printf '%s\n' "$@")
CONF
}

# t FILE ARGS...: sinkd -t on FILE; OUT, ERR (the verdict line), RC
t() {
	local f=$1
	shift
	"$SINKD" -t -c "$W/sinkd.conf" -F sender@example.org -R rcpt@example.net \
		-C 192.0.2.10,client.example "$@" <"$f" >"$W/out" 2>"$W/err"
	RC=$?
	ERR=$(tail -n 1 "$W/err")
}

MAIN=
conf

# the reference: clamscan's verdict for every corpus message, same database
declare -A ref
while IFS= read -r line; do
	f=${line%%: *} v=${line#*: }
	ref[$f]=$v
done < <(cd corpus && awk -F'\t' 'NR > 1 && $6 !~ /^NOT A MESSAGE/ {print $1}' MANIFEST.tsv |
	xargs clamscan $CLAMSCAN 2>/dev/null)
[ ${#ref[@]} -ge 600 ]
ok $? "clamscan gave a reference verdict for the corpus (${#ref[@]} messages)"

# the engine alone (scan-parts = none) gives clamscan's verdicts
conf "scan-parts = none"
clean=0 infected=0
while IFS=$'\t' read -r path _ _ _ category notes; do
	[ "$path" = path ] && continue
	case $notes in "NOT A MESSAGE:"*) continue ;; esac
	t "corpus/$path"
	want=${ref[$path]}
	if [[ $want == *" FOUND" ]]; then
		name=${want% FOUND}
		infected=$((infected + 1))
		[[ $ERR == "verdict=reject code=550 xcode=5.7.1 handler=clamav text=\"Message contains a virus ($name)\" "* ]]
		ok $? "$path: rejected as $name"
	else
		clean=$((clean + 1))
		[ $RC -eq 0 ] && [[ $ERR == "verdict=accept edits=0 "* ]] && cmp -s "corpus/$path" "$W/out"
		ok $? "$path ($category): clean, passes byte-identical"
	fi
	[ $? -eq 0 ] || diag "clamscan: $want" "sinkd: $ERR"
done <corpus/MANIFEST.tsv
diag "corpus: $infected infected, $clean clean"
[ $infected -ge 6 ]
ok $? "the corpus's virus samples are found ($infected)"

# with the parts cross-checked (the default), the messages built to make
# libclamav's MIME parser miss an attachment that mail clients show are
# caught too, and nothing else changes; the one whose attachment hides
# behind a second boundary parameter (libclamav and GMime both take the
# first) cannot be scanned completely: on-limit refuses it
BYPASS="clamav/clam.mail-boundary-content-disposition.eml clamav/clam.mail-semicolon-boundary.eml"
AMBIGUOUS=clamav/clam.mail-multiple-boundaries.eml
conf
caught=0 passed=0 bad=0
while IFS=$'\t' read -r path _ _ _ category notes; do
	[ "$path" = path ] && continue
	case $notes in "NOT A MESSAGE:"*) continue ;; esac
	[[ ${ref[$path]} == *" FOUND" ]] && continue
	t "corpus/$path"
	if [[ " $BYPASS " == *" $path "* ]]; then
		[[ $ERR == "verdict=reject code=550 xcode=5.7.1 handler=clamav text=\"Message contains a virus (ClamAV-Test-File.UNOFFICIAL)\" "* ]]
		ok $? "$path: the attachment libclamav's parser misses is found in the part"
		caught=$((caught + 1))
	elif [ "$path" = "$AMBIGUOUS" ]; then
		[[ $ERR == "verdict=reject code=554 xcode=5.7.0 handler=clamav text=\"Message could not be scanned completely (Sinkd.MIME.AmbiguousBoundary)\" "* ]]
		ok $? "$path: two boundary parameters: not scanned completely, refused by on-limit"
	elif [ $RC -eq 0 ] && [[ $ERR == "verdict=accept edits=0 "* ]] && cmp -s "corpus/$path" "$W/out"; then
		passed=$((passed + 1))
	else
		bad=$((bad + 1))
		diag "$path: $ERR"
	fi
done <corpus/MANIFEST.tsv
is "$bad" 0 "scan-parts = unseen: every other clean message passes byte-identical ($passed)"
is "$caught" 2 "scan-parts = unseen: both bypass samples caught"

# scan calls (the debug log counts them): mail as clients send it costs
# one for the message and a raw one (hash and body signatures, nothing
# parsed) for each text part, whose CRLF form a mail client saves and
# libclamav's parser (LF lines) never sees; its base64 attachment,
# which libclamav decoded to the same bytes, is not scanned again;
# EICAR attached with each transfer encoding is found; a part
# libclamav's MIME parser does not see is scanned on its own and found
# whatever its encoding, a 7bit one where it lies in the spool (in
# memory, or in the spool file past body-memory-limit).  With debug, the
# verdict is not the last line.
av_eicar "$W/eicar.com"
MAIN="debug = yes"
conf
python3 lib/avmsg.py ordinary "$W/ordinary"
t "$W/ordinary"
like "$(grep -m 1 '^verdict=' "$W/err")" '^verdict=accept ' "ordinary multipart message: clean"
grep -q 'clamav: 3 scan calls$' "$W/err"
ok $? "ordinary multipart message: three scan calls"
grep -q 'clamav: 2 of 3 parts scanned on their own (1 in place, 2 raw)$' "$W/err"
ok $? "ordinary multipart message: its two text parts scanned again as they are, unparsed, the attachment not, its 7bit part not copied"
for cte in 7bit quoted-printable base64; do
	python3 lib/avmsg.py ordinary "$W/ordinary-$cte" "$W/eicar.com" $cte
	t "$W/ordinary-$cte"
	like "$(grep -m 1 '^verdict=' "$W/err")" '^verdict=reject code=550 .*virus \(eicar\.com\.UNOFFICIAL\)' "EICAR attached $cte: found"
	python3 lib/avmsg.py hidden "$W/eicar.com" $cte "$W/hidden-$cte"
	t "$W/hidden-$cte"
	like "$(grep -m 1 '^verdict=' "$W/err")" '^verdict=reject code=550 .*virus \(eicar\.com\.UNOFFICIAL\)' "EICAR attached $cte where libclamav's parser misses it: found"
	grep -q 'clamav: 1 of 1 parts scanned on their own' "$W/err" && grep -q 'clamav: 2 scan calls$' "$W/err"
	ok $? "EICAR attached $cte where libclamav's parser misses it: the part scanned on its own"
done
grep -q 'clamav: 1 of 1 parts scanned on their own (0 in place, 0 raw)$' "$W/err"
ok $? "a base64 part is decoded, not taken in place"

# a script attached as 7bit text, known by the hash of its CRLF form (as
# the message has it, and as a mail client on Windows saves it):
# libclamav's mail parser gives its lines LF ends and never sees that
# form, so clamscan misses it; the part scanned on its own is found
printf 'var s = new ActiveXObject("WScript.Shell");\r\ns.Run("calc.exe");\r\n' >"$W/crlf.js"
rm -rf "$W/dbcrlf" && cp -r "$W/db" "$W/dbcrlf"
(cd "$W" && sigtool --md5 crlf.js) | sed 's/:[^:]*$/:Sinkd.Test.CRLFText/' >"$W/dbcrlf/crlf.hdb"
{
	printf 'From: sender@example.org\r\nTo: rcpt@example.net\r\nSubject: script\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
	printf -- '--b1\r\nContent-Type: text/plain\r\n\r\nSee the script.\r\n'
	printf -- '--b1\r\nContent-Type: text/plain; name="crlf.js"\r\n'
	printf 'Content-Disposition: attachment; filename="crlf.js"\r\n\r\n'
	cat "$W/crlf.js"
	printf -- '\r\n--b1--\r\n'
} >"$W/crlf-text"
like "$(clamscan --no-summary --disable-cache -d "$W/dbcrlf" "$W/crlf-text" 2>&1)" ': OK$' \
	"a script attached as text, its CRLF form's hash a signature: libclamav alone does not find it"
DB=$W/dbcrlf conf
t "$W/crlf-text"
like "$(grep -m 1 '^verdict=' "$W/err")" '^verdict=reject code=550 .*virus \(Sinkd\.Test\.CRLFText\.UNOFFICIAL\)' \
	"  sinkd scans the text part as it is and finds it"
MAIN="debug = yes
body-memory-limit = 1k"
conf
t "$W/hidden-7bit"
like "$(grep -m 1 '^verdict=' "$W/err")" '^verdict=reject code=550 .*virus \(eicar\.com\.UNOFFICIAL\)' "the same from a spool file: found"
grep -q 'clamav: 1 of 1 parts scanned on their own (1 in place, 0 raw)$' "$W/err"
ok $? "the same from a spool file: the 7bit part scanned where it lies"
MAIN=
conf

# every container format of clamav-testfiles, as an attachment
n=0
for f in $TESTFILES/*; do
	python3 lib/avmsg.py attach "$f" "$W/msg"
	want=$(clamscan $CLAMSCAN "$W/msg" 2>/dev/null)
	[[ $want == *" FOUND" ]] || { diag "${f##*/}: clamscan: $want"; continue; }
	name=${want##*: }
	name=${name% FOUND}
	t "$W/msg"
	n=$((n + 1))
	case $name in
	Heuristics.Limits.Exceeded.*) text="Message could not be scanned completely" code="554 xcode=5\\.7\\.0" ;;
	*) text="Message contains a virus" code="550 xcode=5\\.7\\.1" ;;
	esac
	like "$ERR" "^verdict=reject code=$code handler=clamav text=\"$text \\($name\\)\"" \
		"${f##*/} attached: rejected as $name"
done
[ $n -ge 40 ]
ok $? "clamav-testfiles: $n files clamscan detects were attached and tried"

VIRUS=corpus/constructed/eicar-zip-attachment.eml
CLEAN=corpus/mimekit/messages/$(cd corpus/mimekit/messages && ls | head -n 1)
[ -f "$CLEAN" ] || bail_out "no clean sample in corpus/mimekit/messages"

# actions
conf "action = tempfail"
t $VIRUS
like "$ERR" '^verdict=tempfail code=451 xcode=4\.7\.1 handler=clamav text="Message contains a virus \(eicar\.com\.UNOFFICIAL\), try again later"' \
	"action = tempfail: 451 with the name"
conf "action = discard"
t $VIRUS
like "$ERR" '^verdict=discard ' "action = discard"
conf "action = quarantine" "quarantine-method = hold"
t $VIRUS
like "$ERR" '^verdict=quarantine ' "action = quarantine, method hold: the MTA's hold queue"
like "$ERR" ' quarantine=hold( |$)' "  the verdict line says so"
conf "action = quarantine"
t $VIRUS
like "$ERR" "^verdict=discard .* quarantine=$W/q( |\$)" \
	"action = quarantine, method store, dry run: discarded, the verdict line says where to"
is "$(ls -A "$W/q" | wc -l)" 0 "  and nothing is written there"
t $VIRUS --quarantine
like "$ERR" "^verdict=discard .* quarantine=$W/q/[0-9T]+-[0-9a-f]+\.eml( |\$)" \
	"  with --quarantine: discarded, the verdict line names the entry"
meta=$(ls "$W/q"/*.meta 2>/dev/null)
[ "$(echo "$meta" | grep -c .)" -eq 1 ]
ok $? "one quarantine entry"
id=$(basename "$meta" .meta)
cmp -s "$W/q/$id.eml" <(tr -d '\r' <$VIRUS | sed 's/$/\r/')
ok $? "the quarantined bytes are the message as received (CRLF)"
like "$(cat "$meta")" "virus=eicar\\.com\\.UNOFFICIAL" "the entry names the virus"
like "$(cat "$meta")" "sender=sender@example\\.org" "the entry names the sender"
like "$(cat "$meta")" "recipients=rcpt@example\\.net" "the entry names the recipients"
[[ $id =~ ^[0-9]{8}T[0-9]{6}-[0-9a-f]{16}$ ]]
ok $? "the entry's name is made by sinkd ($id)"
touch "$W/file"
QDIR=$W/file/q
conf "action = quarantine"
t $VIRUS --quarantine
like "$ERR" '^verdict=tempfail code=451 ' "quarantine cannot be written: tempfail, never accept"
QDIR=

# release tokens through sinkd -t (its queue ID is OFFLINE)
head -c 32 /dev/urandom >"$W/q/.key"
chmod 600 "$W/q/.key"
tr -d '\r' <corpus/constructed/eicar-base64-attachment.eml | sed 's/$/\r/' >"$W/v.crlf"
rtoken() {
	python3 lib/release-token.py "$W/q/.key" 20240501T120000-0123456789abcdef \
		"$(date +%s)" sender@example.org rcpt@example.net "$W/v.crlf" >"$W/rel"
}
used() { ls -A "$W/q" | grep -c '^\.used-'; }
rtoken
conf "action = reject"
t "$W/rel"
like "$ERR" '^verdict=accept .* released=clamav( |$)' "a release token, dry run: it would pass"
is "$(used)" 0 "  and the dry run spends nothing"
t "$W/rel" --quarantine
like "$ERR" '^verdict=accept .* released=clamav( |$)' "a release token for this body and envelope: passed"
is "$(grep -c '^X-Sinkd-Released:' "$W/out")" 0 "  the field is removed"
is "$(used)" 1 "  the token is spent: one .used- marker"
t "$W/rel"
like "$ERR" '^verdict=reject ' "the same again, dry run: scanned and rejected"
t "$W/rel" --quarantine
like "$ERR" '^verdict=reject ' "the same again: scanned and rejected"
unlike "$ERR" 'released=' "  no release"
grep -q 'X-Sinkd-Released not honoured: already used' "$W/err"
ok $? "  the log says the token was used"
rtoken
t "$W/rel" -R other@example.net --quarantine
like "$ERR" '^verdict=reject ' "a fresh token, one recipient more: rejected"
grep -q 'X-Sinkd-Released not honoured: issued for another sender or other recipients' "$W/err"
ok $? "  the log says the envelope is another"
is "$(used)" 1 "  and the token is not spent"
# a released message passes every handler unchanged: rewrite after
# clamav would refuse eicar.com, and tag the subject
CHAIN="clamav, rewrite" conf "action = reject" "[rewrite]" "banned-extensions = com" \
	"banned-action = reject" "subject-tag = [EXT]"
t "$W/rel" --quarantine
like "$ERR" '^verdict=accept .*released=clamav' "a released message: rewrite does not refuse it"
is "$(used)" 2 "  the token is spent"
cmp -s "$W/out" <(grep -v '^X-Sinkd-Released:' "$W/rel")
ok $? "  the message is unchanged but for the token field"
t "$W/rel" --quarantine
like "$ERR" '^verdict=reject .*handler=clamav' "  sent again: filtered as any other"
# a forged token (another body) gives no pass either
{ cat "$W/rel"; printf 'one line more\r\n'; } >"$W/forged-rel"
conf "action = reject"
t "$W/forged-rel" --quarantine
like "$ERR" '^verdict=reject ' "a token for another body: rejected"
grep -q 'X-Sinkd-Released not honoured: its MAC does not check' "$W/err"
ok $? "  the log says the MAC does not check"

conf "action = tag"
t $VIRUS
like "$ERR" '^verdict=accept ' "action = tag: delivered"
st=$(grep -c '^X-Virus-Status: Infected (eicar\.com\.UNOFFICIAL)' "$W/out")
is "$st" 1 "action = tag: X-Virus-Status names the virus"
like "$(grep '^Subject:' "$W/out")" '^Subject: \[VIRUS\] ' "action = tag: subject tagged"
# a later handler's subject tag builds on this one, it does not undo it
CHAIN="clamav, rewrite" conf "action = tag" "[rewrite]" "subject-tag = [EXTERNAL]"
t $VIRUS
like "$(grep '^Subject:' "$W/out")" '^Subject: \[EXTERNAL\] \[VIRUS\] ' \
	"action = tag, then rewrite's subject-tag: both tags, in chain order"
is "$(grep -c '^Subject:' "$W/out")" 1 "  and one Subject"

# the reply template
conf 'reply = 554 5.7.1 Refused ${virus} for ${sender}'
t $VIRUS
like "$ERR" 'code=554 xcode=5\.7\.1 handler=clamav text="Refused eicar\.com\.UNOFFICIAL for sender@example\.org"' \
	"reply template with variables"

# status headers: off by default, and forged ones removed when on
conf
t $CLEAN
unlike "$(cat "$W/out")" 'X-Virus-' "no status header by default"
{ printf 'X-Virus-Status: Clean\r\nX-Virus-Scanned: by nobody\r\n'; cat "$VIRUS"; } >"$W/forged"
conf "status-headers = yes" "action = tag"
t "$W/forged"
is "$(grep -c '^X-Virus-Status:' "$W/out")" 1 "a received X-Virus-Status is replaced, not kept"
like "$(grep '^X-Virus-Status:' "$W/out")" 'Infected' "the status is sinkd's own"
conf "status-headers = yes"
t $CLEAN
like "$(grep '^X-Virus-Status:' "$W/out")" '^X-Virus-Status: Clean' "status-headers: clean status"
like "$(grep '^X-Virus-Scanned:' "$W/out")" '^X-Virus-Scanned: sinkd \(ClamAV [0-9.]+/[0-9]+/[0-9]+ signatures\) on ' \
	"status-headers: engine version"

# skips
conf "skip-authenticated = yes"
t $VIRUS -A alice
like "$ERR" '^verdict=accept ' "skip-authenticated: an authenticated sender is not scanned"
t $VIRUS
like "$ERR" '^verdict=reject ' "skip-authenticated: others are"
conf "skip-internal = yes"
t $VIRUS -C 10.255.0.1,pc.example
like "$ERR" '^verdict=accept ' "skip-internal: an internal client is not scanned"

# on-error: no engine (a database without signatures)
DB=$W/empty conf
t $CLEAN
like "$ERR" '^verdict=tempfail code=451 xcode=4\.3\.0 handler=clamav ' "no engine: tempfail (the default on-error)"
like "$(cat "$W/err")" 'cannot load the signature database' "no engine: the log says why"
DB=$W/empty conf "on-error = reject"
t $CLEAN
like "$ERR" '^verdict=reject code=550 ' "no engine, on-error = reject"
DB=$W/empty conf "on-error = accept"
t $CLEAN
like "$ERR" '^verdict=accept ' "no engine, on-error = accept: the administrator chose to fail open"
echo 'garbage line that is no signature' > "$W/empty/broken.ndb"
DB=$W/empty conf
t $VIRUS
like "$ERR" '^verdict=tempfail ' "a broken database: tempfail"
rm -f "$W/empty/broken.ndb"

# limits: a nested-archive bomb, and a part larger than max-filesize
av_eicar "$W/eicar.com"
python3 lib/avmsg.py nested "$W/eicar.com" 20 "$W/bomb"
conf "max-recursion = 10"
t "$W/bomb"
like "$ERR" '^verdict=reject code=554 xcode=5\.7\.0 handler=clamav text="Message could not be scanned completely \(Heuristics\.Limits\.Exceeded\.MaxRecursion\)"' \
	"nested-archive bomb: on-limit = reject"
conf "max-recursion = 10" "on-limit = tempfail"
t "$W/bomb"
like "$ERR" '^verdict=tempfail code=451 ' "nested-archive bomb: on-limit = tempfail"
conf "max-recursion = 10" "on-limit = accept"
t "$W/bomb"
like "$ERR" '^verdict=accept ' "nested-archive bomb: on-limit = accept"
python3 lib/avmsg.py nested "$W/eicar.com" 3 "$W/shallow"
conf "max-recursion = 10"
t "$W/shallow"
like "$ERR" 'virus \(eicar\.com\.UNOFFICIAL\)' "three levels deep: found within the limit"
python3 lib/avmsg.py big 2000000 "$W/big"
conf "max-filesize = 1m"
t "$W/big"
like "$ERR" '^verdict=reject code=554 .*Heuristics\.Limits\.Exceeded\.MaxFileSize' "a part over max-filesize: on-limit"
conf "max-scansize = 1m"
t "$W/big"
like "$ERR" '^verdict=reject code=554 .*Heuristics\.Limits\.Exceeded\.MaxScanSize' "over max-scansize: on-limit"
conf
t "$W/big"
like "$ERR" '^verdict=accept ' "the same message within the limits: clean"
cmp -s "$W/big" "$W/out"
ok $? "a 2 MB message spooled to disk passes byte-identical"
MAIN="max-message-size = 100k"
conf
t "$W/big"
like "$ERR" '^verdict=reject code=552 xcode=5\.3\.4 handler=sinkd ' "over max-message-size: 552 before any scan"
MAIN=

# configuration errors
conf "backend = clamd"
"$SINKD" -n -c "$W/sinkd.conf" >/dev/null 2>"$W/err"
like "$(cat "$W/err")" "sinkd\\.conf:[0-9]+: backend: clamd needs at least one server in clamd" "backend = clamd without servers"
DB=$W/nonexistent conf
"$SINKD" -n -c "$W/sinkd.conf" >/dev/null 2>"$W/err"
like "$(cat "$W/err")" "sinkd\\.conf:[0-9]+: database: .*nonexistent: not a directory" "a missing database directory"
conf "reply = 451 4.7.1 no"
"$SINKD" -n -c "$W/sinkd.conf" >/dev/null 2>"$W/err"
like "$(cat "$W/err")" "sinkd\\.conf:[0-9]+: reply: must be a 5xx reply" "a temporary reply for reject"
conf 'reply = 550 5.7.1 ${virs}'
"$SINKD" -n -c "$W/sinkd.conf" >/dev/null 2>"$W/err"
like "$(cat "$W/err")" "sinkd\\.conf:[0-9]+: reply: .*virs" "a misspelt variable"
printf '[clamav]\nwatch-interval = 5s\n' > "$W/domains/example.net.conf"
conf
"$SINKD" -n -c "$W/sinkd.conf" >/dev/null 2>"$W/err"
like "$(cat "$W/err")" "example\\.net\\.conf:2: watch-interval: " "an engine key is not per domain"
rm -f "$W/domains/example.net.conf"

done_testing
