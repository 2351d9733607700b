# dnsns.sh - a network of the test's own whose DNS server never answers
#
# Source it after tap.sh, then:
#
#   dns_enter SCRIPT          run SCRIPT again (exec, same TAP output) in
#                             a network and a mount namespace of its own
#                             (unshare --net --mount); inside, return.
#                             When unshare is refused (a container, no
#                             privilege), print TAP's "1..0 # SKIP" with
#                             unshare's reason and exit: nothing of the
#                             test runs, nothing passes
#   dns_setup DIR             inside: bring lo up; bind DIR/resolv.conf
#                             (nameserver 127.0.0.1, options timeout:30
#                             attempts:5: the resolver alone would wait
#                             minutes), DIR/hosts (a copy of the
#                             machine's, with localhost and its name) and
#                             DIR/nsswitch.conf (hosts: files dns) over
#                             /etc's; start t/lib/dnsstall.py on
#                             127.0.0.1:53 (DNS_PID), which reads queries
#                             (DIR/dns/queries) and answers none
#   dns_come_back             the server answers, every query it holds
#                             and every later one (A: 127.0.0.1)
#   dns_stop                  stop the server (the EXIT trap)
#
# Nothing is mounted outside the namespace made for the test: the
# machine's /etc is never touched, and everything the test starts there
# (servers, sinkd, Postfix) sees only lo and the test's resolver.

DNS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DNS_PID=

dns_enter() {
	local err
	[ -n "${SINKD_TEST_NETNS:-}" ] && return 0
	if ! err=$(unshare --net --mount --propagation private true 2>&1); then
		echo "1..0 # SKIP unshare --net --mount refused: ${err:-no reason given}"
		exit 0
	fi
	SINKD_TEST_NETNS=1 exec unshare --net --mount --propagation private "$BASH" "$1"
}

dns_setup() {
	local d=$1 i
	[ -n "${SINKD_TEST_NETNS:-}" ] || bail_out "dns_setup outside the test's namespace"
	ip link set lo up || bail_out "cannot bring lo up in the test's namespace"
	mkdir -p "$d/dns"
	chmod 755 "$d" "$d/dns"
	printf 'nameserver 127.0.0.1\noptions timeout:30 attempts:5\n' >"$d/resolv.conf"
	# the machine's names (its own, which Postfix and swaks look up),
	# so that only the names a test asks for reach the DNS server
	{ cat /etc/hosts; printf '127.0.0.1\tlocalhost %s\n' "$(hostname)"; } >"$d/hosts"
	printf 'hosts: files dns\n' >"$d/nsswitch.conf"
	chmod 644 "$d/resolv.conf" "$d/hosts" "$d/nsswitch.conf"
	for i in resolv.conf hosts nsswitch.conf; do
		mount --bind "$d/$i" "/etc/$i" || bail_out "cannot bind $d/$i over /etc/$i"
	done
	python3 "$DNS_TOP/t/lib/dnsstall.py" 127.0.0.1 53 "$d/dns" </dev/null >"$d/dns/log" 2>&1 &
	DNS_PID=$!
	for i in $(seq 1 100); do
		[ -e "$d/dns/ready" ] && return 0
		kill -0 "$DNS_PID" 2>/dev/null || break
		sleep 0.1
	done
	bail_out "the stalled DNS server did not start: $(cat "$d/dns/log")"
}

dns_come_back() { kill -USR1 "$DNS_PID"; }

dns_stop() {
	[ -n "$DNS_PID" ] || return 0
	kill "$DNS_PID" 2>/dev/null
	wait "$DNS_PID" 2>/dev/null
	DNS_PID=
}
