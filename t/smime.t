#!/bin/bash
# smime.t - signed and encrypted mail through the disclaimer handler
#
# S/MIME samples that verify before (their MANIFEST command, run as is):
# after wrap, the wrapped entity verifies with the same command; after
# attach, the attached message does; after resign, the message verifies
# against a CA the test makes and carries the disclaimer (PGP falls back to
# wrap); after strip, no signature remains and the notice is there; after skip, the message is unchanged; reject
# refuses it.  Encrypted samples (S/MIME and PGP): skip leaves them
# unchanged, wrap keeps the encrypted entity byte for byte; encryption
# only inside an attached message is the attachment's business: the
# message gets its disclaimer as usual.  Comparisons are made on the
# wire form (CRLF): sinkd -t makes mixed line endings CRLF, as an MTA does.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/domains" "$W/spool"

# conf SIGNED ENCRYPTED: the disclaimer with these actions
conf() {
	cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = protocol, disclaimer
spool-dir = $W/spool
[disclaimer]
text-file = $(fixture "$PWD/disclaimer/text.tmpl" "$W")
html-file = $(fixture "$PWD/disclaimer/html.tmpl" "$W")
signed = $1
encrypted = $2
CONF
}

# same A B: the same bytes but for line endings
same() { cmp -s <(tr -d '\r' <"$1") <(tr -d '\r' <"$2"); }

# run FILE: sinkd -t on it; OUT, ERR
run() {
	"$SINKD" -t -c "$W/sinkd.conf" -F alice@example.com -R bob@example.org <"corpus/$1" >"$W/out" 2>"$W/err"
	ERR=$(cat "$W/err")
}

# verify_cmd FILE: its MANIFEST openssl command, or nothing
verify_cmd() {
	awk -F'\t' -v f="$1" '$1 == f { print $6 }' corpus/MANIFEST.tsv |
		grep -o 'openssl cms -verify -in [^ ]* -CAfile [^ ;|]*' | head -n 1
}

# verifies IN CMD: run CMD (from the corpus dir) on IN instead of its file
verifies() {
	local ca
	ca=$(sed 's/.*-CAfile //' <<<"$2")
	(cd corpus && openssl cms -verify -in "$1" -CAfile "$ca" -out /dev/null) >/dev/null 2>&1
}

signed=() before=0
while IFS=$'\t' read -r path _ _ _ cat _; do
	case $cat in smime-signed|smime-opaque) ;; *) continue ;; esac
	cmd=$(verify_cmd "$path")
	[ -n "$cmd" ] || continue
	if (cd corpus && $cmd) >/dev/null 2>&1; then
		signed+=("$path")
		before=$((before + 1))
	fi
done <corpus/MANIFEST.tsv
[ "$before" -ge 10 ]; ok $? "S/MIME signed samples that verify before: $before"

after_wrap=0 after_attach=0
for f in "${signed[@]}"; do
	cmd=$(verify_cmd "$f")
	conf wrap skip
	run "$f"
	like "$ERR" '^verdict=accept ' "wrap $f: accepted"
	grep -q '^X-Sinkd-Disclaimer: wrapped (signed)' "$W/out"; ok $? "  named in X-Sinkd-Disclaimer"
	python3 lib/entity.py "$W/out" 0 > "$W/entity"
	same "$W/entity" <(python3 lib/content.py "corpus/$f"); ok $? "  the signed entity is kept byte for byte"
	verifies "$W/entity" "$cmd" && after_wrap=$((after_wrap + 1))
	verifies "$W/entity" "$cmd"; ok $? "  and still verifies"
	python3 lib/entity.py "$W/out" 1 | grep -q 'is confidential'; ok $? "  the disclaimer follows it"

	conf attach skip
	run "$f"
	grep -q '^X-Sinkd-Disclaimer: attached (signed)' "$W/out"; ok $? "attach $f: named"
	python3 lib/entity.py "$W/out" 1 > "$W/attached"
	python3 - "$W/attached" > "$W/inner" <<'PY'
import sys
raw = open(sys.argv[1], "rb").read()
nl = b"\r\n" if b"\r\n" in raw else b"\n"
sys.stdout.buffer.write(raw.partition(nl + nl)[2])
PY
	same "$W/inner" "corpus/$f"; ok $? "  the original message is attached byte for byte"
	verifies "$W/inner" "$cmd" && after_attach=$((after_attach + 1))

	conf strip skip
	run "$f"
	like "$ERR" '^verdict=accept ' "strip $f: accepted"
	python3 - "$W/out" <<'PY'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.compat32)
sig = [p for p in m.walk() if p.get_content_type() in ("multipart/signed", "application/pkcs7-signature", "application/x-pkcs7-signature")
       or (p.get_content_type().endswith("pkcs7-mime") and "enveloped" not in (p.get_param("smime-type") or "enveloped"))]
text = b"".join(p.get_payload(decode=True) or b"" for p in m.walk() if p.get_content_maintype() == "text")
sys.exit(1 if sig or b"signature was removed" not in text or b"is confidential" not in text else 0)
PY
	ok $? "  no signature remains; the disclaimer and the notice are there"

	conf skip skip
	run "$f"
	same <(python3 lib/noheader.py "$W/out" X-Sinkd-Disclaimer) "corpus/$f"
	ok $? "skip $f: unchanged but for X-Sinkd-Disclaimer: skipped (signed)"

	conf reject skip
	run "$f"
	like "$ERR" '^verdict=reject code=550 xcode=5\.7\.1 handler=disclaimer ' "reject $f: refused"
done
diag "S/MIME signed: $before verify before; after wrap $after_wrap verify, after attach $after_attach"
is "$after_wrap" "$before" "after wrap, all $before verify"

# resign: a CA and a signer of the test's own
mkdir "$W/ca"
(cd "$W/ca" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 7 \
		-subj "/CN=sinkd test CA" &&
	openssl req -newkey rsa:2048 -nodes -keyout signer.key -out signer.csr \
		-subj "/CN=example.com signer/emailAddress=alice@example.com" &&
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=emailProtection\nsubjectAltName=email:alice@example.com\n' > ext &&
	openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out signer.pem -days 7 -extfile ext && chmod 600 signer.key) >/dev/null 2>&1
ok $? "a test CA and signer"
resign_conf() {
	conf resign skip
	printf 'sign-cert = %s\nsign-key = %s\n' "$W/ca/signer.pem" "$W/ca/signer.key" >> "$W/sinkd.conf"
}
resign_conf
chmod 644 "$W/ca/signer.key"
like "$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)" 'sign-key: .*signer\.key: a secret readable by others' \
	"a signing key readable by others is a configuration error"
chmod 600 "$W/ca/signer.key"
after_resign=0
for f in "${signed[@]}"; do
	run "$f"
	grep -q "^X-Sinkd-Disclaimer: resigned (signed; the sender's signature was replaced" "$W/out"
	ok $? "resign $f: named in X-Sinkd-Disclaimer"
	if openssl cms -verify -in "$W/out" -CAfile "$W/ca/ca.pem" -out "$W/content" >/dev/null 2>&1 &&
		grep -q 'is confidential' "$W/content"; then
		after_resign=$((after_resign + 1))
		ok 0 "  verifies against the test CA and carries the disclaimer"
	else
		ok 1 "  verifies against the test CA and carries the disclaimer"
	fi
done
diag "after resign, $after_resign of $before verify against the test CA"
while IFS=$'\t' read -r path _ _ _ cat _; do
	[ "$cat" = pgp-signed ] || continue
	run "$path"
	grep -q '^X-Sinkd-Disclaimer: wrapped (signed)' "$W/out"
	ok $? "resign on PGP-signed $path: resign-fallback (wrap)"
	break
done <corpus/MANIFEST.tsv
is "$after_attach" "$before" "after attach, the attached originals all verify"

n=0
while IFS=$'\t' read -r path _ _ _ cat _; do
	case $cat in smime-encrypted|pgp-encrypted) ;; *) continue ;; esac
	n=$((n + 1))
	conf wrap skip
	run "$path"
	if ! python3 - "corpus/$path" <<'PY'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.compat32)
def enc(p):
    t = p.get_content_type()
    if t == "message/rfc822":
        return False
    if t == "multipart/encrypted" or (t.endswith("pkcs7-mime") and "enveloped" in (p.get_param("smime-type") or "")):
        return True
    if p.get_content_maintype() == "text" and b"-----BEGIN PGP MESSAGE-----" in (p.get_payload(decode=True) or b""):
        return True
    return p.is_multipart() and any(enc(q) for q in p.get_payload())
sys.exit(0 if enc(m) else 1)
PY
	then
		# encrypted only inside an attached message
		like "$ERR" '^verdict=accept ' "$path ($cat): encryption inside an attached message only: accepted"
		grep -qi '^X-Sinkd-Disclaimer:' "$W/out"; ok $((! $?)) "  and not treated as encrypted"
		continue
	fi
	same <(python3 lib/noheader.py "$W/out" X-Sinkd-Disclaimer) "corpus/$path"
	ok $? "skip (default) $path ($cat): unchanged"
	conf wrap wrap
	run "$path"
	if grep -q '^X-Sinkd-Disclaimer: wrapped (encrypted)' "$W/out"; then
		same <(python3 lib/entity.py "$W/out" 0) <(python3 lib/content.py "corpus/$path")
		ok $? "wrap $path: the encrypted entity is kept byte for byte"
	else
		ok 1 "wrap $path: wrapped (encrypted)"
		diag "$ERR" "$(grep -i '^x-sinkd' "$W/out")"
	fi
done <corpus/MANIFEST.tsv
diag "encrypted samples: $n"
done_testing
