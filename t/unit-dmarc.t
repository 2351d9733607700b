#!/bin/bash
# unit-dmarc.t - run the C unit test t/unit/dmarc_test (lists/dmarc.c)
# against t/lib/dnsanswer.py, started on a port of its own with the zone
# below (what dmarc_test expects of each name), its query log counted by
# the test; the server stopped and the directory removed at exit
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
W=$(workdir dmarc) || bail_out "no work directory"
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID"; rm -rf "$W"' EXIT

# a run of n bytes "a"
run() { head -c "$1" /dev/zero | tr '\0' a; }

{
	cat <<-'EOF'
	_dmarc.reject.test TXT v=DMARC1; p=reject
	_dmarc.quarantine.test TXT v=DMARC1;p=quarantine;rua=mailto:d@quarantine.test
	_dmarc.none.test TXT v=DMARC1; p=none
	_dmarc.example.co.uk TXT v=DMARC1; p=reject; sp=quarantine
	_dmarc.nosp.test TXT v=DMARC1; p=reject
	_dmarc.orgonly.test TXT v=DMARC1; p=quarantine
	_dmarc.two.test TXT v=DMARC1; p=reject
	_dmarc.two.test TXT v=DMARC1; p=none
	_dmarc.x.twosub.test TXT v=DMARC1; p=none
	_dmarc.x.twosub.test TXT v=DMARC1; p=quarantine
	_dmarc.twosub.test TXT v=DMARC1; p=reject
	_dmarc.bad.test TXT v=DMARC1; p=bogus
	_dmarc.x.badsub.test TXT v=DMARC1; p=bogus
	_dmarc.badsub.test TXT v=DMARC1; p=reject
	_dmarc.beside.test TXT google-site-verification=abcdef
	_dmarc.beside.test TXT v=DMARC1; p=quarantine
	_dmarc.notdmarc.test TXT v=spf1 -all
	_dmarc.x.notdmarcsub.test TXT v=spf1 -all
	_dmarc.notdmarcsub.test TXT v=DMARC1; p=reject
	_dmarc.alias.test CNAME _dmarc.reject.test
	_dmarc.stray.test EXTRA _dmarc.reject.test
	_dmarc.loop.test CNAME _dmarc.loop2.test
	_dmarc.loop2.test CNAME _dmarc.loop.test
	_dmarc.fail.test SERVFAIL
	_dmarc.failorg.test SERVFAIL
	_dmarc.stall.test STALL
	_dmarc.stallorg.test STALL
	_dmarc.truncated.test TRUNCATED
	_dmarc.truncated2.test TRUNCATED
	_dmarc.truncated2.test TXT v=DMARC1; p=none
	_dmarc.garbage.test GARBAGE
	_dmarc.badtxt.test BADTXT
	EOF
	# the cut between 255-byte character-strings falls inside "reject"
	echo "_dmarc.split.test TXT v=DMARC1; x=$(run 236); p=reject"
	echo "_dmarc.huge.test TXT v=DMARC1; p=reject; x=$(run 60000)"
	for i in $(seq 1 300); do echo "_dmarc.many.test TXT filler record $i"; done
	echo "_dmarc.many.test TXT v=DMARC1; p=none"
	# CNAME chains of 10 links (longer than followed) and of 8
	echo "_dmarc.chain.test CNAME c1.chain.test"
	for i in $(seq 1 9); do echo "c$i.chain.test CNAME c$((i + 1)).chain.test"; done
	echo "c10.chain.test TXT v=DMARC1; p=reject"
	echo "_dmarc.chain8.test CNAME d1.chain8.test"
	for i in $(seq 1 7); do echo "d$i.chain8.test CNAME d$((i + 1)).chain8.test"; done
	echo "d8.chain8.test TXT v=DMARC1; p=reject"
} >"$W/zone"

python3 "$TOP/t/lib/dnsanswer.py" -l "$W/queries" "$W/zone" </dev/null >"$W/port" 2>"$W/err" &
PID=$!
for i in $(seq 1 100); do
	grep -q ' ' "$W/port" 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
read -r port v6 <"$W/port" || bail_out "dnsanswer.py did not start: $(cat "$W/err")"
ns6=
[ "$v6" = "::1" ] && ns6="[::1]:$port"
: >>"$W/queries"

DMARC_NS=127.0.0.1:$port DMARC_NS6=$ns6 DMARC_LOG=$W/queries "$TOP/t/unit/dmarc_test"
exit $?
