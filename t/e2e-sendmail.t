#!/bin/bash
# e2e-sendmail.t - sinkd end to end through a real Sendmail: a private
# Sendmail 8.17 (Debian's packages, unpacked, never installed) on loopback,
# the real sinkd daemon, real SMTP sessions (swaks and a /dev/tcp client).
#
# Every rule of the protocol handler is checked at its SMTP stage with the
# exact reply code, enhanced code and text the client sees (custom reply keys,
# so that sinkd's own text is what comes back), and every routing edit in the
# messages Sendmail actually delivered (t/lib/sendmail.sh's file mailer).
#
# What Sendmail does with a milter's reply (established here, asserted below):
#   connect  the reply text is ignored (Sendmail is built without
#            _FFR_MILTER_CONNECT_REPLYCODE): a 5xx gives the greeting
#            "554 <host> ESMTP not accepting messages" and "550 5.0.0 Command
#            rejected" to every command; a 421 gives "421 4.7.0 <host>
#            closing connection" instead of the greeting
#   HELO     the EHLO reply is a bare 250; the milter's reply comes at MAIL
#   MAIL     the first line is prefixed with "<sender>... "
#   RCPT     a 5xx is prefixed with "<recipient>... ", a 4xx is not
#   DATA, unknown commands: the reply as the milter gave it
#
# Everything (Sendmail's queue, sinkd's unix socket) lives under a fresh
# /run/sinkd-e2e-sm.XXXXXX: Sendmail refuses both below a group- or
# world-writable directory, and the clone may be under /tmp.
#
# Phases:
#   U  the main policy over unix: sockets: HELO, senders, recipients,
#      max-recipients, multi-recipient bounces, unknown commands, routing
#      (lists, rewrites, BCC, rewrite-sender, add-headers), core checks
#   C  connect-deny (SIGHUP), 5xx and 421 connect-reply
#   D  sinkd down: 451 4.3.2 (F=T), nothing delivered; up again: delivered
#   I  inet: sockets: the core checks, Sendmail started without a mount
#      namespace (SM_NO_MOUNT_NS=1: the path taken where unshare refuses
#      one, a chroot or some containers)
#
# The machine's /etc/hosts and /etc/nsswitch.conf must come out of both
# paths byte for byte as they were, and mounted (or not) as they were.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/tap.sh
. "$TOP/t/lib/tap.sh"
# shellcheck source=lib/mail.sh
. "$TOP/t/lib/mail.sh"
# shellcheck source=lib/sendmail.sh
. "$TOP/t/lib/sendmail.sh"
# shellcheck source=lib/sinkd.sh
. "$TOP/t/lib/sinkd.sh"

[ "$(id -u)" -eq 0 ] || bail_out "needs root (a private Sendmail instance); run it through ./bootstrap test"
for cmd in swaks unshare setsid; do
	if ! command -v "$cmd" >/dev/null 2>&1; then
		bail_out "$cmd is not installed (./bootstrap test installs it)"
	fi
done
[ -x "$SINKD" ] || bail_out "$SINKD is not built (run make)"

ETC_BEFORE=$(sm_etc_state)

T_START=$(date +%s)
R=$(mktemp -d /run/sinkd-e2e-sm.XXXXXX) || bail_out "cannot create a directory under /run"
chmod 0755 "$R"

cleanup() {
	local rc=$?
	sm_stop_all
	sk_stop
	if [ "$rc" -eq 0 ] && [ "$TAP_FAILED" -eq 0 ]; then
		rm -rf "$R"
	else
		diag "work directory kept: $R"
	fi
	diag "e2e-sendmail: $(($(date +%s) - T_START)) s"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# require STATUS DESCRIPTION: a setup step; when it failed, the evidence
# and stop (the steps after it would only fail for the same reason)
require() {
	ok "$1" "$2"
	[ "$1" -eq 0 ] && return 0
	[ -n "${SM_DIR:-}" ] && sm_diag
	[ -n "${SK_DIR:-}" ] && [ -f "$SK_DIR/sinkd.log" ] && diag "sinkd log:" "$(sk_log)"
	done_testing
}

# ---------------------------------------------------------------- helpers


# raw_smtp CMD...: one SMTP session over /dev/tcp; prints the greeting, then
# one line per command: its reply, lines joined with '|'.  Once the server
# has closed the connection (or said 421), each remaining command prints
# <closed>.  A subshell: SIGPIPE is ignored there.
raw_smtp() (
	trap '' PIPE
	local cmd r
	exec 3<>"/dev/tcp/127.0.0.1/$SM_PORT" || exit 1
	r=$(_raw_read)
	printf '%s\n' "$r"
	for cmd in "$@"; do
		case $r in
		'<no reply>' | '<closed>' | 421*)
			r='<closed>'
			printf '%s\n' "$r"
			continue
			;;
		esac
		printf '%s\r\n' "$cmd" >&3 2>/dev/null
		r=$(_raw_read)
		printf '%s\n' "$r"
	done
	exec 3>&-
)
_raw_read() {
	local l r=
	while IFS= read -t 10 -r l <&3; do
		l=${l%$'\r'}
		r=${r:+$r|}$l
		case $l in [0-9][0-9][0-9]-*) ;; *) break ;; esac
	done 2>/dev/null
	printf '%s\n' "${r:-<no reply>}"
}

# send ID SWAKS-ARGS...: one swaks session; the message carries X-E2E-Id: ID
# (sets OUT to swaks's transcript)
send() {
	local id=$1
	shift
	OUT=$(sm_swaks --header "X-E2E-Id: $id" --header "Subject: e2e $id" "$@")
}

# queue_id SWAKS-OUTPUT: the id of "250 2.0.0 ID Message accepted for delivery"
queue_id() {
	printf '%s\n' "$1" | sed -n 's/^<-  250 2\.0\.0 \([0-9A-Za-z]*\) Message accepted for delivery.*/\1/p' |
		tail -n 1
}

# nmsg RCPT ID: messages with X-E2E-Id: ID delivered to RCPT
nmsg() {
	local box
	box=$(sm_mailbox "$1")
	[ -d "$box" ] || { echo 0; return; }
	grep -lx -- "X-E2E-Id: $2" "$box"/* 2>/dev/null | wc -l
}

# msg RCPT ID: the path of a message with X-E2E-Id: ID delivered to RCPT
msg() {
	local box
	box=$(sm_mailbox "$1")
	grep -lx -- "X-E2E-Id: $2" "$box"/* 2>/dev/null | head -n 1
}



# settle: every message Sendmail accepted so far is delivered (its queue
# files go only after the mailer has written the message)
settle() {
	local end=$(($(date +%s) + 20))
	while [ -n "$(find "$SM_DIR/queue" -type f 2>/dev/null)" ]; do
		if [ "$(date +%s)" -ge "$end" ]; then
			diag "the Sendmail queue did not drain:" "$(ls -la "$SM_DIR/queue")"
			return 1
		fi
		sleep 0.1
	done
}

# ndelivered: every message file delivered by the current instance
ndelivered() {
	find "$SM_DIR/mail" -type f ! -name '.*' | wc -l
}

# The main [protocol] policy; phase C adds keys.  (${...} are sinkd's.)
# shellcheck disable=SC2016
BASE_PROTOCOL=(
	'helo-deny = *.helo-bad.test, /^evil[0-9]+$/'
	'helo-reply = 550 5.7.1 sinkd-test: HELO name refused'
	'deny-senders = bad@example.net, @spam.test, /^junk[0-9]+@/'
	'sender-reply = 550 5.7.1 sinkd-test: sender refused\nsee the policy'
	'deny-recipients = blocked@example.org'
	'recipient-reply = 550 5.1.1 sinkd-test: recipient refused (100% sure)'
	'max-recipients = 2'
	'max-recipients-reply = 452 4.5.3 sinkd-test: too many recipients'
	'reject-multi-recipient-bounce = yes'
	'multi-recipient-bounce-reply = 550 5.5.3 sinkd-test: multi-recipient bounce refused'
	'unknown-commands = XYZZY 502 5.5.1 sinkd-test: nothing happens, PLUGH 504 5.5.4 sinkd-test: no plugh here'
	'rewrite-recipients = old@example.org => new@example.org, @old.test => @new.test'
	'bcc = archive@example.net'
	'rewrite-sender = alias@example.net => real@example.net'
	'add-headers = X-Sinkd-Test: client=${client_addr} qid=${queue_id} name=${client_name}'
)
# what the client sees for a refused sender S (Sendmail prefixes the
# first line with the address)
sender_reply() {
	printf '550-5.7.1 <%s>... sinkd-test: sender refused|550 5.7.1 see the policy' "$1"
}

# write_conf DIR SOCKET [PROTOCOL-LINE...]: a fresh sinkd.conf in DIR
# (sk_init: user postfix), the main policy plus the extra lines, example.com's
# policy file with the list file (a nested list)
write_conf() {
	local dir=$1 sock=$2
	shift 2
	sk_init "$dir" "$sock"
	sk_conf '' '[protocol]' "${BASE_PROTOCOL[@]}" "$@"
	mkdir -p "$dir/conf/lists"
	cat >"$dir/conf/lists/e2e.lists" <<'EOF'
[lists]
staff@example.com = alice@example.com, bob@example.com
all@example.com = staff@example.com, carol@example.org
EOF
	cat >"$dir/conf/domains/example.com.conf" <<'EOF'
[protocol]
list-file = lists/e2e.lists
EOF
}

# start_sinkd: start sinkd on a fresh log (sk_start waits for "ready on",
# which an old log would already have)
SK_STARTS=0
start_sinkd() {
	SK_STARTS=$((SK_STARTS + 1))
	[ -f "$SK_DIR/sinkd.log" ] && mv "$SK_DIR/sinkd.log" "$SK_DIR/sinkd.log.$SK_STARTS"
	sk_start
}

# reload_sinkd: SIGHUP; 0 when sinkd logged "configuration reloaded"
reload_sinkd() {
	local pat='configuration reloaded|reload failed' before last
	before=$(grep -cE "$pat" "$SK_DIR/sinkd.log")
	sk_hup
	for _ in $(seq 1 100); do
		[ "$(grep -cE "$pat" "$SK_DIR/sinkd.log")" -gt "$before" ] && break
		sleep 0.1
	done
	last=$(grep -E "$pat" "$SK_DIR/sinkd.log" | tail -n 1)
	[ "$(grep -cE "$pat" "$SK_DIR/sinkd.log")" -gt "$before" ] &&
		[ "${last#*configuration reloaded}" != "$last" ]
}

# core_checks LABEL: a deny-senders reply, a delivery with add-headers
# (Sendmail's queue id), list expansion - over each socket kind
core_checks() {
	local label=$1 id qid f
	send "$label-deny" --from bad@example.net --to core@example.org
	is "$(smtp_reply "$OUT" "MAIL FROM")" "$(sender_reply bad@example.net)" \
		"$label: deny-senders: MAIL FROM:<bad@example.net> gets the two-line sender-reply"

	id=$label-hdr
	send "$id" --from good@example.net --to hdr@example.org
	qid=$(queue_id "$OUT")
	like "$qid" '^[0-9A-Za-z]{12,}$' "$label: the message is accepted (queue id $qid)"
	wait_msg hdr@example.org "$id"
	ok $? "$label: the message is delivered"
	f=$(msg hdr@example.org "$id")
	is "$(header "$f" X-Sinkd-Test)" "client=127.0.0.1 qid=$qid name=$(sm_client_name)" \
		"$label: add-headers: X-Sinkd-Test has \${client_addr}, Sendmail's \${queue_id} and \${client_name}"
	like "$(header "$f" Received)" "with ESMTP id ${qid}[ ;]" \
		"$label: that queue id is the one in Sendmail's Received header"

	id=$label-list
	send "$id" --from good@example.net --to all@example.com
	wait_msg alice@example.com "$id" && wait_msg bob@example.com "$id" &&
		wait_msg carol@example.org "$id"
	ok $? "$label: list all@example.com (nested staff@) reaches alice, bob and carol"
	settle
	is "$(nmsg alice@example.com "$id")/$(nmsg bob@example.com "$id")/$(nmsg carol@example.org "$id")" \
		"1/1/1" "$label: each list member gets it exactly once"
	is "$(nmsg all@example.com "$id")/$(nmsg staff@example.com "$id")" "0/0" \
		"$label: neither list address gets the message itself"
}

# ---------------------------------------------------------------- setup

# (not in $(...): it sets SM_BIN and friends)
sm_fetch "$TOP/t/work/sendmail-debs"
require $? "Sendmail is downloaded and unpacked (sm_fetch)"

UNIX_SOCK=$R/sk-unix/sinkd.sock
write_conf "$R/sk-unix" "unix:$UNIX_SOCK"
start_sinkd
require $? "sinkd starts on unix:$UNIX_SOCK"
SM_PORT_U=$(sm_free_port)
sm_setup "$R/sm-unix" "$SM_PORT_U" "unix:$UNIX_SOCK"
require $? "sm_setup with S=unix:$UNIX_SOCK"
is "$(grep '^Xsinkd' "$SM_CF")" "Xsinkd, S=unix:$UNIX_SOCK, F=T, T=C:10s;S:30s;R:30s;E:5m" \
	"sendmail.cf has the filter on the unix socket, F=T"
sm_start
require $? "Sendmail starts on port $SM_PORT_U"
diag "Sendmail's namespaces: $SM_NS"
is "$(sm_etc_state)" "$ETC_BEFORE" \
	"the machine's /etc/hosts and /etc/nsswitch.conf are untouched and not mounted over (SM_NS=$SM_NS)"

# ---------------------------------------------------------------- U
diag "U: the main policy over unix:$UNIX_SOCK"

# helo-deny by pattern: EHLO gets a bare 250, MAIL gets helo-reply
send u-helo1 --ehlo host.helo-bad.test --from good@example.net --to helo@example.org
like "$(smtp_reply "$OUT" "EHLO")" '^250-mx\.sinkd\.test Hello [^|]*\|250 ENHANCEDSTATUSCODES$' \
	"helo-deny glob *.helo-bad.test: Sendmail answers EHLO with a bare 250"
is "$(smtp_reply "$OUT" "MAIL FROM")" "550 5.7.1 sinkd-test: HELO name refused" \
	"helo-deny glob *.helo-bad.test: MAIL FROM gets helo-reply"
send u-helo2 --ehlo evil42 --from good@example.net --to helo@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "550 5.7.1 sinkd-test: HELO name refused" \
	"helo-deny /^evil[0-9]+\$/: EHLO evil42, then MAIL FROM gets helo-reply"
send u-helo3 --ehlo evil42x --from good@example.net --to helo@example.org
like "$(smtp_reply "$OUT" "EHLO")" '\|250-PIPELINING\|' "EHLO evil42x (no match) gets the full EHLO reply"
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 <good@example.net>... Sender ok" \
	"EHLO evil42x: MAIL FROM is accepted"

# deny-senders at MAIL: address (any case), @domain, /regex/; two-line reply
for s in bad@example.net Bad@Example.NET someone@spam.test junk42@example.net; do
	send "u-sender-$s" --from "$s" --to senders@example.org
	is "$(smtp_reply "$OUT" "MAIL FROM")" "$(sender_reply "$s")" \
		"deny-senders: MAIL FROM:<$s> gets both lines of sender-reply"
done
send u-sender-ok --from junkie@example.net --to senders@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 <junkie@example.net>... Sender ok" \
	"junkie@example.net does not match /^junk[0-9]+@/: accepted"
send u-sender-sub --from someone@mail.spam.test --to senders@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")" "250 2.1.0 <someone@mail.spam.test>... Sender ok" \
	"@spam.test does not match a subdomain"

# deny-recipients and max-recipients at RCPT
send u-rcpt --from good@example.net --to rcpt-ok@example.org,blocked@example.org
is "$(smtp_reply "$OUT" "RCPT TO:<blocked@example.org>")" \
	"550 5.1.1 <blocked@example.org>... sinkd-test: recipient refused (100% sure)" \
	"deny-recipients: RCPT TO:<blocked@example.org> gets recipient-reply (its % comes back single)"
is "$(smtp_reply "$OUT" "RCPT TO:<rcpt-ok@example.org>")" "250 2.1.5 <rcpt-ok@example.org>... Recipient ok" \
	"the other recipient is accepted"
send u-max --from good@example.net --to max1@example.org,max2@example.org,max3@example.org
is "$(smtp_reply "$OUT" "RCPT TO:<max1@example.org>")|$(smtp_reply "$OUT" "RCPT TO:<max2@example.org>")" \
	"250 2.1.5 <max1@example.org>... Recipient ok|250 2.1.5 <max2@example.org>... Recipient ok" \
	"max-recipients = 2: the first two recipients are accepted"
is "$(smtp_reply "$OUT" "RCPT TO:<max3@example.org>")" "452 4.5.3 sinkd-test: too many recipients" \
	"max-recipients = 2: the third gets max-recipients-reply"
QID_MAX=$(queue_id "$OUT")
wait_msg max1@example.org u-max && wait_msg max2@example.org u-max
ok $? "max-recipients: the first two recipients get the message"
like "$(sk_log)" "sinkd\\[[0-9]+\\]: $QID_MAX: rcpt=<max3@example\\.org> verdict=tempfail handler=protocol code=452 xcode=4\\.5\\.3" \
	"sinkd logs the refused third recipient under Sendmail's queue id $QID_MAX"
wait_msg rcpt-ok@example.org u-rcpt
ok $? "deny-recipients: the accepted recipient gets the message"

# reject-multi-recipient-bounce at DATA
send u-bounce2 --from '<>' --to bounce1@example.org,bounce2@example.org
is "$(smtp_reply "$OUT" "MAIL FROM")|$(smtp_reply "$OUT" "RCPT TO:<bounce2@example.org>")" \
	"250 2.1.0 <>... Sender ok|250 2.1.5 <bounce2@example.org>... Recipient ok" \
	"a null sender and two recipients are accepted"
is "$(smtp_reply "$OUT" "DATA")" "550 5.5.3 sinkd-test: multi-recipient bounce refused" \
	"reject-multi-recipient-bounce: DATA gets multi-recipient-bounce-reply"
send u-bounce1 --from '<>' --to bounce1@example.org
like "$(smtp_reply "$OUT" "DATA")" '^354 ' "a single-recipient bounce gets 354 at DATA"
wait_msg bounce1@example.org u-bounce1
ok $? "the single-recipient bounce is delivered"

# unknown commands: Sendmail 8.14+ passes them to the milter (SMFIC_UNKNOWN)
mapfile -t RS < <(raw_smtp "EHLO raw.test" "XYZZY plugh" "xyzzy" "plugh" "FROB nitz" NOOP QUIT)
like "${RS[0]}" '^220 mx\.sinkd\.test ESMTP Sendmail ' "raw SMTP: greeting"
is "${RS[2]}" "502 5.5.1 sinkd-test: nothing happens" "unknown-commands: XYZZY gets its own reply"
is "${RS[3]}" "502 5.5.1 sinkd-test: nothing happens" "unknown-commands: xyzzy (lower case) too"
is "${RS[4]}" "504 5.5.4 sinkd-test: no plugh here" "unknown-commands: plugh gets PLUGH's reply"
is "${RS[5]}" "502 5.5.2 Error: command not recognized" \
	"FROB (not listed) gets sinkd's default unknown-reply, not Sendmail's '500 5.5.1 Command unrecognized'"
is "${RS[6]}" "250 2.0.0 OK" "the session goes on after them (NOOP)"
diag "Sendmail passes unknown SMTP commands to the milter (SMFIC_UNKNOWN, sinkd" \
	"does not set SMFIP_NOUNKNOWN) and returns its reply as given."

# routing edits
send u-list --from good@example.net --to all@example.com
wait_msg alice@example.com u-list && wait_msg bob@example.com u-list &&
	wait_msg carol@example.org u-list
ok $? "list all@example.com (nested list staff@example.com) reaches alice, bob and carol"
send u-rewrite --from alias@example.net --to old@example.org,fred@old.test
QID=$(queue_id "$OUT")
wait_msg new@example.org u-rewrite
ok $? "rewrite-recipients: new@example.org gets the message sent to old@example.org"
wait_msg fred@new.test u-rewrite
ok $? "rewrite-recipients @old.test => @new.test: fred@new.test gets the message"
wait_msg archive@example.net u-rewrite && wait_msg archive@example.net u-list
ok $? "bcc: archive@example.net gets a copy of both messages"
settle
is "$(nmsg alice@example.com u-list)/$(nmsg bob@example.com u-list)/$(nmsg carol@example.org u-list)" \
	"1/1/1" "each list member gets the message exactly once"
is "$(nmsg all@example.com u-list)/$(nmsg staff@example.com u-list)" "0/0" \
	"neither the list nor the nested list address gets the message itself"
is "$(nmsg old@example.org u-rewrite)/$(nmsg fred@old.test u-rewrite)" "0/0" \
	"rewrite-recipients: the old addresses get nothing"
is "$(nmsg archive@example.net u-list)/$(nmsg archive@example.net u-rewrite)" "1/1" "bcc: one copy each"
F=$(msg new@example.org u-rewrite)
is "$(header "$F" Return-Path)" "<real@example.net>" \
	"rewrite-sender: Return-Path of the delivered message is <real@example.net>"
is "$(header "$(msg alice@example.com u-list)" Return-Path)" "<good@example.net>" \
	"a sender without a rewrite rule is unchanged"
like "$QID" '^[0-9A-Za-z]{12,}$' "swaks got Sendmail's queue id ($QID)"
is "$(header "$F" X-Sinkd-Test)" "client=127.0.0.1 qid=$QID name=$(sm_client_name)" \
	"add-headers: X-Sinkd-Test has \${client_addr}, \${queue_id} and \${client_name} (Sendmail's localhost)"
like "$(header "$F" Received)" "with ESMTP id ${QID}[ ;]" "the queue id is the one in Sendmail's Received header"
is "$(grep -c '^X-Sinkd-Test:' "$F")" "1" "the header is added once"

# nothing delivered for what was refused
is "$(nmsg helo@example.org u-helo1)$(nmsg helo@example.org u-helo2)" "00" "refused HELO: nothing delivered"
is "$(nmsg helo@example.org u-helo3)" "1" "accepted HELO: the message is delivered"
is "$(nmsg senders@example.org u-sender-bad@example.net)$(nmsg senders@example.org u-sender-junk42@example.net)" \
	"00" "refused senders: nothing delivered"
is "$(nmsg blocked@example.org u-rcpt)" "0" "refused recipient: nothing delivered to it"
is "$(nmsg max3@example.org u-max)" "0" "the recipient over max-recipients gets nothing"
is "$(nmsg bounce1@example.org u-bounce2)$(nmsg bounce2@example.org u-bounce2)" "00" \
	"the refused multi-recipient bounce is not delivered"

core_checks "unix"

# ---------------------------------------------------------------- C
diag "C: connect-deny 127.0.0.1/32 (SIGHUP)"
write_conf "$R/sk-unix" "unix:$UNIX_SOCK" \
	'connect-deny = 127.0.0.1/32' \
	'connect-reply = 554 5.7.1 sinkd-test: connections from here are refused'
reload_sinkd
ok $? "SIGHUP: connect-deny loaded"
mapfile -t RS < <(raw_smtp "EHLO raw.test" "MAIL FROM:<good@example.net>" "RCPT TO:<conn@example.org>" XYZZY QUIT)
is "${RS[0]}" "554 mx.sinkd.test ESMTP not accepting messages" \
	"connect-deny: the greeting is 554 (Sendmail's own text)"
is "${RS[2]}" "550 5.0.0 Command rejected" "connect-deny: MAIL FROM gets 550 5.0.0 Command rejected"
is "${RS[3]}" "550 5.0.0 Command rejected" "connect-deny: RCPT TO gets 550 5.0.0 Command rejected"
is "${RS[4]}" '500 5.5.1 Command unrecognized: "XYZZY"' \
	"connect-deny: the filter is out of the session (XYZZY gets Sendmail's own reply)"
diag "Sendmail (built without _FFR_MILTER_CONNECT_REPLYCODE) ignores the text of a" \
	"milter's connect reply and keeps only its class: connect-reply's text never" \
	"reaches the client; a 5xx gives the 554 greeting and '550 5.0.0 Command rejected'."
send c-deny --from good@example.net --to conn@example.org
is "$(smtp_reply "$OUT" BANNER)" "554 mx.sinkd.test ESMTP not accepting messages" "swaks: greeted with 554"
write_conf "$R/sk-unix" "unix:$UNIX_SOCK" \
	'connect-deny = 127.0.0.1/32' \
	'connect-reply = 421 4.7.1 sinkd-test: come back later'
reload_sinkd
ok $? "SIGHUP: connect-reply = 421 4.7.1 loaded"
mapfile -t RS < <(raw_smtp "EHLO raw.test" QUIT)
is "${RS[*]}" "421 4.7.0 mx.sinkd.test closing connection <closed> <closed>" \
	"connect-reply 421: Sendmail sends 421 4.7.0 instead of a greeting and closes (the code is honoured)"
write_conf "$R/sk-unix" "unix:$UNIX_SOCK"
reload_sinkd
ok $? "SIGHUP: connect-deny removed"
mapfile -t RS < <(raw_smtp QUIT)
like "${RS[0]}" '^220 mx\.sinkd\.test ESMTP ' "without connect-deny the greeting is 220 again"
settle
is "$(nmsg conn@example.org c-deny)" "0" "connect-deny: nothing delivered"

# ---------------------------------------------------------------- D
diag "D: sinkd down (F=T)"
settle
N_BEFORE=$(ndelivered)
sk_stop
ok $? "sinkd stops on SIGTERM"
send d-down --from good@example.net --to down@example.org
like "$(smtp_reply "$OUT" BANNER)" '^220 ' "sinkd down: the greeting is still 220"
is "$(smtp_reply "$OUT" "MAIL FROM")" "451 4.3.2 Please try again later" \
	"sinkd down: MAIL FROM gets 451 4.3.2 (F=T)"
sleep 1
settle
is "$(ndelivered)" "$N_BEFORE" "sinkd down: nothing delivered"
is "$(find "$SM_DIR/queue" -type f | wc -l)" "0" "sinkd down: nothing queued"
start_sinkd
ok $? "sinkd starts again"
send d-up --from good@example.net --to down@example.org
QID=$(queue_id "$OUT")
like "$QID" '^[0-9A-Za-z]{12,}$' "sinkd up: the message is accepted"
wait_msg down@example.org d-up
ok $? "sinkd up: the message is delivered"
is "$(header "$(msg down@example.org d-up)" X-Sinkd-Test)" "client=127.0.0.1 qid=$QID name=$(sm_client_name)" \
	"it passed through sinkd (X-Sinkd-Test added)"
is "$(nmsg down@example.org d-down)" "0" "the message refused while sinkd was down never arrives"

# ---------------------------------------------------------------- I
sm_stop
sk_stop
MPORT=$(sm_free_port)
diag "I: inet:$MPORT@127.0.0.1"
write_conf "$R/sk-inet" "inet:$MPORT@127.0.0.1"
start_sinkd
require $? "sinkd starts on inet:$MPORT@127.0.0.1"
SM_PORT_I=$(sm_free_port)
sm_setup "$R/sm-inet" "$SM_PORT_I" "inet:$MPORT@127.0.0.1"
require $? "sm_setup with S=inet:$MPORT@127.0.0.1"
is "$(grep '^Xsinkd' "$SM_CF")" "Xsinkd, S=inet:$MPORT@127.0.0.1, F=T, T=C:10s;S:30s;R:30s;E:5m" \
	"sendmail.cf has the filter on the inet socket, F=T"
SM_NO_MOUNT_NS=1 sm_start
require $? "Sendmail starts on port $SM_PORT_I without a mount namespace"
is "$SM_NS" "$(unshare --uts true 2>/dev/null && echo uts || echo none)" \
	"SM_NO_MOUNT_NS=1: no mount namespace for this instance (SM_NS=$SM_NS)"
is "$(sm_etc_state)" "$ETC_BEFORE" \
	"without a mount namespace the machine's /etc/hosts and /etc/nsswitch.conf are untouched and not mounted over"
core_checks "inet"

sm_stop
is "$(sm_etc_state)" "$ETC_BEFORE" \
	"after both paths the machine's /etc/hosts and /etc/nsswitch.conf are as they were"

# every sinkd run of this test, for sanitizer builds (make sanitize): LSan
# reports at exit, so sinkd is stopped first
sk_stop
ok $? "sinkd (inet) stops on SIGTERM"
BAD=$(grep -lE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' "$R"/sk-*/sinkd.log* 2>/dev/null)
is "$BAD" "" "no sanitizer report or panic in any sinkd log"
[ -z "$BAD" ] || diag "$(grep -h -E -A20 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' $BAD | head -60)"

done_testing
