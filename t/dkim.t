#!/bin/bash
# dkim.t - the dkim handler through sinkd -t: verification against dkimpy,
# dkim-signed = skip and ignore beside the disclaimer and rewrite,
# Authentication-Results, configuration errors, hostile signatures
#
# Keys come from a dkim-keys-file the test writes (its own RSA keys, and
# the public keys of the corpus's signed samples), so no DNS is asked.
# dkimpy (Debian's python3-dkim, t/lib/dkimcheck.py) is the independent
# verifier: every signature's result must be sinkd's, and what sinkd
# leaves under "skip" must still verify with it.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/dryrun.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
PY=/usr/bin/python3	# Debian's, with python3-dkim
DK="$PY $PWD/lib/dkimcheck.py"
$PY -c 'import dkim' 2>/dev/null || bail_out "python3-dkim is not installed (./bootstrap test installs it)"
W=$(workdir dkim) || bail_out "mktemp failed"
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/spool"

$DK genkey "$W" sel example.com || bail_out "cannot make a test key"
$DK genkey "$W" other example.org || bail_out "cannot make a test key"
# the corpus's samples whose keys are known (corpus/MANIFEST.tsv)
printf '20120113._domainkey.gmail.com v=DKIM1; k=rsa; p=%s\n' \
	"$(grep -v -- ----- corpus/mimekit/dkim/gmail.pub | tr -d '\n')" >>"$W/keys"
printf 'brisbane._domainkey.football.example.com v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n' >>"$W/keys"
printf 'Disclaimer: sent by ${sender}.\n' >"$W/text.tmpl"

# conf EXTRA...: sinkd.conf with the chain and the [dkim] lines given
conf() {
	local chain=$1
	shift
	{
		printf '[sinkd]\nchain = %s\nspool-dir = %s\ninternal-hosts = 10.255.0.0/16\n' "$chain" "$W/spool"
		printf '[dkim]\ndkim-keys-file = %s\n' "$W/keys"
		printf '%s\n' "$@"
	} >"$W/sinkd.conf"
}

INBOUND=(-F a@example.com -R b@example.net -C 192.0.2.10,mx.example.org)
OUTBOUND=(-F a@example.com -R b@example.net -C 10.255.0.1,pc.example.com)

# sinkd_results: pass or fail per signature from the verdict line's
# dkim= note (anything but pass is fail for dkimpy, which says yes or no)
sinkd_results() {
	local n=${VERDICT##* dkim=}
	n=${n%% *}
	[ "$n" = none ] && return
	tr ',' '\n' <<<"$n" | sed 's/:.*//' | awk '{ print ($0 == "pass" ? "pass" : "fail") }'
}

plain() {
	printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: %s\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@example.com>\r\n\r\nHello,\r\nthe report is attached.\r\n' "$1" "$RANDOM"
}

# --- verification: sinkd's results are dkimpy's ---
conf dkim
plain hello | $DK sign "$W" sel example.com from,to,subject,date >"$W/good.eml"
sed 's/the report/THE report/' "$W/good.eml" >"$W/body.eml"
sed 's/^Subject: hello/Subject: changed/' "$W/good.eml" >"$W/subject.eml"
plain hello | $DK sign "$W" sel example.com from,to,subject l >"$W/len.eml"
{ cat "$W/len.eml"; printf 'appended after l=\r\n'; } >"$W/lenplus.eml"
# signed with a selector the keys file does not have
cp "$W/sel.example.com.pem" "$W/nokey.example.com.pem"
plain hello | $DK sign "$W" nokey example.com from,to >"$W/nokey.eml"
# two signatures: the outer one over the inner
$DK sign "$W" other example.org from,to,subject <"$W/good.eml" >"$W/two.eml"
for f in good body subject len lenplus nokey two; do
	run "$W/$f.eml" "${INBOUND[@]}"
	mine=$(sinkd_results)
	theirs=$($DK verify "$W/keys" <"$W/$f.eml")
	ok $(( RC != 0 || ${#mine} == 0 )) "$f: sinkd -t verifies ($VERDICT)"
	is "$mine" "$theirs" "$f: the results are dkimpy's"
done
run "$W/good.eml" "${INBOUND[@]}"
like "$VERDICT" ' dkim=pass:example.com( |$)' "a good signature: pass"
run "$W/body.eml" "${INBOUND[@]}"
like "$VERDICT" ' dkim=fail:example.com( |$)' "a changed body: fail"
run "$W/nokey.eml" "${INBOUND[@]}"
like "$VERDICT" ' dkim=permerror:example.com( |$)' "no key: permerror"
run "$W/lenplus.eml" "${INBOUND[@]}"
like "$VERDICT" ' dkim=pass:example.com( |$)' "l=: bytes after it do not count"
run "$W/two.eml" "${INBOUND[@]}"
like "$VERDICT" ' dkim=pass:example.org,pass:example.com( |$)' "two signatures, topmost first"

# a body past body-memory-limit, read from the spool file
{ plain big; for i in $(seq 1 4000); do printf 'line %d of a long body, to go past the limit\r\n' "$i"; done; } |
	$DK sign "$W" sel example.com from,to,subject >"$W/big.eml"
conf dkim
sed -i 's/^\[dkim\]$/body-memory-limit = 64k\n[dkim]/' "$W/sinkd.conf"
run "$W/big.eml" "${INBOUND[@]}"
like "$VERDICT" ' dkim=pass:example.com( |$)' "a body spooled to a file verifies"
conf dkim

# the corpus's signed samples: same results as dkimpy, never a crash
n=0
while IFS=$'\t' read -r path _ _ _ cat _; do
	[ "$cat" = dkim ] || continue
	run "corpus/$path" "${INBOUND[@]}"
	if [ $RC -ne 0 ] || [[ $VERDICT != verdict=accept* ]]; then
		ok 1 "corpus $path: accepted"
		diag "$ERR"
		continue
	fi
	mine=$(sinkd_results)
	# dkimpy on the topmost dkim-max-signatures only, as sinkd
	theirs=$($DK verify "$W/keys" <"corpus/$path" | head -n 5)
	if [ "$mine" != "$theirs" ]; then
		ok 1 "corpus $path: the results are dkimpy's"
		diag "sinkd: $mine" "dkimpy: $theirs"
	fi
	n=$((n + 1))
done <corpus/MANIFEST.tsv
ok $(( n < 40 )) "every signed corpus sample ($n) verified as dkimpy does"
run corpus/mimekit/dkim/gmail.msg "${INBOUND[@]}"
like "$VERDICT" ' dkim=pass:gmail.com( |$)' "the corpus's gmail.com signature: pass"

# --- facts: what a sink reads, whatever its place in the chain ---
if grep -q '^WITH_LUA = yes' ../config.mk 2>/dev/null; then
	cat >"$W/facts.lua" <<'LUA'
return {
    name = "facts",
    eom = function(ctx)
        local v = {}
        for _, k in ipairs({"dkim.count", "dkim.verified", "dkim.1.result", "dkim.1.domain",
                            "dkim.1.selector", "dkim.1.headers", "dkim.1.length",
                            "dkim.1.algorithm", "dkim.2.result", "dkim.2.reason"}) do
            v[#v + 1] = k .. "=" .. (ctx:get(k) or "-")
        end
        ctx:note("seen", table.concat(v, "/"))
    end,
}
LUA
	conf "sink:facts, dkim"
	printf '[sink:facts]\nscript = %s\n' "$W/facts.lua" >>"$W/sinkd.conf"
	$DK sign "$W" other example.org from,to <"$W/len.eml" >"$W/facts.eml"
	sed -i 's/the report/THE report/' "$W/facts.eml"
	run "$W/facts.eml" "${INBOUND[@]}"
	like "$VERDICT" 'sink.facts.seen=dkim.count=2/dkim.verified=2/dkim.1.result=fail/dkim.1.domain=example.org/dkim.1.selector=other/dkim.1.headers=from:to/dkim.1.length=-/dkim.1.algorithm=rsa-sha256/dkim.2.result=fail/dkim.2.reason=[^ /]' \
		"a sink placed before dkim reads its facts at end of message"
	run "$W/len.eml" "${INBOUND[@]}"
	like "$VERDICT" 'dkim.1.result=pass/dkim.1.domain=example.com/dkim.1.selector=sel/dkim.1.headers=from:to:subject/dkim.1.length=[0-9]+/' \
		"  l= among them"
fi

# --- dkim-signed = skip and ignore ---
# a subject tag under a signature whose h= names Subject
conf "dkim, rewrite" "dkim-signed = skip" "[rewrite]" "subject-tag = [EXT]"
run "$W/good.eml" "${INBOUND[@]}"
unlike "$(cat "$W/out")" 'Subject: \[EXT\]' "skip: the subject is not tagged under a signature that covers it"
like "$(cat "$W/out")" 'X-Sinkd-DKIM-Skip: rewrite Subject \(signed by d=example.com s=sel\)' "skip: X-Sinkd-DKIM-Skip says why"
like "$VERDICT" ' dkim.skipped=1( |$)' "skip: the log line counts the change held back"
is "$($DK verify "$W/keys" <"$W/out")" pass "skip: the signature still verifies (dkimpy)"
# h= without Subject: the tag goes on, the signature stays valid
plain hello | $DK sign "$W" sel example.com from,to,date >"$W/nosubj.eml"
run "$W/nosubj.eml" "${INBOUND[@]}"
like "$(cat "$W/out")" 'Subject: \[EXT\] hello' "skip: h= without Subject lets the subject tag through"
unlike "$(cat "$W/out")" 'X-Sinkd-DKIM-Skip' "  and holds nothing back"
is "$($DK verify "$W/keys" <"$W/out")" pass "  and the signature still verifies (dkimpy)"
# a failing signature holds nothing back
run "$W/body.eml" "${INBOUND[@]}"
like "$(cat "$W/out")" 'Subject: \[EXT\] hello' "skip: a signature that failed holds no change back"
# ignore: tagged, and the break is dkimpy's to see
conf "dkim, rewrite" "dkim-signed = ignore" "[rewrite]" "subject-tag = [EXT]"
run "$W/good.eml" "${INBOUND[@]}"
like "$(cat "$W/out")" 'Subject: \[EXT\] hello' "ignore: the subject is tagged"
is "$($DK verify "$W/keys" <"$W/out")" fail "ignore: the signature no longer verifies (dkimpy), as documented"

# header rules and text rules of rewrite
conf "dkim, rewrite" "dkim-signed = skip" "[rewrite]" "direction = both" \
	"header-delete = Date, Message-ID" "header-add = X-Seen: yes, Subject: added" \
	"text-replace = report => summary"
run "$W/good.eml" "${INBOUND[@]}"
out=$(cat "$W/out")
like "$out" 'Date: Thu' "skip: a signed field (Date) is not deleted"
unlike "$out" 'Message-ID:' "skip: a field not in h= (Message-ID) is deleted"
like "$out" 'X-Seen: yes' "skip: a field not in h= is added"
unlike "$out" 'Subject: added' "skip: a field named in h= is not added"
like "$out" 'the report is attached' "skip: the text rules leave a signed body alone"
is "$($DK verify "$W/keys" <"$W/out")" pass "skip: after the header and text rules the signature verifies (dkimpy)"

# the protocol handler's add-headers
conf "protocol, dkim" "dkim-signed = skip" "[protocol]" "add-headers = X-Seen: yes, To: added@example.net"
run "$W/good.eml" "${INBOUND[@]}"
like "$(cat "$W/out")" 'X-Seen: yes' "skip: add-headers adds a field not in h="
unlike "$(cat "$W/out")" 'To: added@example.net' "skip: add-headers does not add a field named in h="
is "$($DK verify "$W/keys" <"$W/out")" pass "  and the signature still verifies (dkimpy)"

# the disclaimer (outbound mail)
conf "dkim, disclaimer" "dkim-signed = skip" "[disclaimer]" "text-file = $W/text.tmpl"
run "$W/good.eml" "${OUTBOUND[@]}"
unlike "$(cat "$W/out")" 'Disclaimer: sent by' "skip: no disclaimer on signed mail"
like "$(cat "$W/out")" 'X-Sinkd-Disclaimer: skipped \(DKIM signed\)' "skip: X-Sinkd-Disclaimer says why"
like "$(cat "$W/out")" 'X-Sinkd-DKIM-Skip: disclaimer body \(signed by d=example.com s=sel\)' "skip: X-Sinkd-DKIM-Skip names the body"
is "$($DK verify "$W/keys" <"$W/out")" pass "skip: the signature still verifies (dkimpy)"
# l= over the whole body: a footer after it leaves the signature valid
# when the body is one text part the footer is only appended to
run "$W/len.eml" "${OUTBOUND[@]}"
like "$(cat "$W/out")" 'Disclaimer: sent by a@example.com' "skip: l= and a text/plain body: the disclaimer goes after the signed length"
unlike "$(cat "$W/out")" 'X-Sinkd-DKIM-Skip|X-Sinkd-Disclaimer' "  nothing held back"
is "$(head -c "$(wc -c <"$W/len.eml")" "$W/out" | cmp - "$W/len.eml" && echo same)" same "  every byte as received comes first"
is "$($DK verify "$W/keys" <"$W/out")" pass "  and the signature still verifies (dkimpy)"
# not an append: multipart (the footer goes inside the part, before the
# closing boundary), a body the footer would re-encode
{
	printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: parts\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
	printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello,\r\nsee the file.\r\n'
	printf -- '--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a.bin"\r\n\r\nAAAA\r\n--b1--\r\n'
} | $DK sign "$W" sel example.com from,to,subject,content-type l >"$W/lenmulti.eml"
{
	printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: b64\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n'
	printf 'Hello,\r\nthe report is attached.\r\n' | base64 | sed 's/$/\r/'
} | $DK sign "$W" sel example.com from,to,subject,content-type l >"$W/lenb64.eml"
{
	printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: qp\r\nMIME-Version: 1.0\r\n'
	printf 'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
	printf 'Gr=fc=dfe,\r\nthe report is attached.\r\n'
} | $DK sign "$W" sel example.com from,to,subject,content-type l >"$W/lenqp.eml"
for f in lenmulti lenb64 lenqp; do
	run "$W/$f.eml" "${OUTBOUND[@]}"
	unlike "$(cat "$W/out")" 'Disclaimer: sent by' "skip: l= and $f: the disclaimer is not an append, held back"
	like "$(cat "$W/out")" 'X-Sinkd-Disclaimer: skipped \(DKIM signed\)' "  and says so"
	is "$($DK verify "$W/keys" <"$W/out")" pass "  the signature verifies (dkimpy)"
done
# a body that does not end with a line break: what comes after it would
# join its last line, which l= covers
printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: open\r\n\r\nHello,\r\nno line break at the end' |
	$DK sign "$W" sel example.com from,to,subject l >"$W/lenopen.eml"
run "$W/lenopen.eml" "${OUTBOUND[@]}"
unlike "$(cat "$W/out")" 'Disclaimer: sent by' "skip: l= and a body without a final line break: held back"
is "$($DK verify "$W/keys" <"$W/out")" pass "  the signature verifies (dkimpy)"
# quoted-printable that GMime writes back byte for byte (upper-case hex,
# short lines): the footer is an append after it
sed -n '/^From: /,$p' "$W/lenqp.eml" | sed 's/=fc=df/=FC=DF/' |
	$DK sign "$W" sel example.com from,to,subject,content-type l >"$W/lenqp2.eml"
run "$W/lenqp2.eml" "${OUTBOUND[@]}"
like "$(cat "$W/out")" 'Disclaimer: sent by a@example.com' "skip: l= and quoted-printable written back as received: the disclaimer goes after it"
is "$($DK verify "$W/keys" <"$W/out")" pass "  the signature verifies (dkimpy)"
# a 7bit body the footer (not ASCII) would make quoted-printable
printf 'Hinweis: gesendet von ${sender} \342\200\223 vertraulich.\n' >"$W/text8.tmpl"
conf "dkim, disclaimer" "dkim-signed = skip" "[disclaimer]" "text-file = $W/text8.tmpl"
run "$W/len.eml" "${OUTBOUND[@]}"
unlike "$(cat "$W/out")" 'Hinweis' "skip: l= and a footer the us-ascii body cannot hold: held back"
like "$(cat "$W/out")" 'X-Sinkd-DKIM-Skip: disclaimer body \(signed by d=example.com s=sel\)' "  X-Sinkd-DKIM-Skip names the body"
is "$($DK verify "$W/keys" <"$W/out")" pass "  the signature verifies (dkimpy)"
conf "dkim, disclaimer" "dkim-signed = ignore" "[disclaimer]" "text-file = $W/text8.tmpl"
run "$W/len.eml" "${OUTBOUND[@]}"
like "$(cat "$W/out")" 'Content-Transfer-Encoding: quoted-printable' "  (ignore: the body is re-encoded, quoted-printable)"
conf "dkim, disclaimer" "dkim-signed = skip" "[disclaimer]" "text-file = $W/text.tmpl"
printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: x\r\n\r\nunsigned\r\n' >"$W/unsigned.eml"
run "$W/unsigned.eml" "${OUTBOUND[@]}"
like "$(cat "$W/out")" 'Disclaimer: sent by a@example.com' "skip: unsigned mail gets the disclaimer"
like "$VERDICT" ' dkim=none( |$)' "  and dkim=none"
conf "dkim, disclaimer" "dkim-signed = ignore" "[disclaimer]" "text-file = $W/text.tmpl"
run "$W/good.eml" "${OUTBOUND[@]}"
like "$(cat "$W/out")" 'Disclaimer: sent by a@example.com' "ignore: the disclaimer is added"
is "$($DK verify "$W/keys" <"$W/out")" fail "ignore: the signature no longer verifies (dkimpy), as documented"

# skip per domain: the recipient domain's file decides
mkdir -p "$W/domains"
printf '[dkim]\ndkim-signed = skip\n' >"$W/domains/example.net.conf"
printf '[sinkd]\nchain = dkim, rewrite\nspool-dir = %s\ndomains-dir = %s\n[dkim]\ndkim-keys-file = %s\n[rewrite]\nsubject-tag = [EXT]\n' \
	"$W/spool" "$W/domains" "$W/keys" >"$W/sinkd.conf"
run "$W/good.eml" "${INBOUND[@]}"
like "$(cat "$W/out")" 'Subject: hello' "per domain: example.net says skip"
like "$VERDICT" ' policy=example.net .*dkim.skipped=1' "  under its policy"
run "$W/good.eml" -F a@example.com -R b@example.edu -C 192.0.2.10,mx.example.org
like "$(cat "$W/out")" 'Subject: \[EXT\] hello' "per domain: the default says ignore"

# --- Authentication-Results ---
conf dkim "authserv-id = mx.example.net"
{
	printf 'Authentication-Results: mx.example.net; dkim=pass header.d=forged.example\r\n'
	printf 'Authentication-Results: (comment) MX.Example.NET; spf=pass\r\n'
	printf 'Authentication-Results: other.example; dkim=fail\r\n'
	cat "$W/two.eml"
} >"$W/ar.eml"
run "$W/ar.eml" "${INBOUND[@]}"
out=$(cat "$W/out")
is "$(head -n 1 "$W/out" | tr -d '\r')" \
	"Authentication-Results: mx.example.net; dkim=pass header.d=example.org header.s=other header.b=\"$(grep -m1 -A8 '^DKIM-Signature' "$W/two.eml" | tr -d '\r\n\t ' | sed 's/.*;b=//' | cut -c1-8)\"; dkim=pass header.d=example.com header.s=sel header.b=\"$(grep -A8 '^DKIM-Signature' "$W/good.eml" | tr -d '\r\n\t ' | sed 's/.*;b=//' | cut -c1-8)\"" \
	"Authentication-Results on top: each signature as verified"
is "$(grep -c '^Authentication-Results: mx.example.net' "$W/out")" 1 "the forged field of our authserv-id is removed"
unlike "$out" 'MX.Example.NET' "  so is one behind a comment, in another case"
like "$out" 'Authentication-Results: other.example; dkim=fail' "another authserv-id's field is kept"
run "$W/body.eml" "${INBOUND[@]}"
like "$(head -n 1 "$W/out")" '^Authentication-Results: mx.example.net; dkim=fail reason="[^"]+" header.d=example.com header.s=sel' "a failing signature: dkim=fail with a reason"
run "$W/unsigned.eml" "${INBOUND[@]}"
like "$(head -n 1 "$W/out")" '^Authentication-Results: mx.example.net; dkim=none' "unsigned: dkim=none"
conf dkim
run "$W/ar.eml" "${INBOUND[@]}"
is "$(grep -c '^Authentication-Results:' "$W/out")" 3 "no authserv-id: no field added, none removed"

# --- configuration errors ---
printf '# keys\nsel._domainkey.example.com v=DKIM1; p=AAAA\nbogus\nnot-a-key-name v=DKIM1\nx._domainkey.example.com "unclosed\nsel._domainkey.example.com v=DKIM1\n' >"$W/badkeys"
{ printf '[sinkd]\nchain = dkim\nspool-dir = %s\n[dkim]\ndkim-keys-file = %s\nauthserv-id = mx example\ndkim-signed = resign\n' "$W/spool" "$W/badkeys"; } >"$W/bad.conf"
got=$("$SINKD" -n -c "$W/bad.conf" 2>&1)
rc=$?
ok $(( rc == 0 )) "a bad [dkim] group is refused"
like "$got" "$W/badkeys:3: dkim-keys-file: a name without a TXT value" "keys file: a name alone, at its line"
like "$got" "$W/badkeys:4: dkim-keys-file: \"not-a-key-name\" is not SELECTOR._domainkey.DOMAIN" "keys file: a bad name"
like "$got" "$W/badkeys:5: dkim-keys-file: a quoted string is not closed" "keys file: bad quoting"
like "$got" "$W/badkeys:6: dkim-keys-file: sel._domainkey.example.com given twice" "keys file: a name twice"
like "$got" "bad.conf:6: authserv-id: \"mx example\" is not a single token" "authserv-id: not a token"
like "$got" "bad.conf:7: dkim-signed: " "dkim-signed: resign is not built"
printf '[sinkd]\nchain = dkim\nspool-dir = %s\n[dkim]\ndkim-keys-file = %s/none\n' "$W/spool" "$W" >"$W/bad.conf"
got=$("$SINKD" -n -c "$W/bad.conf" 2>&1)
like "$got" "bad.conf:5: dkim-keys-file: .*No such file" "a keys file that cannot be read"
printf '[sinkd]\nchain = dkim\n[dkim]\ndkim-keys-file = %s\n' "$W/keys" >"$W/ok.conf"
mkdir -p "$W/d2" && printf '[dkim]\ndkim-keys-file = %s\n' "$W/keys" >"$W/d2/example.com.conf"
printf 'domains-dir = %s\n' "$W/d2" | sed -i "2r /dev/stdin" "$W/ok.conf"
got=$("$SINKD" -n -c "$W/ok.conf" 2>&1)
like "$got" "example.com.conf:2: dkim-keys-file: cannot be set per domain" "dkim-keys-file is not per domain"
# the opendkim-genkey form: IN TXT and quoted strings
p=$(sed -n 's/^sel._domainkey.example.com v=DKIM1; k=rsa; p=//p' "$W/keys")
printf 'sel._domainkey.example.com.\tIN\tTXT\t( "v=DKIM1; k=rsa; " "p=%s" )  ; ----- DKIM key sel for example.com\n' "$p" >"$W/zonekeys"
printf '[sinkd]\nchain = dkim\nspool-dir = %s\n[dkim]\ndkim-keys-file = %s\n' "$W/spool" "$W/zonekeys" >"$W/sinkd.conf"
run "$W/good.eml" "${INBOUND[@]}"
like "$VERDICT" ' dkim=pass:example.com( |$)' "a keys file in opendkim-genkey's form"

# --- hostile signatures: no crash, bounded ---
conf dkim "dkim-max-signatures = 3"
{
	for i in $(seq 1 200); do printf 'DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA%s\r\n' "$i"; done
	cat "$W/good.eml"
} >"$W/many.eml"
run "$W/many.eml" "${INBOUND[@]}"
ok $RC "200 signatures: accepted"
like "$VERDICT" ' dkim=permerror:example.com,permerror:example.com,permerror:example.com( |$)' "200 signatures: only dkim-max-signatures (3) verified"
conf dkim
{
	printf 'DKIM-Signature: v=1; a=rsa-sha256; d=; s=; h=; bh=; b=\r\n'
	printf 'DKIM-Signature: v=9; a=rot13-md5; c=odd/odder; d=example.com; s=sel; h=from:from:from; l=-5; bh=!!!; b=???\r\n'
	printf 'DKIM-Signature: garbage without tags\r\n'
	printf 'DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; l=99999999999999999999999; bh=AAAA; b=AAAA\r\n'
	printf 'DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=%s; h=from; bh=AAAA; b=AAAA\r\n' "$(head -c 3000 /dev/zero | tr '\0' s)"
	cat "$W/good.eml"
} >"$W/malformed.eml"
run "$W/malformed.eml" "${INBOUND[@]}"
ok $RC "malformed signatures: accepted"
like "$VERDICT" ' dkim=(permerror|fail|neutral):[^ ]*,(permerror|fail|neutral):[^ ]*,(permerror|fail|neutral):[^ ]*,(permerror|fail|neutral):[^ ]*,(permerror|fail|neutral):[^ ]*( |$)' \
	"malformed signatures: none passes ($VERDICT)"
# a huge key: far past what a TXT record holds
printf 'huge._domainkey.example.com v=DKIM1; k=rsa; p=%s\n' "$(head -c 6000 /dev/zero | tr '\0' A)" >>"$W/keys"
sed 's/; s=sel;/; s=huge;/' "$W/good.eml" >"$W/huge.eml"
run "$W/huge.eml" "${INBOUND[@]}"
ok $RC "a huge key: accepted"
like "$VERDICT" ' dkim=(permerror|fail):example.com( |$)' "a huge key: not pass"
# l= past the body, and a body that grew by a signed part's worth
sed 's/; l=[0-9]*;/; l=999999;/' "$W/len.eml" >"$W/longl.eml"
run "$W/longl.eml" "${INBOUND[@]}"
like "$VERDICT" ' dkim=(permerror|fail):example.com( |$)' "l= past the body: not pass"
is "$($DK verify "$W/keys" <"$W/longl.eml")" fail "  nor with dkimpy"

done_testing
