#!/bin/bash
# dkim-dns.t - DKIM keys from DNS when the DNS server does not answer:
# in a network of the test's own whose server never answers
# (t/lib/dnsns.sh; skipped, with unshare's reason, where a network and
# mount namespace cannot be made), a signature's key look-up gives up
# within dkim-dns-timeout (the resolver alone, with resolv.conf's
# "timeout:30 attempts:5", would wait minutes), the signature is
# temperror, and the message follows dkim-temperror: tempfail, or
# proceed with nothing held back.  When the server answers with no
# record, the key is not found: permerror.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/dnsns.sh"
PY=/usr/bin/python3
$PY -c 'import dkim' 2>/dev/null || bail_out "python3-dkim is not installed (./bootstrap test installs it)"
dns_enter "${BASH_SOURCE[0]}"
SINKD=${SINKD:-$TOP/src/sinkd}
DK="$PY $TOP/t/lib/dkimcheck.py"
W=$(workdir dkimdns)
trap 'dns_stop; rm -rf "$W"' EXIT
dns_setup "$W"
mkdir -p "$W/spool"
$DK genkey "$W" sel example.com || bail_out "cannot make a test key"
printf 'From: a@example.com\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nHello.\r\n' |
	$DK sign "$W" sel example.com from,to,subject >"$W/in.eml"

# run TEMPERROR: sinkd -t with keys from DNS (no dkim-keys-file); a
# guard far past dkim-dns-timeout and far short of the resolver's own
# waiting tells a bounded look-up from a hang
run() {
	printf '[sinkd]\nchain = dkim, rewrite\nspool-dir = %s\n[dkim]\ndkim-dns-timeout = 2s\ndkim-temperror = %s\ndkim-signed = skip\n[rewrite]\nsubject-tag = [EXT]\n' \
		"$W/spool" "$1" >"$W/sinkd.conf"
	timeout 60 "$SINKD" -t -c "$W/sinkd.conf" -F a@example.com -R b@example.net \
		-C 192.0.2.10,mx.example.org <"$W/in.eml" >"$W/out" 2>"$W/err"
	RC=$?
	VERDICT=$(tail -n 1 "$W/err")
}

run tempfail
ok $(( RC == 124 )) "dkim-temperror = tempfail: sinkd -t gives up on the key instead of waiting for the resolver"
like "$VERDICT" '^verdict=tempfail .*dkim=temperror:example.com' "  the message is tempfailed ($VERDICT)"
like "$VERDICT" 'code=451 xcode=4\.7\.5 handler=dkim' "  with 451 4.7.5 from the dkim handler"
grep -q '^sel._domainkey.example.com ' "$W/dns/queries"
ok $? "  the key was asked of the DNS server"

run proceed
ok $(( RC == 124 )) "dkim-temperror = proceed: sinkd -t gives up on the key"
like "$VERDICT" '^verdict=accept .*dkim=temperror:example.com' "  the message goes on, the signature temperror"
like "$(cat "$W/out")" 'Subject: \[EXT\] hello' "  a temperror signature holds no change back"

dns_come_back
run tempfail
like "$VERDICT" '^verdict=accept .*dkim=permerror:example.com' "a server that answers with no record: permerror, no tempfail"
done_testing
