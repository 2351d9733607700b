#!/bin/bash
# pgp.t - PGP-signed mail through the disclaimer keeps gpg --verify good
#
# With the keys the samples' source ships: an inline-signed message is
# wrapped (signed = wrap) and its signed text still verifies; a message
# forwarding a PGP/MIME-signed one gets the disclaimer in its own text and
# the attached message's signature still verifies.  (The corpus holds no
# other PGP/MIME sample whose signature verifies before.)
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
W=$(mktemp -d)
trap 'gpgconf --homedir "$W/gnupg" --kill all >/dev/null 2>&1; rm -rf "$W"' EXIT
command -v gpg >/dev/null || bail_out "gpg is not installed (./bootstrap test installs gnupg)"
mkdir -p "$W/domains" "$W/spool" "$W/gnupg"
chmod 700 "$W/gnupg"
export GNUPGHOME=$W/gnupg
gpg --batch --quiet --import corpus/thunderbird/openpgp/keys/alice_openpgp.example-0xf231550c4f47e38e-pub.asc 2>/dev/null
ok $? "Alice's public key imported"
cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = protocol, disclaimer
spool-dir = $W/spool
[disclaimer]
text-file = $(fixture "$PWD/disclaimer/text.tmpl" "$W")
CONF

# good FILE [SIG]: gpg says GOODSIG for it
good() { gpg --batch --status-fd 1 --verify "$@" 2>/dev/null | grep -q '^\[GNUPG:\] GOODSIG'; }
# body FILE: a part's content (after its fields and the empty line)
body() { python3 -c 'import sys,re; r=open(sys.argv[1],"rb").read(); r=re.sub(rb"\r?\n", b"\r\n", r); sys.stdout.buffer.write(r.partition(b"\r\n\r\n")[2])' "$1"; }

# inline PGP: wrapped, the signed text still verifies
F=corpus/thunderbird/openpgp/alice-signed.eml
body "$F" > "$W/before"
good "$W/before"; ok $? "inline: the sample verifies before"
"$SINKD" -t -c "$W/sinkd.conf" -F alice@openpgp.example -R bob@example.org <"$F" >"$W/out" 2>"$W/err"
grep -q '^X-Sinkd-Disclaimer: wrapped (signed)' "$W/out"; ok $? "inline: wrapped (signed)"
python3 lib/entity.py "$W/out" 0 > "$W/entity"
body "$W/entity" > "$W/after"
good "$W/after"; ok $? "inline: the wrapped text still verifies"

# PGP/MIME inside a forwarded message: the outer text gets the disclaimer
F=corpus/thunderbird/openpgp/forwarded-eml-signed-by-alice.eml
"$SINKD" -t -c "$W/sinkd.conf" -F alice@openpgp.example -R bob@example.org <"$F" >"$W/out" 2>"$W/err"
like "$(cat "$W/err")" '^verdict=accept edits=1 ' "forwarded: accepted, one edit (the body)"
python3 lib/entity.py "$W/out" 0 | grep -q 'is confidential'; ok $? "forwarded: the outer text got the disclaimer"
python3 lib/entity.py "$W/out" 1 > "$W/part"
body "$W/part" > "$W/inner"
cmp -s "$W/inner" <(python3 lib/entity.py "$F" 1 > "$W/p0"; body "$W/p0")
ok $? "forwarded: the attached message is byte-identical"
python3 lib/entity.py "$W/inner" 0 > "$W/signed"
python3 lib/entity.py "$W/inner" 1 > "$W/sigpart"
body "$W/sigpart" > "$W/sig.asc"
good "$W/sig.asc" "$W/signed"; ok $? "forwarded: its PGP/MIME signature still verifies"
done_testing
