#!/bin/bash
# hidden.t - nothing hidden from the scanner or the ban rules, through sinkd -t
#
# Attachments that mail clients show but that sit inside something else:
#  - opaque-signed S/MIME (application/pkcs7-mime, x-pkcs7-mime, with and
#    without smime-type, octet-stream named smime.p7m; base64, and binary
#    inside the signature;
#    signed twice; inside multipart/mixed; inside message/rfc822; signed
#    inside a multipart inside signed content), signed here with a key the
#    test makes: EICAR in tool.exe is found by the clamav handler (every
#    scan-parts value; reject, quarantine), tool.exe is banned by the
#    rewrite handler (reject names it; notice replaces the whole signed
#    part, or refuses when it cannot be cut out), the same messages with a
#    clean text pass unchanged, and signed content nested past the walk's
#    depth is a limit, never a pass;
#  - archives (zip, tar, tar.gz, gzip alone, 7z, rar from the corpus;
#    nested; encrypted members; found by content whatever their name):
#    a banned member bans the archive, named in the notice and the reply;
#    past archive-max-depth, -members, -size, or names that cannot be
#    read, on-error applies; banned-in-archives = no lets them by;
#  - block-encrypted: an encrypted zip or 7z is a finding by default, per
#    domain, and passes with block-encrypted = no.
# The many name forms of one attachment are golden cases in t/rewrite/.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/clamav.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
for tool in openssl zip 7z clamscan sigtool; do
	command -v $tool >/dev/null || bail_out "$tool is needed (./bootstrap test installs it)"
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/domains" "$W/spool" "$W/q"
av_db "$W/db" || bail_out "cannot build the test signature database"
hp() { python3 lib/hidden.py "$@" || bail_out "hidden.py $*"; }

# conf CHAIN LINES...: sinkd.conf with that chain; the lines follow the
# [sinkd] group (give them their own group headers)
conf() {
	local chain=$1
	shift
	cat >"$W/sinkd.conf" <<CONF
[sinkd]
chain = $chain
spool-dir = $W/spool
[clamav]
database = $W/db
quarantine-dir = $W/q
clean-cache = no
$(printf '%s\n' "$@")
CONF
}

# t FILE [ARGS...]: sinkd -t on FILE; OUT (the message), ERR (the verdict
# line), LOG (everything on stderr)
t() {
	local f=$1
	shift
	"$SINKD" -t -c "$W/sinkd.conf" -F sender@example.org -R rcpt@example.net \
		-C 192.0.2.10,client.example "$@" <"$f" >"$W/out" 2>"$W/err"
	ERR=$(tail -n 1 "$W/err")
	LOG=$(cat "$W/err")
}

# a signing key and certificate of the test's own
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=signer.example -days 30 \
	-keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null || bail_out "openssl req"
# sign IN OUT: CMS signed-data (DER) with IN inside
sign() {
	openssl cms -sign -nodetach -binary -in "$1" -signer "$W/cert.pem" -inkey "$W/key.pem" \
		-outform DER -out "$2" || bail_out "openssl cms -sign"
}

av_eicar "$W/eicar.com"
printf 'MZ\x90\x00' >"$W/mz"
hp entity tool.exe "$W/eicar.com" "$W/e-exe"
hp entity notes.txt - "$W/e-clean"
for what in exe clean; do
	sign "$W/e-$what" "$W/s-$what.der"
	for kind in pkcs7 x-pkcs7 pkcs7-notype x-pkcs7-notype octet; do
		hp p7 $kind "$W/s-$what.der" "$W/p-$what-$kind"
		hp message "$W/p-$what-$kind" "$W/m-$what-$kind"
	done
	# signed twice
	sign "$W/p-$what-pkcs7" "$W/s2-$what.der"
	hp p7 x-pkcs7 "$W/s2-$what.der" "$W/p2-$what"
	hp message "$W/p2-$what" "$W/m-$what-twice"
	# in a multipart/mixed, and in an attached message
	hp mixed "$W/p-$what-pkcs7" "$W/m-$what-mixed"
	hp rfc822 "$W/m-$what-pkcs7" "$W/m-$what-rfc822"
	# signed inside a multipart inside signed content
	hp multipart "$W/p-$what-x-pkcs7" "$W/mp-$what"
	sign "$W/mp-$what" "$W/s3-$what.der"
	hp p7 pkcs7-notype "$W/s3-$what.der" "$W/p3-$what"
	hp message "$W/p3-$what" "$W/m-$what-inner"
done
SIGNED="pkcs7 x-pkcs7 pkcs7-notype x-pkcs7-notype octet twice mixed rfc822 inner"

# the reading is right: openssl itself finds tool.exe in one of them
openssl cms -verify -noverify -inform DER -in "$W/s2-exe.der" -out "$W/unwrapped" 2>/dev/null
grep -q 'filename="smime.p7m"' "$W/unwrapped"
ok $? "signed twice: the outer content is the inner signed part (openssl cms -verify)"

# --- the scanner ---
for parts in unseen none all; do
	conf clamav "scan-parts = $parts"
	for s in $SIGNED; do
		t "$W/m-exe-$s"
		like "$ERR" '^verdict=reject code=550 xcode=5\.7\.1 handler=clamav text="Message contains a virus \(eicar\.com\.UNOFFICIAL\)"' \
			"clamav, scan-parts = $parts: EICAR in opaque-signed ($s) is found"
	done
done
conf clamav
for s in $SIGNED; do
	t "$W/m-clean-$s"
	[[ $ERR == "verdict=accept edits=0 "* ]] && cmp -s "$W/m-clean-$s" "$W/out"
	ok $? "clamav: a clean text in opaque-signed ($s) passes unchanged"
done
# libclamav alone does not look inside (what the unwrapping is for)
want=$(clamscan --no-summary --disable-cache -d "$W/db" "$W/m-exe-pkcs7" 2>/dev/null)
like "$want" ': OK$' "clamscan alone does not find EICAR inside the signature"
conf clamav "action = quarantine"
t "$W/m-exe-twice" --quarantine
like "$ERR" '^verdict=discard ' "action = quarantine: EICAR signed twice is quarantined"
like "$(cat "$W"/q/*.meta 2>/dev/null)" 'virus=eicar\.com\.UNOFFICIAL' "  the entry names it"

# signed content nested past the walk's depth (64 levels): a limit, not a
# pass; a few levels deep, found.  Inside the signature the levels are in
# binary (base64 would grow by a third at each); only the outermost meets
# the MTA, in base64.
cp "$W/e-exe" "$W/deep"
for i in $(seq 1 70); do
	sign "$W/deep" "$W/deep.der"
	if [ "$i" -eq 5 ]; then
		hp p7 pkcs7 "$W/deep.der" "$W/p-5deep"
		hp message "$W/p-5deep" "$W/m-exe-5deep"
	fi
	hp p7 binary "$W/deep.der" "$W/deep"
done
hp p7 pkcs7 "$W/deep.der" "$W/p-70deep"
hp message "$W/p-70deep" "$W/m-exe-70deep"
conf clamav
t "$W/m-exe-5deep"
like "$ERR" 'handler=clamav text="Message contains a virus \(eicar\.com\.UNOFFICIAL\)"' \
	"clamav: EICAR signed five times over is found"
t "$W/m-exe-70deep"
like "$ERR" '^verdict=reject code=554 xcode=5\.7\.0 handler=clamav text="Message could not be scanned completely \(Heuristics\.Limits\.Exceeded\.MaxRecursion\)"' \
	"clamav: signed 70 times over, past the depth: on-limit"

# --- the ban rules ---
conf rewrite "[rewrite]" "banned-extensions = exe" "banned-action = reject"
for s in $SIGNED; do
	t "$W/m-exe-$s"
	like "$ERR" '^verdict=reject code=550 xcode=5\.7\.1 handler=rewrite text="Attachment tool\.exe is not accepted \(extension exe\)"' \
		"rewrite, banned-action = reject: tool.exe in opaque-signed ($s) is refused"
done
conf rewrite "[rewrite]" "banned-extensions = exe"
for s in $SIGNED; do
	t "$W/m-clean-$s"
	[[ $ERR == "verdict=accept edits=0 "* ]] && cmp -s "$W/m-clean-$s" "$W/out"
	ok $? "rewrite: opaque-signed ($s) without a banned name passes unchanged"
	t "$W/m-exe-$s"
	if [ $s = rfc822 ]; then
		# inside an attached message the part cannot be cut out
		like "$ERR" '^verdict=reject code=550 .*tool\.exe is not accepted' \
			"rewrite, notice: tool.exe in opaque-signed in an attached message: refused"
		continue
	fi
	[[ $ERR == "verdict=accept "* ]] &&
		grep -q '^X-Sinkd-Rewrite: signed content removed ("tool.exe", extension exe)' "$W/out" &&
		grep -q 'Signed content holding the attachment "tool.exe" was removed' "$W/out" &&
		! grep -qi 'pkcs7\|smime\.p7m' "$W/out"
	ok $? "rewrite, notice: opaque-signed ($s) holding tool.exe gives way to a notice, named in X-Sinkd-Rewrite"
	[ $? -eq 0 ] || diag "$ERR" "$(head -c 600 "$W/out")"
done
t "$W/m-exe-mixed"
grep -q '^See below\.' "$W/out" && [ "$(grep -c '^--out-1' "$W/out")" -eq 3 ]
ok $? "rewrite, notice: in a multipart/mixed, the other part stays"
t "$W/m-exe-70deep"
like "$ERR" '^verdict=tempfail code=451 xcode=4\.3\.0 handler=rewrite ' \
	"rewrite: signed 70 times over, past the depth: on-error"
# (each level holds all the levels below it: the content unwrapped comes to
# more than four times the message before the depth is reached)
like "$LOG" 'not every part could be checked \(too much signed content\)' "  and the log says why"
t "$W/m-exe-5deep"
like "$ERR" '^verdict=accept ' "rewrite: tool.exe signed five times over is found and replaced"
grep -q '^X-Sinkd-Rewrite: signed content removed' "$W/out"
ok $? "  named in X-Sinkd-Rewrite"

# real signed mail of the corpus: a banned type inside is found, and
# without a rule that matches it passes unchanged
conf rewrite "[rewrite]" "banned-types = text/html" "banned-action = reject"
t corpus/thunderbird/smime/alice.html.sig.SHA256.opaque.eml
like "$ERR" '^verdict=reject .*\(type text/html\)' "a corpus opaque-signed message: the text/html inside is seen"
t corpus/thunderbird/smime/alice.plain.sig.SHA512.opaque.dave.sig.SHA512.opaque.eml
like "$ERR" '^verdict=accept edits=0 ' "a corpus message signed twice, no banned part: accepted unchanged"

# --- archives ---
hp zip "$W/x.zip" readme.txt=- x.exe="$W/mz"
hp zip "$W/clean.zip" readme.txt=-
hp tar "$W/x.tar" docs/x.exe="$W/mz"
hp tgz "$W/x.tgz" readme.txt=- x.exe="$W/mz"
hp zip "$W/inner.zip" dir/x.exe="$W/mz"
hp zip "$W/outer.zip" inner.zip="$W/inner.zip"
hp zip "$W/glob.zip" dir/xtool-2.exe="$W/mz"
gzip -c "$W/mz" >"$W/x.exe.gz"
(cd "$W" && cp mz x.exe && zip -q -P secret enc.zip x.exe && rm x.exe) || bail_out "zip -P"
(cd "$W" && cp mz x.exe && 7z a -bd -bso0 x.7z x.exe && 7z a -bd -bso0 -psecret enc.7z x.exe &&
	7z a -bd -bso0 -psecret -mhe=on hidden.7z x.exe && rm x.exe) || bail_out "7z"
cp "$W/outer.zip" "$W/d0.zip"
for i in 1 2 3 4 5 6; do
	hp zip "$W/d$i.zip" "d$((i - 1)).zip=$W/d$((i - 1)).zip"
done
hp twofaced "$W/twofaced.zip" x.txt x.exe
hp many "$W/many.zip" 50
head -c 2000000 /dev/zero >"$W/zeros"
hp zip "$W/big.zip" zeros.bin="$W/zeros" x.txt=-

# attach NAME FILE: a message with FILE attached as NAME, in $W/m
attach() { hp attach "$1" "$2" "$W/m"; }
# banned LABEL NAME FILE FILE-IN-NOTICE: banned, the notice names the member
banned() {
	attach "$2" "$3"
	t "$W/m"
	[[ $ERR == "verdict=accept edits=1 "* ]] &&
		grep -qF "The attachment \"$4\" was removed by the mail gateway" "$W/out"
	ok $? "$1: banned, the notice names $4"
	[ $? -eq 0 ] || diag "$ERR" "$(grep 'attachment' "$W/out")"
}
conf rewrite "[rewrite]" "banned-extensions = exe"
banned "a zip holding x.exe" files.zip "$W/x.zip" files.zip/x.exe
banned "the same zip with another name" data.bin "$W/x.zip" data.bin/x.exe
banned "a tar holding docs/x.exe" files.tar "$W/x.tar" files.tar/docs/x.exe
banned "a tar.gz holding x.exe" files.tgz "$W/x.tgz" files.tgz/x.exe
banned "x.exe gzipped alone" x.exe.gz "$W/x.exe.gz" x.exe.gz/x.exe
banned "a zip in a zip" outer.zip "$W/outer.zip" outer.zip/inner.zip/dir/x.exe
banned "a password-protected zip (names readable)" enc.zip "$W/enc.zip" enc.zip/x.exe
banned "a 7z holding x.exe" x.7z "$W/x.7z" x.7z/x.exe
banned "a 7z with encrypted data (names readable)" enc.7z "$W/enc.7z" enc.7z/x.exe
banned "zips six deep, within archive-max-depth" d6.zip "$W/d6.zip" \
	d6.zip/d5.zip/d4.zip/d3.zip/d2.zip/d1.zip/d0.zip/inner.zip/dir/x.exe
banned "a zip whose local header says x.exe, its central directory x.txt" two.zip \
	"$W/twofaced.zip" two.zip/x.exe
t corpus/rspamd/rar4.eml
grep -qF 'The attachment "f.rar/fake.exe" was removed' "$W/out"
ok $? "a rar (corpus) holding fake.exe: banned"
attach clean.zip "$W/clean.zip"
t "$W/m"
[[ $ERR == "verdict=accept edits=0 "* ]] && cmp -s "$W/m" "$W/out"
ok $? "a zip without a banned name passes unchanged"
attach many.zip "$W/many.zip"
t "$W/m"
[[ $ERR == "verdict=accept edits=0 "* ]]
ok $? "a zip of 50 members within archive-max-members passes"

# past body-memory-limit, an attachment is decoded into a file in
# spool-dir that libarchive reads from, not into memory
conf rewrite "[rewrite]" "banned-extensions = exe"
sed -i 's/^spool-dir = .*/&\nbody-memory-limit = 0/' "$W/sinkd.conf"
banned "body-memory-limit = 0: a zip holding x.exe, read from a file" files.zip "$W/x.zip" files.zip/x.exe
banned "body-memory-limit = 0: a zip in a zip, read from a file" outer.zip "$W/outer.zip" \
	outer.zip/inner.zip/dir/x.exe
banned "body-memory-limit = 0: a zip whose local header says x.exe" two.zip \
	"$W/twofaced.zip" two.zip/x.exe
[ -z "$(ls -A "$W/spool")" ]
ok $? "body-memory-limit = 0: nothing left in spool-dir"

conf rewrite "[rewrite]" "banned-names = xtool*.exe"
banned "banned-names: a glob on the member's own name" glob.zip "$W/glob.zip" glob.zip/dir/xtool-2.exe
conf rewrite "[rewrite]" "banned-extensions = exe" "banned-action = reject"
attach files.zip "$W/x.zip"
t "$W/m"
like "$ERR" '^verdict=reject code=550 xcode=5\.7\.1 handler=rewrite text="Attachment files\.zip/x\.exe is not accepted \(extension exe\)"' \
	"banned-action = reject: the reply names the member"
conf rewrite "[rewrite]" "banned-extensions = exe" "banned-in-archives = no"
attach files.zip "$W/x.zip"
t "$W/m"
like "$ERR" '^verdict=accept edits=0 ' "banned-in-archives = no: the zip passes"

# past the limits, or names that cannot be read: on-error, never a pass
# limit LABEL NAME FILE WHY CONF...: tempfail (on-error), the log says why
limit() {
	local label=$1 name=$2 file=$3 why=$4
	shift 4
	conf rewrite "[rewrite]" "banned-extensions = exe" "$@"
	attach "$name" "$file"
	t "$W/m"
	like "$ERR" '^verdict=tempfail code=451 xcode=4\.3\.0 handler=rewrite ' "$label: on-error"
	like "$LOG" "not every part could be checked \\($why\\)" "  the log says $why"
}
limit "zips nested past archive-max-depth = 3" d6.zip "$W/d6.zip" \
	"archives nested deeper than archive-max-depth" "archive-max-depth = 3"
limit "50 members past archive-max-members = 20" many.zip "$W/many.zip" \
	"more members than archive-max-members" "archive-max-members = 20"
limit "2 MB of zeros past archive-max-size = 1m" big.zip "$W/big.zip" \
	"more data than archive-max-size" "archive-max-size = 1m"
limit "a 7z whose names are encrypted" hidden.7z "$W/hidden.7z" \
	"damaged, or its names encrypted"
conf rewrite "[rewrite]" "banned-extensions = exe" "archive-max-depth = 3" "on-error = reject"
attach d6.zip "$W/d6.zip"
t "$W/m"
like "$ERR" '^verdict=reject ' "past a limit, on-error = reject: refused"

# an archive inside opaque-signed content
hp entity files.zip "$W/x.zip" "$W/e-zip"
sign "$W/e-zip" "$W/s-zip.der"
hp p7 pkcs7 "$W/s-zip.der" "$W/p-zip"
hp message "$W/p-zip" "$W/m-zip-signed"
conf rewrite "[rewrite]" "banned-extensions = exe"
t "$W/m-zip-signed"
grep -q '^X-Sinkd-Rewrite: signed content removed ("files.zip/x.exe", extension exe)' "$W/out"
ok $? "a zip holding x.exe in opaque-signed content: the signed part gives way, naming the member"

# --- encrypted archives: block-encrypted ---
attach enc.zip "$W/enc.zip"
cp "$W/m" "$W/m-enc-zip"
attach enc.7z "$W/enc.7z"
cp "$W/m" "$W/m-enc-7z"
conf clamav
t "$W/m-enc-zip"
like "$ERR" '^verdict=reject code=550 xcode=5\.7\.1 handler=clamav text="Message contains a virus \(Heuristics\.Encrypted\.Zip\)"' \
	"block-encrypted (default yes): a password-protected zip is refused"
t "$W/m-enc-7z"
like "$ERR" '^verdict=reject code=550 .*Heuristics\.Encrypted\.7Zip' "  and an encrypted 7z"
conf clamav "block-encrypted = no"
t "$W/m-enc-zip"
like "$ERR" '^verdict=accept edits=0 ' "block-encrypted = no: it passes"
conf clamav "action = quarantine"
t "$W/m-enc-zip"
like "$ERR" '^verdict=discard ' "block-encrypted with action = quarantine: quarantined"
conf clamav
printf '[clamav]\nblock-encrypted = no\n' >"$W/domains/example.net.conf"
t "$W/m-enc-zip"
like "$ERR" '^verdict=accept ' "per domain: example.net says no, its mail passes"
"$SINKD" -t -c "$W/sinkd.conf" -F sender@example.org -R rcpt@example.com \
	-C 192.0.2.10,client.example <"$W/m-enc-zip" >/dev/null 2>"$W/err"
like "$(tail -n 1 "$W/err")" '^verdict=reject .*Heuristics\.Encrypted\.Zip' "  another domain's is refused"
"$SINKD" -t -c "$W/sinkd.conf" -F sender@example.org -R rcpt@example.com -R rcpt@example.net \
	-C 192.0.2.10,client.example <"$W/m-enc-zip" >/dev/null 2>"$W/err"
like "$(tail -n 1 "$W/err")" '^verdict=reject .*Heuristics\.Encrypted\.Zip' "  both: yes wins"
rm -f "$W/domains/example.net.conf"

done_testing
