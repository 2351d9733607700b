#!/bin/bash
# e2e-metrics.t - sinkd's metrics through a real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd
# (protocol, clamav on the test signatures, disclaimer for example.com's
# senders), with metrics-listen on a port of its own.  N clean messages,
# M carrying EICAR and K that get the disclaimer are sent with swaks; the
# counters scraped with curl before and after must have moved by exactly
# those numbers, and Postfix must have delivered exactly N + K.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"

command -v curl >/dev/null || bail_out "curl is not installed"
PY=/usr/bin/python3	# Debian's, with python3-prometheus-client
$PY -c 'import prometheus_client' 2>/dev/null \
	|| bail_out "python3-prometheus-client is not installed (./bootstrap test installs it)"
e2e_workdir e2e-metrics
install -m 755 "$TOP/t/lib/promparse.py" "$W/promparse.py"
av_db "$W/db" || bail_out "cannot build the test signature database"
EICAR="$(cut -d: -f3 "$W/db/eicar.hdb").UNOFFICIAL"
N=4 M=3 K=2

mkdir -p "$W/pf" "$W/sk"
pf_setup "$W/pf" "$(pf_free_port)" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
MPORT=$(pf_free_port) || bail_out "no free port"
URL=http://127.0.0.1:$MPORT
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
# the SMTP client (127.0.0.1) is internal: its mail is outbound, under
# the sender domain's policy; only example.com's has a disclaimer
sed -i 's/^internal-hosts = .*/internal-hosts = 127.0.0.0\/8/' "$W/sk/conf/sinkd.conf"
sk_conf "chain = protocol, clamav, disclaimer" "metrics-listen = 127.0.0.1:$MPORT" \
	'[clamav]' "database = $W/db" "quarantine-dir = $W/q"
printf '[disclaimer]\ntext-file = %s\n' "$(fixture "$TOP/t/disclaimer/text.tmpl" "$SK_DIR/conf")" \
	>"$SK_DIR/conf/domains/example.com.conf"
chmod 644 "$SK_DIR/conf/domains/example.com.conf"
sk_start || bail_out "sinkd did not start"
for i in $(seq 1 150); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] && break
	sleep 0.1
done
is "$(curl -s "$URL/healthz")" ok "/healthz: ok once the engine is loaded"

# scrape FILE: every sample, parsed by prometheus_client
scrape() { curl -s "$URL/metrics" | $PY "$W/promparse.py" >"$1"; }
# delta KEY: how far the sample moved between before and after (absent: 0)
delta() {
	local a b
	a=$(awk -v k="$1" '$1 == k { print $2 }' "$W/before")
	b=$(awk -v k="$1" '$1 == k { print $2 }' "$W/after")
	echo $(( ${b:-0} - ${a:-0} ))
}
scrape "$W/before"
ok $? "scraped before"

printf 'From: bob@example.net\nTo: carol@example.org\nSubject: clean\n\nhello\n' >"$W/clean"
printf 'From: alice@example.com\nTo: carol@example.org\nSubject: signed off\n\nHello Carol,\n' >"$W/disc"
av_eicar "$W/eicar.com"
{
	printf 'From: bob@example.net\nTo: carol@example.org\nSubject: infected\nMIME-Version: 1.0\n'
	printf 'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nsee attached\n'
	printf -- '--b1\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="eicar.com"\nContent-Transfer-Encoding: base64\n\n'
	base64 "$W/eicar.com"
	printf -- '--b1--\n'
} >"$W/virus"

rejected=0
for i in $(seq 1 $N); do
	pf_swaks --from bob@example.net --to clean@example.org --data "$W/clean" >/dev/null
done
for i in $(seq 1 $M); do
	out=$(pf_swaks --from bob@example.net --to virus@example.org --data "$W/virus")
	[[ $out == *"<** 550 5.7.1"*"$EICAR"* ]] && rejected=$((rejected + 1))
done
for i in $(seq 1 $K); do
	pf_swaks --from alice@example.com --to disc@example.org --data "$W/disc" >/dev/null
done
is "$rejected" "$M" "Postfix passed on the $M rejections naming $EICAR"
pf_wait_delivered clean@example.org $N
is "$(pf_delivered_count clean@example.org)" "$N" "$N clean messages delivered"
pf_wait_delivered disc@example.org $K
is "$(pf_delivered_count disc@example.org)" "$K" "$K messages with the disclaimer delivered"
is "$(pf_delivered_count virus@example.org)" 0 "no infected message delivered"
grep -q 'is confidential' "$(pf_last_message disc@example.org)"
ok $? "the disclaimer is in the delivered message"

scrape "$W/after"
ok $? "scraped after"
is "$(delta 'sinkd_messages_total{handler="none",verdict="accept"}')" $((N + K)) "accepted: +$((N + K))"
is "$(delta 'sinkd_messages_total{handler="clamav",verdict="reject"}')" "$M" "rejected by clamav: +$M"
is "$(delta "sinkd_viruses_total{name=\"$EICAR\"}")" "$M" "viruses named $EICAR: +$M"
is "$(delta 'sinkd_disclaimers_total{outcome="added"}')" "$K" "disclaimers added: +$K"
is "$(delta 'sinkd_policy_messages_total{direction="outbound",domain="example.com"}')" "$K" \
	"outbound under example.com's policy: +$K"
is "$(delta 'sinkd_policy_messages_total{direction="outbound",domain="default"}')" $((N + M)) \
	"outbound under the default policy: +$((N + M))"
is "$(delta 'sinkd_handler_latency_seconds_count{handler="clamav"}')" $((N + M + K)) \
	"clamav's latency observed once per message"
is "$(awk '$1 == "sinkd_messages_in_flight" { print $2 }' "$W/after")" 0 "nothing in flight"
is "$(awk '$1 == "sinkd_engine_loaded" { print $2 }' "$W/after")" 1 "the engine is loaded"
sk_stop
sk_log_clean
ok $? "no sanitizer report"

done_testing
