#!/bin/bash
# e2e-events-dns.t - event targets whose server is named by a host name
# while the DNS server does not answer: the look-up is bounded by the
# target's timeout, mail flows, and the events arrive once it answers
#
# The whole test runs in a network and mount namespace of its own
# (t/lib/dnsns.sh; skipped, with unshare's reason, where one cannot be
# made): lo only, /etc/resolv.conf naming 127.0.0.1 with the resolver's
# longest timeouts (30 s a try, 5 tries), where a DNS server of the
# test's reads queries and answers none until told to.  Real SMTP into a
# private Postfix whose milter is the real sinkd with three targets on
# names only that DNS server knows: [event:rs] redis on redis.test,
# [event:pg] postgres on pg.test, [event:ar] an archive with a
# PostgreSQL store on pg.test.  Checked:
#   - messages are accepted and delivered while no name resolves;
#   - each target gives up its try at its timeout (1 s), logging
#     "DNS lookup timed out", long before the resolver would;
#   - the DNS server was asked for each name;
#   - sinkd stops (SIGTERM) promptly while the look-ups hang;
#   - once the DNS server answers, every event arrives, each once, the
#     first after more than one try;
#   - the log holds no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/dnsns.sh"
dns_enter "${BASH_SOURCE[0]}"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/redis.sh"
. "$TOP/t/lib/pg.sh"

command -v redis-server >/dev/null || bail_out "no redis-server (./bootstrap test installs it)"
[ -x "$PG_BIN/initdb" ] || bail_out "no $PG_BIN/initdb (./bootstrap test installs postgresql-15)"
e2e_workdir e2e-events-dns
trap '_e2e_cleanup; rd_kill; pg_kill; dns_stop' EXIT
dns_setup "$W/net"
PASS=s3cret-$RANDOM$RANDOM
STREAM=test:events
mkdir -p "$W/pf" "$W/sk"
RD_PORT=$(pf_free_port)
rd_start "$W/redis" "$PASS" || bail_out "no redis-server"
PG_PORT=$(pf_free_port)
pg_start "$W/pg" "pw-$RANDOM$RANDOM" || bail_out "no PostgreSQL"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
printf '%s\n' "$PASS" >"$W/sk/conf/redis.pw"
chown root:postfix "$W/sk/conf/redis.pw"
chmod 640 "$W/sk/conf/redis.pw"
PGNAMED="host=pg.test port=$PG_PORT dbname=postgres user=postgres password=$PG_PASSWORD"
sk_conf "state-dir = $W/sk/state" \
	'[event:rs]' 'type = redis' "address = redis.test:$RD_PORT" "stream = $STREAM" \
	'password-file = redis.pw' 'timeout = 1s' 'retry-max = 2s' \
	'[event:pg]' 'type = postgres' "conninfo = $PGNAMED" 'table = dns_events' \
	'timeout = 1s' 'retry-max = 2s' \
	'[event:ar]' 'type = archive' "store = postgres:$PGNAMED" 'timeout = 1s' 'retry-max = 2s'
sk_start || bail_out "sinkd did not start"

msg() {
	printf 'From: someone@outside.example\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@outside.example>\r\n\r\nHello, %s.\r\n' \
		"$2" "$1" "$1" "$1" >"$W/$1"
}
send() { pf_swaks --from someone@outside.example --data "$W/$1" --to "$2"; }
# accepted N SUBJECT-PREFIX TO: N messages, each accepted (250)
accepted() {
	local i good=0
	for i in $(seq 1 "$1"); do
		msg "$2$i" "$3"
		[[ "$(smtp_reply "$(send "$2$i" "$3")" .)" == 250* ]] && good=$((good + 1))
	done
	echo "$good"
}
xlen() { rd_cli XLEN "$STREAM"; }
keys() { rd_cli --json XRANGE "$STREAM" - + 2>/dev/null | python3 -c '
import json, sys
print(len({dict(zip(f[0::2], f[1::2]))["key"] for id, f in json.load(sys.stdin)}))'; }
rows() { pg_sql "SELECT count(DISTINCT key) FROM $1" 2>/dev/null || echo 0; }
# until SECONDS COMMAND...: until COMMAND succeeds (SECONDS at most)
until_ok() {
	local i n=$(($1 * 10))
	shift
	for i in $(seq 1 "$n"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
logged() { grep -qE "$1" "$SK_DIR/sinkd.log"; }
at_least() { [ "$(eval "$1")" -ge "$2" ] 2>/dev/null; }

# no name resolves: mail flows, each target gives up at its timeout
is "$(accepted 3 dark a@example.org)" 3 "DNS silent: 3 messages accepted"
pf_wait_delivered a@example.org 3 || diag "not delivered"
is "$(pf_delivered_count a@example.org)" 3 "  and delivered"
# the resolver alone would hold the first try 30 s at least
for t in rs pg ar; do
	until_ok 15 logged "event:$t: event 1 not delivered"
done
like "$(grep 'event:rs: event 1 not delivered' "$SK_DIR/sinkd.log")" \
	'not delivered: redis.test: DNS lookup timed out after 1 s \(try 1; again in' \
	"redis: the try gives up at the target's timeout, and is tried again"
like "$(grep 'event:pg: event 1 not delivered' "$SK_DIR/sinkd.log")" \
	'not delivered: connecting for dns_events: pg.test: DNS lookup timed out after 1 s \(try 1; again in' \
	"postgres: the same"
like "$(grep 'event:ar: event 1 not delivered' "$SK_DIR/sinkd.log")" \
	'not delivered: postgres: pg.test: DNS lookup timed out after 1 s \(try 1; again in' \
	"archive's PostgreSQL store: the same"
is "$(awk '{ print $1 }' "$W/net/dns/queries" | sort -u | tr '\n' ' ')" "pg.test redis.test " \
	"  the DNS server was asked for each name"
is "$(xlen)" 0 "  nothing in the stream meanwhile"

# stopping while the look-ups hang: each shipper gives up within its
# timeout, and sinkd is gone long before the resolver would answer
sleep 2	# later tries, each waiting for the look-up still under way
ok "$(sk_stop; echo $?)" "sinkd stops while the look-ups hang"
sk_start || bail_out "sinkd did not start again"
is "$(accepted 1 again a@example.org)" 1 "  started again: a message accepted"
nlines() { grep -c "event:$1: event 1 not delivered" "$SK_DIR/sinkd.log"; }
for t in rs pg ar; do
	until_ok 15 at_least "nlines $t" 2
done

# the DNS server answers (redis.test and pg.test: 127.0.0.1)
dns_come_back
until_ok 30 at_least xlen 4 || diag "$(sk_log | tail -20)"
is "$(xlen)" 4 "the DNS server back: the 4 events in the stream"
is "$(keys)" 4 "  each key once"
until_ok 30 at_least "rows dns_events" 4 || diag "$(sk_log | tail -20)"
is "$(rows dns_events)" 4 "  the 4 events in the postgres table"
until_ok 30 at_least "rows sinkd_archive" 4 || diag "$(sk_log | tail -20)"
is "$(rows sinkd_archive)" 4 "  the 4 messages in the archive's store"
for t in rs pg ar; do
	until_ok 10 logged "event:$t: event 1 delivered after"
done
# counted from the start again: failed there at least once
tries=$(sed -n 's/.*event:\(rs\|pg\|ar\): event 1 delivered after \([0-9]*\) tries.*/\1:\2/p' "$SK_DIR/sinkd.log" |
	sort | tr '\n' ' ')
like "$tries" '^ar:[2-9][0-9]* pg:[2-9][0-9]* rs:[2-9][0-9]* $' "  each after more than one try ($tries)"
sk_stop

ok "$(sk_log_clean; echo $?)" "no sanitizer report in sinkd's log"
done_testing
