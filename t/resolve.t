#!/bin/bash
# resolve.t - run the C unit test t/unit/resolve_test (host name look-ups
# bounded by a deadline) in a network of its own whose DNS server never
# answers (t/lib/dnsns.sh); skipped, with unshare's reason, where a
# network and mount namespace cannot be made
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/dnsns.sh"
dns_enter "${BASH_SOURCE[0]}"
W=$(workdir resolve)
trap 'dns_stop; rm -rf "$W"' EXIT
dns_setup "$W"
printf '127.0.0.2\ttwo.test\n127.0.0.3\ttwo.test\n' >>"$W/hosts"
DNS_PID=$DNS_PID TMPDIR=$W "$TOP/t/unit/resolve_test"
rc=$?
grep -q '^stalled.test ' "$W/dns/queries" 2>/dev/null ||
	{ echo "Bail out! the DNS server was never asked for stalled.test"; exit 255; }
exit $rc
