#!/bin/bash
# arc-dns.t - ARC keys from DNS, within the budget the message's DKIM
# look-ups share: in a network of the test's own whose server never
# answers (t/lib/dnsns.sh; skipped, with unshare's reason, where a
# network and mount namespace cannot be made), a chain whose key cannot
# be had in time fails, and under dkim-temperror = tempfail the message
# is tempfailed, within dkim-dns-timeout, and under proceed not sealed
# (dkim-signed = arc): the failure is the look-up's; when the server
# answers with no record, the key is not found, the chain fails for that
# and is sealed with cv=fail.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/dnsns.sh"
PY=/usr/bin/python3
$PY -c 'import dkim, authres' 2>/dev/null \
	|| bail_out "python3-dkim or python3-authres is not installed (./bootstrap test installs them)"
dns_enter "${BASH_SOURCE[0]}"
SINKD=${SINKD:-$TOP/src/sinkd}
DK="$PY $TOP/t/lib/dkimcheck.py"
AC="$PY $TOP/t/lib/arccheck.py"
W=$(workdir arcdns)
trap 'dns_stop; rm -rf "$W"' EXIT
dns_setup "$W"
mkdir -p "$W/spool"
$DK genkey "$W" arc relay.example || bail_out "cannot make a test key"
$DK genkey "$W" seal example.net || bail_out "cannot make a test key"
# sealed by relay.example, no DKIM signature: only ARC asks for a key
printf 'Authentication-Results: mx.relay.example; dkim=none\r\nFrom: a@example.com\r\nTo: b@example.net\r\nSubject: hello\r\n\r\nHello.\r\n' |
	$AC seal "$W" arc relay.example mx.relay.example >"$W/in.eml" || bail_out "dkimpy did not seal"

# run TEMPERROR: sinkd -t with keys from DNS; a guard far past
# dkim-dns-timeout tells a bounded look-up from a hang
run() {
	printf '[sinkd]\nchain = dkim, rewrite\nspool-dir = %s\n[dkim]\ndkim-dns-timeout = 2s\ndkim-temperror = %s\n' \
		"$W/spool" "$1" >"$W/sinkd.conf"
	# sealed as example.net after the subject tag
	printf 'authserv-id = mx.example.net\ndkim-signed = arc\ndkim-domain = example.net\n' >>"$W/sinkd.conf"
	printf 'dkim-selector = seal\ndkim-key = %s\n[rewrite]\nsubject-tag = [EXT]\n' \
		"$W/seal.example.net.pem" >>"$W/sinkd.conf"
	timeout 60 "$SINKD" -t -c "$W/sinkd.conf" -F a@example.com -R b@example.net \
		-C 192.0.2.10,mx.example.org <"$W/in.eml" >"$W/out" 2>"$W/err"
	RC=$?
	VERDICT=$(tail -n 1 "$W/err")
}

run tempfail
ok $(( RC == 124 )) "an ARC key not had in time: sinkd -t gives up on it"
like "$VERDICT" '^verdict=tempfail .*arc=fail:1' "  dkim-temperror = tempfail: the message is tempfailed ($VERDICT)"
grep -q '^arc._domainkey.relay.example ' "$W/dns/queries"
ok $? "  the key was asked of the DNS server"
run proceed
like "$VERDICT" '^verdict=accept .*arc=fail:1' "  dkim-temperror = proceed: accepted, the chain fails"
like "$(cat "$W/out")" 'Subject: \[EXT\] hello' "  changed (subject tag)"
unlike "$(cat "$W/out")" 'ARC-Seal: i=2' "  but not sealed: the failure is the look-up's, not the chain's"

dns_come_back
run tempfail
like "$VERDICT" '^verdict=accept .*arc=fail:1' "a server that answers with no record: the chain fails, no tempfail"
like "$(cat "$W/out")" 'ARC-Seal: i=2; .*cv=fail;' "  and is sealed with cv=fail"
done_testing
