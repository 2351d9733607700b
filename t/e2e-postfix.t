#!/bin/bash
# e2e-postfix.t - sinkd end to end: a real private Postfix on loopback, the
# real sinkd daemon, real SMTP sessions (swaks and a small /dev/tcp client).
#
# Every rule of the protocol handler is checked at its SMTP stage with the
# exact reply code, enhanced code and text the client sees (custom replies
# are configured so that sinkd's own text is what comes back), and every
# routing edit is checked in the messages Postfix actually delivered.
#
# One Postfix instance is used throughout; sinkd is reconfigured between
# phases by rewriting its configuration and sending SIGHUP (or restarting it
# when the socket changes).  Needs root, postfix and swaks.
#
# Phases:
#   P0  the main policy: uid and socket, HELO, senders, recipients,
#       max-recipients, multi-recipient bounces, unknown commands, the
#       per-domain policy, lists, rewrites, BCC, added headers
#   P1  connect-deny by CIDR             P2  connect-allow, unknown-reply
#   P3  connect-deny-hosts               P4  require-auth
#   P5  sinkd down: nothing is lost      P6  SIGHUP reloads, a broken one
#   P7  inet sockets, both spellings
#
# What Postfix (3.7) does with the milter's answers, as seen by the client:
# a refusal at connect gives a 554 greeting of Postfix's own and the
# milter's reply at MAIL FROM; a refused EHLO gets a bare "250-name|250
# ENHANCEDSTATUSCODES" and the milter's reply at MAIL FROM; an unresolved
# client is passed to the milter as "[127.0.0.1]"; mail submitted with
# sendmail(1) reaches the milter from localhost[127.0.0.1].

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/tap.sh
. "$TOP/t/lib/tap.sh"
# shellcheck source=lib/mail.sh
. "$TOP/t/lib/mail.sh"
# shellcheck source=lib/postfix.sh
. "$TOP/t/lib/postfix.sh"
# shellcheck source=lib/sinkd.sh
. "$TOP/t/lib/sinkd.sh"

[ "$(id -u)" -eq 0 ] || bail_out "needs root (a private Postfix instance); run it through ./bootstrap test"
for cmd in postfix postconf postqueue sendmail swaks; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		bail_out "$cmd is not installed (./bootstrap test installs it)"
	fi
done
[ -x "$SINKD" ] || bail_out "$SINKD is not built (run make)"

T_START=$(date +%s)
W=$(workdir e2e-postfix) || bail_out "cannot make a work directory"
SOCK_PATH=$W/sinkd.sock
SKD=$W/sk

cleanup() {
	local rc=$?
	sk_stop
	pf_cleanup
	if [ "$rc" -eq 0 ] && [ "$TAP_FAILED" -eq 0 ]; then
		rm -rf "$W"
	else
		diag "work directory kept: $W"
	fi
	diag "e2e-postfix: $(($(date +%s) - T_START)) s"
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers


# raw_smtp CMD...: one SMTP session over /dev/tcp; prints the greeting, then
# one line per command: its reply, lines joined with '|'
raw_smtp() {
	local cmd
	exec 3<>"/dev/tcp/127.0.0.1/$PF_PORT" || return 1
	_raw_read
	for cmd in "$@"; do
		printf '%s\r\n' "$cmd" >&3
		_raw_read
	done
	exec 3>&-
}
_raw_read() {
	local l r=
	while IFS= read -t 10 -r l <&3; do
		l=${l%$'\r'}
		r=${r:+$r|}$l
		case $l in [0-9][0-9][0-9]-*) ;; *) break ;; esac
	done
	printf '%s\n' "${r:-<no reply>}"
}

# send ID SWAKS-ARGS...: one swaks session; the message carries X-E2E-Id: ID
# (sets OUT to swaks's transcript)
send() {
	local id=$1
	shift
	OUT=$(pf_swaks --header "X-E2E-Id: $id" --header "Subject: e2e $id" "$@")
}

# queue_id SWAKS-OUTPUT: the id of "250 2.0.0 Ok: queued as ID"
queue_id() {
	printf '%s\n' "$1" | sed -n 's/.*Ok: queued as \([0-9A-Za-z]*\).*/\1/p' | tail -n 1
}

# nmsg RCPT ID: messages with X-E2E-Id: ID delivered to RCPT
nmsg() {
	local box
	box=$(pf_mailbox "$1") || { echo 0; return; }
	[ -d "$box" ] || { echo 0; return; }
	grep -lx "X-E2E-Id: $2" "$box"/* 2>/dev/null | wc -l
}

# msg RCPT ID: the path of a message with X-E2E-Id: ID delivered to RCPT
msg() {
	local box
	box=$(pf_mailbox "$1") || return 1
	grep -lx "X-E2E-Id: $2" "$box"/* 2>/dev/null | head -n 1
}



# log_lines GREP-PATTERN [TIMEOUT=10]: Postfix's log lines matching the
# pattern, once there is one (postlogd writes the log asynchronously)
log_lines() {
	local end=$(($(date +%s) + ${2:-10}))
	until pf_log | grep -qE -- "$1"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
	pf_log | grep -E -- "$1"
}

# local_submit ID SENDER RCPT: submit a message with sendmail(1) (cleanup
# runs non_smtpd_milters); wait until it is delivered to RCPT or cleanup
# logs a milter refusal for it
local_submit() {
	local id=$1 from=$2 to=$3 end=$(($(date +%s) + 20))
	printf 'Subject: e2e %s\nX-E2E-Id: %s\n\nlocal submission\n' "$id" "$id" |
		pf_sendmail -f "$from" "$to" || return 1
	while [ "$(nmsg "$to" "$id")" -lt 1 ]; do
		pf_log | grep -q "cleanup.*milter-reject: .*from=<$from>" && return 0
		[ "$(date +%s)" -ge "$end" ] && return 0
		sleep 0.1
	done
}

# settle: every message Postfix accepted so far is delivered (or gone)
settle() {
	pf_wait_queue_empty 20 || diag "the Postfix queue did not drain: $(pf_queue_count) left"
}

# The main [protocol] policy (P0); later phases add or change keys.
BASE_PROTOCOL=(
	'helo-deny = *.helo-bad.test, /^evil[0-9]+$/'
	'helo-reply = 550 5.7.1 sinkd-test: HELO name refused'
	'deny-senders = bad@example.net, @spam.test, @.sub.test, /^junk[0-9]+@/'
	'allow-senders = vip@spam.test'
	'sender-reply = 550 5.7.1 first line\nsecond line'
	'deny-recipients = blocked@example.org'
	'recipient-reply = 550 5.1.1 sinkd-test: recipient refused (100% sure)'
	'max-recipients = 2'
	'max-recipients-reply = 452 4.5.3 sinkd-test: too many recipients'
	'reject-multi-recipient-bounce = yes'
	'multi-recipient-bounce-reply = 550 5.5.3 sinkd-test: multi-recipient bounce refused'
	'unknown-commands = XYZZY 502 5.5.1 Nothing happens, PLUGH 504 5.5.4 sinkd-test: no plugh here'
	'rewrite-recipients = old@example.org => new@example.org, new@example.org => newer@example.org, @old.test => @new.test'
	'bcc = archive@example.net'
	'rewrite-sender = alias@example.net => real@example.net'
	'add-headers = X-Sinkd-Test: client=${client_addr} qid=${queue_id} name=${client_name}'
)
SENDER_REPLY='550-5.7.1 first line|550 5.7.1 second line'

# sinkd's group: not postfix's primary group, to see that group is used
SK_GROUP=nogroup

# write_conf SOCKET INTERNAL-HOSTS [PROTOCOL-LINE...]: a fresh sinkd.conf
# (sk_init; user postfix, group SK_GROUP), socket-mode 0640, the domain policy and the list file; the
# [protocol] group gets BASE_PROTOCOL, then the extra lines
write_conf() {
	local sock=$1 internal=$2
	shift 2
	sk_init "$SKD" "$sock"
	sed -i -e "s|^internal-hosts = .*|internal-hosts = $internal|" \
		-e "s|^group = .*|group = $SK_GROUP|" "$SKD/conf/sinkd.conf"
	sk_conf 'socket-mode = 0640' '' '[protocol]' "${BASE_PROTOCOL[@]}" "$@"
	mkdir -p "$SKD/conf/lists"
	cat >"$SKD/conf/lists/e2e.lists" <<'EOF'
[lists]
staff@example.com = alice@example.com, bob@example.com
all@example.com = staff@example.com, carol@example.org
EOF
	cat >"$SKD/conf/domains/example.com.conf" <<'EOF'
[protocol]
deny-senders = pest@example.net
sender-reply = 550 5.7.1 sinkd-test: example.com takes no mail from you
deny-recipients = bob@example.com
list-file = lists/e2e.lists
EOF
}

# start_sinkd: start sinkd on a fresh log (sk_start waits for "ready on")
SK_STARTS=0
start_sinkd() {
	SK_STARTS=$((SK_STARTS + 1))
	[ -f "$SKD/sinkd.log" ] && mv "$SKD/sinkd.log" "$SKD/sinkd.log.$SK_STARTS"
	sk_start
}

# reload_sinkd: SIGHUP; wait for the outcome; 0 when the configuration was
# reloaded, 1 when sinkd refused it (or said nothing within 10 s)
reload_sinkd() {
	local pat='configuration reloaded|reload failed' before end last
	before=$(grep -cE "$pat" "$SKD/sinkd.log")
	sk_hup
	end=$(($(date +%s) + 10))
	while [ "$(grep -cE "$pat" "$SKD/sinkd.log")" -le "$before" ] && [ "$(date +%s)" -lt "$end" ]; do
		sleep 0.1
	done
	last=$(grep -E "$pat" "$SKD/sinkd.log" | tail -n 1)
	[ "$(grep -cE "$pat" "$SKD/sinkd.log")" -gt "$before" ] &&
		[ "${last#*configuration reloaded}" != "$last" ]
}

# reload_postfix: pf_reload, then wait until the smtpd and cleanup processes
# running the old configuration are gone
reload_postfix() {
	local master old end
	master=$(_pf_master_pid) || { diag "Postfix is not running"; return 1; }
	old=$(ps --ppid "$master" -o pid=,comm= |
		awk '$2 == "smtpd" || $2 == "cleanup" { printf "%s%s", n++ ? "," : "", $1 }')
	pf_reload || { diag "postfix reload failed"; return 1; }
	end=$(($(date +%s) + 10))
	while [ "$(date +%s)" -lt "$end" ]; do
		[ -z "$old" ] || [ -z "$(ps -o pid= -p "$old" 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	diag "old Postfix processes still running after reload: $old"
	return 1
}

# core_checks LABEL: deny-senders reply, a delivery with add-headers (queue
# id as Postfix has it), list expansion (P7, over each socket)
core_checks() {
	local label=$1 id qid f
	send "$label-deny" --from bad@example.net --to rcpt-core@example.org
	is "$(smtp_reply "$OUT" "MAIL FROM")" "$SENDER_REPLY" \
		"$label: deny-senders: MAIL FROM:<bad@example.net> gets the multi-line sender-reply"

	id=$label-hdr
	send "$id" --from good@example.net --to hdr-core@example.org
	qid=$(queue_id "$OUT")
	like "$qid" '^[0-9A-F]{6,}$' "$label: the message is queued (queued as $qid)"
	wait_msg hdr-core@example.org "$id"
	ok $? "$label: the message is delivered"
	f=$(msg hdr-core@example.org "$id")
	is "$(header "$f" X-Sinkd-Test)" "client=127.0.0.1 qid=$qid name=unknown" \
		"$label: add-headers: X-Sinkd-Test has the client address and Postfix's queue id"

	id=$label-list
	send "$id" --from good@example.net --to all@example.com
	wait_msg alice@example.com "$id" && wait_msg bob@example.com "$id" &&
		wait_msg carol@example.org "$id"
	ok $? "$label: list all@example.com (nested staff@) reaches alice, bob and carol"
	settle
	is "$(nmsg all@example.com "$id")/$(nmsg staff@example.com "$id")" "0/0" \
		"$label: neither list address gets the message itself"
}

# ---------------------------------------------------------------- setup

PF_PORT_NUM=$(pf_free_port) || bail_out "no free port"
mkdir -p "$W/pf"
pf_setup "$W/pf" "$PF_PORT_NUM" "unix:$SOCK_PATH" || bail_out "pf_setup failed"
pf_start || bail_out "pf_start failed"

write_conf "unix:$SOCK_PATH" 10.255.0.0/16
start_sinkd || bail_out "sinkd did not start"

# ---------------------------------------------------------------- P0
diag "P0: the main policy over unix:$SOCK_PATH"

# 13. not root; the socket's mode and owner
PID=$(sk_pid)
PF_UID=$(id -u postfix)
SK_GID=$(getent group "$SK_GROUP" | cut -d: -f3)
is "$(cat "/proc/$PID/comm" 2>/dev/null)" "sinkd" "the pid we hold is sinkd's"
is "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$PID/status")" \
	"$PF_UID $PF_UID $PF_UID $PF_UID" "sinkd runs as postfix (real, effective, saved, fs uid)"
is "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$PID/status")" \
	"$SK_GID $SK_GID $SK_GID $SK_GID" "sinkd runs with the configured group $SK_GROUP"
is "$(awk '/^Groups:/ { $1 = ""; sub(/^ +/, ""); sub(/ +$/, ""); print }' "/proc/$PID/status")" \
	"$SK_GID" "sinkd has no supplementary groups but $SK_GROUP (root's are dropped)"
is "$(stat -c '%F %a %U %G' "$SOCK_PATH")" "socket 640 postfix $SK_GROUP" \
	"the unix socket has socket-mode 0640 and is owned by user:group postfix:$SK_GROUP"
like "$(sk_log)" "ready on unix:$SOCK_PATH \\(uid $PF_UID\\)" "sinkd logs that it is ready, with its uid"

# 2. helo-deny: Postfix answers a milter-refused EHLO with a bare 250 and
# gives the milter's reply at MAIL FROM (its log says it came at EHLO)
send p0-helo1 --ehlo host.helo-bad.test --from good@example.net --to helo@example.org
is "$(smtp_reply "$OUT" "EHLO")" "250-mx.sinkd.test|250 ENHANCEDSTATUSCODES" \
	"helo-deny glob *.helo-bad.test: Postfix answers EHLO with a bare 250"
is "$(smtp_reply "$OUT" "MAIL FROM")" "550 5.7.1 sinkd-test: HELO name refused" \
	"helo-deny glob *.helo-bad.test: the client gets helo-reply (at MAIL FROM)"
send p0-helo2 --ehlo evil42 --from good@example.net --to helo@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "550 5.7.1 sinkd-test: HELO name refused" \
	"helo-deny /^evil[0-9]+\$/: EHLO evil42 gets helo-reply (at MAIL FROM)"
like "$(log_lines 'milter-reject: EHLO .*helo=<evil42>')" \
	'550 5\.7\.1 sinkd-test: HELO name refused' "Postfix logs the refusal at the EHLO stage"
send p0-helo3 --ehlo good.helo.test --from good@example.net --to helo@example.org
like "$(smtp_reply "$OUT" "EHLO")" '^250-mx\.sinkd\.test\|250-PIPELINING' "EHLO good.helo.test gets the full EHLO reply"
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 Ok" "EHLO good.helo.test: MAIL FROM is accepted"

# 3. deny-senders / allow-senders at MAIL
for s in bad@example.net Bad@Example.NET someone@spam.test host@mail.sub.test junk42@example.net; do
	send "p0-sender-$s" --from "$s" --to senders@example.org
	is "$(smtp_reply "$OUT" "MAIL FROM")" "$SENDER_REPLY" \
		"deny-senders: MAIL FROM:<$s> gets both lines of the multi-line sender-reply"
done
send p0-vip --from vip@spam.test --to senders@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 Ok" "allow-senders: vip@spam.test is not refused"
send p0-junk --from junkie@example.net --to senders@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 Ok" "junkie@example.net does not match /^junk[0-9]+@/"
send p0-subdom --from parent@sub.test --to senders@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 Ok" "@.sub.test does not match sub.test itself"
wait_msg senders@example.org p0-vip
ok $? "allow-senders: the message from vip@spam.test is delivered"

# 4. deny-recipients and max-recipients at RCPT
send p0-rcpt --from good@example.net --to rcpt-ok@example.org,blocked@example.org
is "$(smtp_reply "$OUT" "RCPT TO:<blocked@example.org>")" \
	"550 5.1.1 sinkd-test: recipient refused (100% sure)" \
	"deny-recipients: RCPT TO:<blocked@example.org> gets recipient-reply (a % in it comes back single)"
is "$(smtp_reply "$OUT" "RCPT TO:<rcpt-ok@example.org>")" "250 2.1.5 Ok" "the other recipient is accepted"
send p0-max --from good@example.net --to max1@example.org,max2@example.org,max3@example.org
is "$(smtp_reply "$OUT" "RCPT TO:<max1@example.org>")|$(smtp_reply "$OUT" "RCPT TO:<max2@example.org>")" \
	"250 2.1.5 Ok|250 2.1.5 Ok" "max-recipients = 2: the first two recipients are accepted"
is "$(smtp_reply "$OUT" "RCPT TO:<max3@example.org>")" "452 4.5.3 sinkd-test: too many recipients" \
	"max-recipients = 2: the third gets max-recipients-reply"
QID_MAX=$(queue_id "$OUT")
wait_msg max1@example.org p0-max && wait_msg max2@example.org p0-max
ok $? "max-recipients: the first two recipients get the message"
like "$(sk_log)" "sinkd\\[[0-9]+\\]: $QID_MAX: from=<good@example\\.net> nrcpt=2 size=[0-9]+ client=unknown\\[127\\.0\\.0\\.1\\] verdict=accept handler=- edits=[0-9]+ time=" \
	"sinkd logs the message line with Postfix's queue id, nrcpt=2 and verdict=accept"
like "$(log_lines "$QID_MAX: milter-reject: RCPT .*to=<max3@example.org>")" "^.*: $QID_MAX: milter-reject" \
	"Postfix had assigned queue id $QID_MAX when it passed RCPT TO:<max3@example.org>"
like "$(sk_log | grep 'rcpt=<max3@example.org>')" \
	"^[^ ]+ sinkd\\[[0-9]+\\]: $QID_MAX: rcpt=<max3@example\\.org> verdict=tempfail handler=protocol code=452 xcode=4\\.5\\.3\$" \
	"sinkd's line for the refused recipient starts with that queue id (sinkd(8): NOQUEUE only before the MTA assigned one)"
wait_msg rcpt-ok@example.org p0-rcpt
ok $? "deny-recipients: the accepted recipient gets the message"

# 5. reject-multi-recipient-bounce at DATA
send p0-bounce2 --from '<>' --to bounce1@example.org,bounce2@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 Ok" "null sender accepted at MAIL"
is "$(smtp_reply "$OUT" "DATA")" "550 5.5.3 sinkd-test: multi-recipient bounce refused" \
	"reject-multi-recipient-bounce: DATA of a 2-recipient bounce gets its reply"
send p0-bounce1 --from '<>' --to bounce1@example.org
like "$(smtp_reply "$OUT" ".")" '^250 2\.0\.0 Ok: queued as ' "a single-recipient bounce is accepted"
wait_msg bounce1@example.org p0-bounce1
ok $? "the single-recipient bounce is delivered"

# 6. unknown commands (swaks cannot send them: /dev/tcp)
mapfile -t R < <(raw_smtp "EHLO raw.test" "XYZZY plugh" "plugh" "FROB nitz" QUIT)
like "${R[0]}" '^220 ' "raw SMTP: greeting"
is "${R[2]}" "502 5.5.1 Nothing happens" "unknown-commands: XYZZY gets its own reply"
is "${R[3]}" "504 5.5.4 sinkd-test: no plugh here" "unknown-commands: plugh (any case) gets PLUGH's reply"
is "${R[4]}" "502 5.5.2 Error: command not recognized" "an unlisted unknown command gets the default unknown-reply"
like "$(log_lines 'milter-reject: UNKNOWN .*: 502 5\.5\.2 ')" '502 5\.5\.2 Error: command not recognized' \
	"Postfix logs the default unknown-reply as the milter's (it is sinkd's, not Postfix's own)"

# 7. per-domain policy (inbound: the recipient domain's policy)
send p0-dom1 --from pest@example.net --to dave@example.com
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 Ok" "per-domain: MAIL FROM:<pest@example.net> passes (no domain known yet)"
is "$(smtp_reply "$OUT" "RCPT TO:<dave@example.com>")" \
	"550 5.7.1 sinkd-test: example.com takes no mail from you" \
	"per-domain: example.com's deny-senders refuses pest@example.net with example.com's sender-reply"
send p0-dom2 --from pest@example.net --to dave@example.org
wait_msg dave@example.org p0-dom2
ok $? "per-domain: mail from pest@example.net to example.org is delivered"
send p0-dom3 --from pest@example.net --to dave@example.com,erin@example.org
is "$(smtp_reply "$OUT" "RCPT TO:<dave@example.com>")|$(smtp_reply "$OUT" "RCPT TO:<erin@example.org>")" \
	"550 5.7.1 sinkd-test: example.com takes no mail from you|250 2.1.5 Ok" \
	"per-domain: in one transaction only the example.com recipient is refused"
wait_msg erin@example.org p0-dom3
ok $? "per-domain: the example.org recipient of that transaction gets the message"
send p0-dom4 --from good@example.net --to bob@example.com
is "$(smtp_reply "$OUT" "RCPT TO:<bob@example.com>")" "550 5.1.1 sinkd-test: recipient refused (100% sure)" \
	"per-domain: example.com's deny-recipients refuses bob@example.com (recipient-reply inherited)"

# 9. routing edits
send p0-list --from good@example.net --to all@example.com
QID_LIST=$(queue_id "$OUT")
wait_msg alice@example.com p0-list && wait_msg bob@example.com p0-list &&
	wait_msg carol@example.org p0-list
ok $? "list all@example.com (nested list staff@example.com) reaches alice, bob and carol"
send p0-rewrite --from alias@example.net --to old@example.org
QID=$(queue_id "$OUT")
wait_msg new@example.org p0-rewrite
ok $? "rewrite-recipients: new@example.org gets the message sent to old@example.org"
wait_msg archive@example.net p0-rewrite && wait_msg archive@example.net p0-list
ok $? "bcc: archive@example.net gets a copy of both messages"
send p0-domrw --from good@example.net --to fred@old.test
wait_msg fred@new.test p0-domrw
ok $? "rewrite-recipients @old.test => @new.test: fred@new.test gets the message"
settle
is "$(nmsg fred@old.test p0-domrw)" "0" "rewrite-recipients @old.test => @new.test: fred@old.test gets nothing"
is "$(nmsg alice@example.com p0-list)/$(nmsg bob@example.com p0-list)/$(nmsg carol@example.org p0-list)" \
	"1/1/1" "each list member gets the message exactly once"
is "$(nmsg all@example.com p0-list)/$(nmsg staff@example.com p0-list)" "0/0" \
	"neither the list nor the nested list address gets the message itself"
is "$(nmsg old@example.org p0-rewrite)" "0" "rewrite-recipients: old@example.org gets nothing"
is "$(nmsg newer@example.org p0-rewrite)" "0" "rewrite-recipients: a rewritten address is not rewritten again (new@ => newer@)"
is "$(nmsg bob@example.com p0-list)" "1" "list members are not subject to recipient rules (bob@example.com is in deny-recipients)"
is "$(nmsg archive@example.net p0-list)" "1" "bcc: one copy only"
F=$(msg new@example.org p0-rewrite)
is "$(header "$F" Return-Path)" "<real@example.net>" \
	"rewrite-sender: Return-Path of the delivered message is <real@example.net>"
is "$(header "$F" X-Original-To)" "new@example.org" "the delivered envelope recipient is new@example.org"
like "$QID" '^[0-9A-F]{6,}$' "swaks got a queue id ($QID)"
is "$(header "$F" X-Sinkd-Test)" "client=127.0.0.1 qid=$QID name=unknown" \
	"add-headers: X-Sinkd-Test has \${client_addr}, \${queue_id} and \${client_name} (Postfix passes [127.0.0.1] when the name is unknown)"
like "$(header "$F" Received)" "with ESMTP id ${QID}[ ;]" "the queue id is the one in Postfix's Received header"
like "$(log_lines "postfix/smtpd\\[[0-9]+\\]: $QID: ")" "$QID: client=unknown\\[127\\.0\\.0\\.1\\]" \
	"the queue id is the one in Postfix's log"
F=$(msg alice@example.com p0-list)
is "$(header "$F" X-Sinkd-Test)" "client=127.0.0.1 qid=$QID_LIST name=unknown" \
	"add-headers: the list member's copy carries the header too"
is "$(header "$F" Return-Path)" "<good@example.net>" "a sender without a rewrite rule is unchanged"

settle
is "$(nmsg helo@example.org p0-helo1)$(nmsg helo@example.org p0-helo2)" "00" "refused HELO: nothing delivered"
is "$(nmsg helo@example.org p0-helo3)" "1" "accepted HELO: the message is delivered"
is "$(nmsg senders@example.org p0-sender-bad@example.net)" "0" "refused sender: nothing delivered"
is "$(nmsg blocked@example.org p0-rcpt)" "0" "refused recipient: nothing delivered to it"
is "$(nmsg max3@example.org p0-max)" "0" "the recipient over max-recipients gets nothing"
is "$(nmsg bounce1@example.org p0-bounce2)$(nmsg bounce2@example.org p0-bounce2)" "00" \
	"the refused multi-recipient bounce is not delivered"
is "$(nmsg dave@example.com p0-dom1)$(nmsg dave@example.com p0-dom3)" "00" "per-domain: the refused recipient gets nothing"

# ---------------------------------------------------------------- P1
diag "P1: connect-deny by CIDR"
write_conf "unix:$SOCK_PATH" 10.255.0.0/16 \
	'connect-deny = 127.0.0.1/32' \
	'connect-reply = 554 5.7.1 sinkd-test: connections from here are refused'
reload_sinkd
ok $? "SIGHUP: connect-deny configuration loaded"
send p1-deny --from good@example.net --to conn@example.org
like "$(smtp_reply "$OUT" BANNER)" '^554 ' "connect-deny 127.0.0.1/32: Postfix greets with 554 (its own 'not accepting connections' text)"
mapfile -t R < <(raw_smtp "EHLO raw.test" "MAIL FROM:<good@example.net>" "RCPT TO:<conn@example.org>" QUIT)
like "${R[0]}" '^554 ' "raw SMTP: the greeting is 554"
is "${R[2]}" "554 5.7.1 sinkd-test: connections from here are refused" \
	"connect-deny: the client gets sinkd's connect-reply at MAIL FROM"
like "$(log_lines 'smtpd.*milter-reject: CONNECT .*: 554 ' | tail -n 1)" \
	'554 5\.7\.1 sinkd-test: connections from here are refused' "Postfix logs the milter's connect reply"

# Postfix presents a local submission as 127.0.0.1 too: refused alike
local_submit p1-local p1-local@example.net p1-local@example.org
like "$(log_lines 'cleanup.*milter-reject: CONNECT .*from=<p1-local@example.net>')" \
	'5\.7\.1 sinkd-test: connections from here are refused' \
	"connect-deny 127.0.0.1/32: a local submission (sendmail, seen as 127.0.0.1) is refused at connect too"
is "$(nmsg p1-local@example.org p1-local)" "0" "  and not delivered (Postfix bounces it to the sender)"

# ---------------------------------------------------------------- P2
diag "P2: connect-allow exempts; custom unknown-reply"
write_conf "unix:$SOCK_PATH" 10.255.0.0/16 \
	'connect-deny = 127.0.0.0/8' \
	'connect-allow = 127.0.0.1/32' \
	'unknown-reply = 500 5.5.1 sinkd-test: what?'
sed -i 's|^deny-senders = |deny-senders = <>, |' "$SKD/conf/sinkd.conf"
reload_sinkd
ok $? "SIGHUP: connect-allow configuration loaded"
send p2-allow --from good@example.net --to conn@example.org
like "$(smtp_reply "$OUT" BANNER)" '^220 ' "connect-allow 127.0.0.1/32 inside connect-deny 127.0.0.0/8: greeted with 220"
wait_msg conn@example.org p2-allow
ok $? "connect-allow: the message is delivered"
mapfile -t R < <(raw_smtp "EHLO raw.test" "FROB nitz" "XYZZY" QUIT)
is "${R[2]}" "500 5.5.1 sinkd-test: what?" "unknown-reply: an unlisted command gets the configured reply"
is "${R[3]}" "502 5.5.1 Nothing happens" "unknown-commands still wins for XYZZY"
send p2-null --from '<>' --to conn@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "$SENDER_REPLY" "deny-senders <>: MAIL FROM:<> is refused"

# ---------------------------------------------------------------- P3
diag "P3: connect-deny-hosts (Postfix resolves 127.0.0.1 to localhost from /etc/hosts)"
pf_postconf -e 'smtpd_peername_lookup = yes'
reload_postfix
write_conf "unix:$SOCK_PATH" 10.255.0.0/16 \
	'connect-deny-hosts = *.nowhere.test, local*' \
	'connect-reply = 554 5.7.1 sinkd-test: host name refused'
reload_sinkd
ok $? "SIGHUP: connect-deny-hosts configuration loaded"
mapfile -t R < <(raw_smtp "EHLO raw.test" "MAIL FROM:<good@example.net>" QUIT)
like "${R[0]}" '^554 ' "connect-deny-hosts local*: the greeting is 554"
is "${R[2]}" "554 5.7.1 sinkd-test: host name refused" \
	"connect-deny-hosts local*: client localhost gets connect-reply at MAIL FROM"
write_conf "unix:$SOCK_PATH" 10.255.0.0/16 \
	'connect-deny-hosts = *.nowhere.test, /^mx[0-9]+$/' \
	'connect-reply = 554 5.7.1 sinkd-test: host name refused'
reload_sinkd
ok $? "SIGHUP: non-matching connect-deny-hosts loaded"
send p3-pass --from good@example.net --to hosts@example.org
wait_msg hosts@example.org p3-pass
ok $? "connect-deny-hosts that does not match localhost: the message is delivered"
like "$(header "$(msg hosts@example.org p3-pass)" X-Sinkd-Test)" ' name=localhost$' \
	"with peername lookup Postfix passes the client name localhost (\${client_name})"
diag "Without smtpd_peername_lookup Postfix passes the client name as [127.0.0.1]," \
	"which sinkd calls unknown (P0's X-Sinkd-Test name=unknown); a DNS name other" \
	"than localhost is not testable offline (no DNS)."
pf_postconf -e 'smtpd_peername_lookup = no'
reload_postfix

# sinkd-policy(5), connect-deny-hosts: a client without a verified name
# (Postfix passes [address]) is matched as "unknown"
write_conf "unix:$SOCK_PATH" 10.255.0.0/16 \
	'connect-deny-hosts = unknown' \
	'connect-reply = 554 5.7.1 sinkd-test: host name refused'
reload_sinkd
ok $? "SIGHUP: connect-deny-hosts = unknown loaded"
mapfile -t R < <(raw_smtp "EHLO raw.test" "MAIL FROM:<good@example.net>" QUIT)
is "${R[2]}" "554 5.7.1 sinkd-test: host name refused" \
	"connect-deny-hosts = unknown refuses a client without a verified name"

# ---------------------------------------------------------------- P4
diag "P4: require-auth for internal hosts"
# Postfix presents SMTP clients on loopback and local submissions
# (sendmail) alike, as 127.0.0.1: auth-exempt, 127.0.0.0/8 by default,
# keeps both out of require-auth; emptied, both must authenticate.
write_conf "unix:$SOCK_PATH" 127.0.0.0/8 \
	'require-auth = yes' \
	'auth-reply = 530 5.7.0 sinkd-test: authenticate first'
reload_sinkd
ok $? "SIGHUP: require-auth configuration loaded"
local_submit p4-local p4-local@example.net p4-local@example.org
is "$(nmsg p4-local@example.org p4-local)" "1" \
	"require-auth: a local submission passes (127.0.0.1 is in the default auth-exempt)"
[ "$(nmsg p4-local@example.org p4-local)" = 1 ] ||
	diag "cleanup said: $(pf_log | grep 'cleanup.*from=<p4-local@example.net>' | sed 's/.*milter-reject/milter-reject/')"
send p4-exempt --from user@example.com --to auth@example.org
wait_msg auth@example.org p4-exempt
ok $? "require-auth: an SMTP client on loopback is exempt too"
write_conf "unix:$SOCK_PATH" 127.0.0.0/8 \
	'require-auth = yes' 'auth-exempt =' \
	'auth-reply = 530 5.7.0 sinkd-test: authenticate first'
reload_sinkd
ok $? "SIGHUP: require-auth with an empty auth-exempt loaded"
send p4-auth --from user@example.com --to auth@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "530 5.7.0 sinkd-test: authenticate first" \
	"require-auth: an unauthenticated internal client gets auth-reply at MAIL FROM"
printf 'Subject: e2e p4-local2\nX-E2E-Id: p4-local2\n\nlocal\n' |
	pf_sendmail -f p4-local2@example.net p4-local2@example.org
like "$(log_lines 'cleanup.*milter-reject: MAIL .*from=<p4-local2@example.net>')" '5\.7\.0 sinkd-test: authenticate first' \
	"require-auth, auth-exempt empty: a local submission is refused at MAIL FROM as well"
diag "The test Postfix has no SASL: the authenticated path of require-auth is covered" \
	"by the sinkd -t -A tests."

# ---------------------------------------------------------------- P5
diag "P5: sinkd down - nothing is lost"
settle
write_conf "unix:$SOCK_PATH" 10.255.0.0/16
sk_stop
ok $? "sinkd stops on SIGTERM"
like "$(sk_log | grep -E 'stopping on signal|]: stopped|cannot remove socket' | tr '\n' '|')" \
	'stopping on signal 15\|.*cannot remove socket .*Permission denied.*\|.* sinkd\[[0-9]+\]: stopped\|$' \
	"sinkd logs stopping, that it could not remove the socket (its directory is root's), then stopped"
ok "$([ -S "$SOCK_PATH" ]; echo $?)" "the stale socket is left for the next start to remove"
send p5-down --from good@example.net --to down@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "451 4.7.1 Service unavailable - try again later" \
	"sinkd down: MAIL FROM gets 451 4.7.1 (milter_default_action = tempfail)"
printf 'Subject: e2e p5-local\nX-E2E-Id: p5-local\n\nsubmitted while sinkd was down\n' |
	pf_sendmail -f local@example.net local@example.org
ok $? "sendmail accepts a local submission"
like "$(log_lines 'cleanup.*milter-reject: CONNECT .*from=<local@example.net>')" 'milter-reject: CONNECT .*4\.7\.1' \
	"the local submission is tempfailed by cleanup (non_smtpd_milters)"
ok "$([ "$(pf_queue_count)" -gt 0 ] &&
	grep -rlq 'X-E2E-Id: p5-local' "$PF_DIR"/queue/{maildrop,incoming,active,deferred,hold} 2>/dev/null; echo $?)" \
	"the local submission stays queued"
is "$(nmsg local@example.org p5-local)$(nmsg down@example.org p5-down)" "00" "nothing was delivered while sinkd was down"
start_sinkd
ok $? "sinkd starts again"
pf_flush
wait_msg local@example.org p5-local
ok $? "after pf_flush the queued local submission is delivered"
settle
is "$(nmsg local@example.org p5-local)" "1" "exactly once"
like "$(header "$(msg local@example.org p5-local)" X-Sinkd-Test)" '^client=[^ ]+ qid=[0-9A-F]+ name=localhost$' \
	"the local submission passed through sinkd (X-Sinkd-Test added)"
like "$(header "$(msg local@example.org p5-local)" X-Sinkd-Test)" '^client=127\.0\.0\.1 ' \
	"Postfix presents a local submission as 127.0.0.1 (\${client_addr})"
send p5-up --from good@example.net --to down@example.org
wait_msg down@example.org p5-up
ok $? "a new SMTP message is delivered"
is "$(header "$(msg down@example.org p5-up)" X-Sinkd-Test)" "client=127.0.0.1 qid=$(queue_id "$OUT") name=unknown" \
	"the new message passed through sinkd"
is "$(nmsg down@example.org p5-down)" "0" "the message refused while sinkd was down never arrives"

# ---------------------------------------------------------------- P6
diag "P6: SIGHUP reloads"
write_conf "unix:$SOCK_PATH" 10.255.0.0/16
sed -i -e 's|^deny-senders = .*|deny-senders = newbad@example.net|' \
	-e 's|^socket-mode = .*|socket-mode = 0660|' "$SKD/conf/sinkd.conf"
sed -i 's|^staff@example.com = .*|staff@example.com = alice@example.com, dan@example.com|' "$SKD/conf/lists/e2e.lists"
reload_sinkd
ok $? "SIGHUP: the changed deny-senders is loaded"
like "$(sk_log)" 'warning: socket-mode: a change needs a restart; still using "0640"' \
	"SIGHUP: a changed restart-only key (socket-mode) is reported"
is "$(stat -c %a "$SOCK_PATH")" "640" "and the socket keeps its mode"
send p6-new --from newbad@example.net --to reload@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "$SENDER_REPLY" "after SIGHUP: newbad@example.net is refused on a new connection"
send p6-old --from bad@example.net --to reload@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 Ok" "after SIGHUP: bad@example.net (no longer listed) is accepted"
wait_msg reload@example.org p6-old
ok $? "after SIGHUP: the message from bad@example.net is delivered"
send p6-list --from good@example.net --to staff@example.com
wait_msg dan@example.com p6-list && wait_msg alice@example.com p6-list
ok $? "after SIGHUP: the changed list file is used (dan@ is now on staff@)"
settle
is "$(nmsg bob@example.com p6-list)" "0" "after SIGHUP: bob@ (removed from staff@) gets nothing"

sed -i -e 's|^deny-senders = .*|deny-senders = other@example.net|' \
	-e 's|^max-recipients = .*|max-recipients = lots|' "$SKD/conf/sinkd.conf"
BAD_LINE=$(grep -n '^max-recipients = lots' "$SKD/conf/sinkd.conf" | cut -d: -f1)
reload_sinkd
is "$?" "1" "SIGHUP with max-recipients = lots: the reload is refused"
like "$(sk_log)" "$SKD/conf/sinkd\\.conf:$BAD_LINE: max-recipients: " \
	"sinkd logs the error as sinkd.conf:$BAD_LINE: max-recipients: ..."
like "$(sk_log | grep -A1 "sinkd.conf:$BAD_LINE:")" "keeping the running configuration" \
	"sinkd says it keeps the running configuration"
kill -0 "$(sk_pid)" 2>/dev/null
ok $? "sinkd is still running"
send p6-keep --from newbad@example.net --to reload@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "$SENDER_REPLY" "after the failed reload newbad@example.net is still refused"
send p6-other --from other@example.net --to reload@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 Ok" "the broken file's deny-senders = other@example.net is not applied"
wait_msg reload@example.org p6-other
ok $? "after the failed reload a message is still delivered"
is "$(header "$(msg reload@example.org p6-other)" X-Sinkd-Test)" "client=127.0.0.1 qid=$(queue_id "$OUT") name=unknown" \
	"and it still passes through sinkd"
send p6-max --from good@example.net --to rmax1@example.org,rmax2@example.org,rmax3@example.org
is "$(smtp_reply "$OUT" "RCPT TO:<rmax3@example.org>")" "452 4.5.3 sinkd-test: too many recipients" \
	"after the failed reload max-recipients is still 2"

# ---------------------------------------------------------------- P7
MPORT=$(pf_free_port) || bail_out "no free port"
diag "P7: inet sockets on 127.0.0.1:$MPORT"
sk_stop
pf_postconf -e "smtpd_milters = inet:127.0.0.1:$MPORT" "non_smtpd_milters = inet:127.0.0.1:$MPORT"
reload_postfix

write_conf "inet:$MPORT@127.0.0.1" 10.255.0.0/16
start_sinkd
ok $? "sinkd starts on inet:$MPORT@127.0.0.1 (libmilter's spelling)"
like "$(sk_log)" "Postfix main\\.cf: smtpd_milters = inet:127\\.0\\.0\\.1:$MPORT" \
	"sinkd logs the Postfix spelling of its socket"
core_checks "inet:PORT@127.0.0.1"
sk_stop

write_conf "inet:127.0.0.1:$MPORT" 10.255.0.0/16
start_sinkd
ok $? "sinkd starts on inet:127.0.0.1:$MPORT (Postfix's spelling)"
core_checks "inet:127.0.0.1:PORT"
sk_stop
ok $? "sinkd stops"
sk_log_clean
ok $? "sinkd's log, over every phase, holds no sanitizer report or panic"

done_testing
