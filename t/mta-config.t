#!/bin/bash
# mta-config.t - the lines sinkd logs at start for Postfix's main.cf, for
# what a real postconf(1) says of a test Postfix instance (MAIL_CONFIG, as
# an administrator would point it at another config directory):
#
#   A  smtpd and cleanup unchrooted: the socket's absolute path
#   B  smtpd and cleanup chrooted, the socket outside the queue directory:
#      a warning that they cannot reach it, and what to do
#   C  the same Postfix, the socket in its queue directory: named relative
#      to it; then that Postfix, chrooted, is given that line and mail
#      goes through sinkd both over SMTP (smtpd) and by local submission
#      (cleanup)
#   N  no answer from postconf (no main.cf there): both cases, each
#      introduced by when it applies
#   L  (README) a list address made to exist for Postfix as a virtual
#      alias of the postmaster: its members get the message, the
#      postmaster nothing
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

command -v postconf >/dev/null || bail_out "postconf is missing (./bootstrap test installs postfix)"
e2e_workdir mta-config

# lines CONFIG-DIR SOCKET: start sinkd on SOCKET with MAIL_CONFIG=CONFIG-DIR
# and set out to what it logged about Postfix (the time stamps and pid cut
# off); sinkd stays up
lines() {
	sk_stop
	rm -rf "$W/sk"
	sk_init "$W/sk" "$2"
	sk_conf '[protocol]' 'add-headers = X-Sinkd-Seen: yes' 'deny-senders = bad@example.net'
	mkdir -p "$W/sk/conf/lists"
	printf '[lists]\nstaff@example.com = alice@example.com, bob@example.com\n' \
		>"$W/sk/conf/lists/example.com.lists"
	printf '[protocol]\nlist-file = lists/example.com.lists\n' >"$W/sk/conf/domains/example.com.conf"
	MAIL_CONFIG=$1 sk_start || bail_out "sinkd did not start"
	out=$(grep -oE '(warning: Postfix|Postfix[ :]).*' "$W/sk/sinkd.log")
}

# --- A: unchrooted
PA=$(pf_free_port)
mkdir -p "$W/a"
pf_setup "$W/a" "$PA" || bail_out "pf_setup a"
lines "$W/a/etc" "unix:$W/s.sock"
is "$out" "Postfix main.cf: smtpd_milters = unix:$W/s.sock
Postfix main.cf: non_smtpd_milters = unix:$W/s.sock
Postfix main.cf: milter_default_action = tempfail
Postfix main.cf: milter_protocol = 6" "A: unchrooted Postfix: the socket's own path, nothing more"

# --- L: that Postfix, with the list address as a virtual alias
printf 'staff@example.com postmaster@example.com\n' >"$W/a/etc/valias"
postmap -c "$W/a/etc" "$W/a/etc/valias" && pf_postconf -e "virtual_alias_maps = hash:$W/a/etc/valias" \
	"smtpd_milters = unix:$W/s.sock" "non_smtpd_milters = unix:$W/s.sock" ||
	bail_out "cannot set up the alias"
pf_start || bail_out "Postfix a did not start"
out=$(pf_swaks --from x@example.net --to staff@example.com)
like "$(smtp_reply "$out" "RCPT TO")" "^250 " "L: Postfix accepts the list address (a virtual alias)"
pf_wait_delivered alice@example.com 1 && pf_wait_delivered bob@example.com 1
ok $? "L: the list's members get the message"
pf_wait_queue_empty
is "$(pf_delivered_count postmaster@example.com)/$(pf_delivered_count staff@example.com)" "0/0" \
	"L: neither the postmaster (the alias) nor the list address gets it"
pf_stop

# --- B: smtpd and cleanup chrooted (as Debian's master.cf has them)
PB=$(pf_free_port)
mkdir -p "$W/b"
pf_setup "$W/b" "$PB" || bail_out "pf_setup b"
sed -i -E 's/^(127\.0\.0\.1:[0-9]+ +inet +n +- +)n /\1y /; s/^(cleanup +unix +n +- +)n /\1y /' "$W/b/etc/master.cf"
is "$(postconf -c "$W/b/etc" -M | awk '$8 == "smtpd" || $8 == "cleanup" { print $5 }' | tr '\n' ' ')" "y y " \
	"B: the instance's smtpd and cleanup run chrooted"
Q=$W/b/queue
lines "$W/b/etc" "unix:$W/s.sock"
like "$out" "^warning: Postfix's 127\\.0\\.0\\.1:$PB/inet, cleanup/unix run chrooted in $Q and cannot reach $W/s\\.sock: set socket = unix:$Q/sinkd/s\\.sock in sinkd\\.conf \\(then smtpd_milters = unix:sinkd/s\\.sock\\), or their chroot column in master\\.cf to n" \
	"B: chrooted, socket outside the queue directory: a warning naming the services, the fix and the line"
like "$(sk_log)" "sinkd(\\[[0-9]+\\])?: warning: Postfix's " "B: logged as a warning"

# --- C: the socket in that queue directory
lines "$W/b/etc" "unix:$Q/sinkd/sinkd.sock"
is "$(printf '%s\n' "$out" | grep '_milters = ')" "Postfix main.cf: smtpd_milters = unix:sinkd/sinkd.sock
Postfix main.cf: non_smtpd_milters = unix:sinkd/sinkd.sock" \
	"C: socket in the queue directory: named relative to it"
unlike "$out" "warning" "C: no warning"
like "$out" "in queue_directory $Q: named relative to it, for chrooted \\(127\\.0\\.0\\.1:$PB/inet, cleanup/unix\\)" \
	"C: and why"
v=$(printf '%s\n' "$out" | sed -n 's/^Postfix main.cf: smtpd_milters = //p')
pf_postconf -e "smtpd_milters = $v" "non_smtpd_milters = $v"
pf_start || bail_out "the chrooted Postfix did not start"
out=$(pf_swaks --from bad@example.net --to c@example.org)
is "$(smtp_reply "$out" "MAIL FROM")" "550 5.7.1 Sender address rejected" \
	"C: the chrooted smtpd reaches sinkd by the line given (deny-senders)"
out=$(pf_swaks --from good@example.net --to c@example.org --header "Subject: smtp")
pf_wait_delivered c@example.org 1
ok $? "C: a message over SMTP is delivered"
is "$(header "$(pf_last_message c@example.org)" X-Sinkd-Seen)" "yes" "C: through sinkd"
printf 'From: good@example.net\nTo: d@example.org\nSubject: local\n\nbody\n' |
	pf_sendmail -f good@example.net d@example.org
pf_wait_delivered d@example.org 1
ok $? "C: a local submission is delivered"
is "$(header "$(pf_last_message d@example.org)" X-Sinkd-Seen)" "yes" \
	"C: through sinkd, reached by the chrooted cleanup (non_smtpd_milters)"
pf_stop

# --- N: postconf gives no answer
mkdir -p "$W/none"
lines "$W/none" "unix:$W/s.sock"
is "$out" "Postfix: no answer from postconf; where smtpd and cleanup run unchrooted (chroot column n in master.cf):
Postfix main.cf: smtpd_milters = unix:$W/s.sock
Postfix main.cf: non_smtpd_milters = unix:$W/s.sock
Postfix: where they run chrooted in the queue directory (Debian's master.cf), $W/s.sock is out of their sight: set socket = unix:/var/spool/postfix/sinkd/s.sock in sinkd.conf, then:
Postfix main.cf: smtpd_milters = unix:sinkd/s.sock
Postfix main.cf: non_smtpd_milters = unix:sinkd/s.sock
Postfix main.cf: milter_default_action = tempfail
Postfix main.cf: milter_protocol = 6" "N: no answer from postconf: both cases, each with when it applies"
like "$(sk_log)" "Sendmail \\.mc: INPUT_MAIL_FILTER\\(\`sinkd', \`S=unix:$W/s\\.sock, F=T" "N: and the Sendmail line"

sk_stop
ok $? "sinkd stops"
sk_log_clean
ok $? "no sanitizer report"
done_testing
