#!/bin/bash
# e2e-lists-sendmail.t - a post to a list of 20,000 members through a real
# Sendmail
#
# The Sendmail counterpart of e2e-lists-large.t: a private Sendmail 8.17
# (Debian's packages, unpacked, t/lib/sendmail.sh) on loopback whose milter
# is the real sinkd with the chain protocol, sink:lists and an SQLite store
# of the test's own.  The list is filled with sinkd-list from standard
# input; a member's post is expanded in its one transaction to every member
# (smfi_delrcpt of the list's address, one smfi_addrcpt a member,
# smfi_chgfrom to LIST-bounces@).
#
# Sendmail delivers nothing: DeliveryMode=q and no queue runner
# (SM_CF_OPTIONS, SM_NO_QUEUE_RUNS), so that what is checked is what
# Sendmail took from the milter, in its queue file (qf: R lines are the
# recipients, S the sender): the 250 at the end of DATA, N recipients,
# each member once and nobody else, the list's address gone, the sender
# LIST-bounces@, sinkd's log line counting the members, and still nothing
# delivered after it.
#
# The instance runs with MaxRecipientsPerMessage=100: the 101st RCPT TO of
# a session is refused (452 4.5.3), the 20,000 recipients the milter adds
# are not - Sendmail counts RCPT commands (srvrsmtp.c), not recipients
# added at the end of the message.
#
# The time Sendmail takes from the end of DATA to its 250 is printed (a
# diag, not a check); the budget that matters is the filter's E: timeout
# (5 minutes here and by Sendmail's default), which the whole expansion
# must fit in.  E2E_LISTS_N sets another number of members (by hand, for
# measuring; swaks waits up to 600 s for the reply).
#
# Everything (Sendmail's queue, sinkd's socket, the store) lives under a
# fresh /run/sinkd-e2e-lists-sm.XXXXXX (Sendmail refuses a queue or a
# milter socket below a group- or world-writable directory such as /tmp);
# the machine's /etc/hosts and /etc/nsswitch.conf must come out as they
# were.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/tap.sh
. "$TOP/t/lib/tap.sh"
# shellcheck source=lib/mail.sh
. "$TOP/t/lib/mail.sh"
# shellcheck source=lib/sendmail.sh
. "$TOP/t/lib/sendmail.sh"
# shellcheck source=lib/sinkd.sh
. "$TOP/t/lib/sinkd.sh"

N=${E2E_LISTS_N:-20000}
LIST=big@example.org
POSTER=m00001@members.example
MAXRCPT=100

[ "$(id -u)" -eq 0 ] || bail_out "needs root (a private Sendmail instance); run it through ./bootstrap test"
for cmd in swaks unshare setsid; do
	command -v "$cmd" >/dev/null 2>&1 || bail_out "$cmd is not installed (./bootstrap test installs it)"
done
[ -x "$SINKD" ] || bail_out "$SINKD is not built (run make)"
[ -f "$TOP/lists/lists.so" ] || bail_out "$TOP/lists/lists.so is not built (run make)"
case $N in '' | *[!0-9]* | 0*) bail_out "E2E_LISTS_N must be a positive number, got '$N'" ;; esac
[ "$N" -le 99999 ] || bail_out "E2E_LISTS_N: at most 99999 (member names are m%05d)"

ETC_BEFORE=$(sm_etc_state)

T_START=$(date +%s)
R=$(mktemp -d /run/sinkd-e2e-lists-sm.XXXXXX) || bail_out "cannot create a directory under /run"
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
	diag "e2e-lists-sendmail: $(($(date +%s) - T_START)) s"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# require STATUS DESCRIPTION: a setup step; when it failed, the evidence
# and stop (the steps after it would only fail for the same reason)
require() {
	ok "$1" "$2"
	[ "$1" -eq 0 ] && return 0
	[ -n "${SM_DIR:-}" ] && sm_diag
	[ -n "${SK_DIR:-}" ] && [ -f "$SK_DIR/sinkd.log" ] && diag "sinkd log:" "$(tail -n 40 "$SK_DIR/sinkd.log")"
	done_testing
}

# ---------------------------------------------------------------- setup

# (not in $(...): it sets SM_BIN and friends)
sm_fetch "$TOP/t/work/sendmail-debs"
require $? "Sendmail is downloaded and unpacked (sm_fetch)"

SOCK=$R/sk/sinkd.sock
mkdir -p "$R/store"
chown postfix "$R/store"
sk_init "$R/sk" "unix:$SOCK"
SM_PORT=$(sm_free_port)
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:lists/' "$R/sk/conf/sinkd.conf"
sk_conf "state-dir = $R/sk/state" \
	'[sink:lists]' "module = $TOP/lists/lists.so" "store = sqlite:$R/store/lists.db" \
	"submit = 127.0.0.1:$SM_PORT"
sk_start
require $? "sinkd starts on unix:$SOCK (chain = protocol, sink:lists)"

SM_CF_OPTIONS="DeliveryMode=q
MaxRecipientsPerMessage=$MAXRCPT" sm_setup "$R/sm" "$SM_PORT" "unix:$SOCK"
require $? "sm_setup with S=unix:$SOCK"
is "$(sed -n '/^# SM_CF_OPTIONS/,$p' "$SM_CF" | grep '^O ')" \
	"O DeliveryMode=q
O MaxRecipientsPerMessage=$MAXRCPT" \
	"sendmail.cf ends with DeliveryMode=q and MaxRecipientsPerMessage=$MAXRCPT"
is "$(grep '^Xsinkd' "$SM_CF")" "Xsinkd, S=unix:$SOCK, F=T, T=C:10s;S:30s;R:30s;E:5m" \
	"sendmail.cf has sinkd as its filter, F=T, E:5m"
SM_NO_QUEUE_RUNS=1 sm_start
require $? "Sendmail starts on port $SM_PORT"
SM_PID=$(head -n 1 "$SM_DIR/daemon.pid")
unlike "$(tr '\0' ' ' <"/proc/$SM_PID/cmdline")" ' -q' "the daemon runs no queue (no -q: SM_NO_QUEUE_RUNS)"

# (a function: the checkout's path may hold a space)
L() { "$TOP/tools/sinkd-list" -c "$R/sk/conf/sinkd.conf" "$@"; }
L create "$LIST" >/dev/null
ok $? "a list, $LIST"
seq -f 'm%05g@members.example' 1 "$N" >"$R/members"
is "$(L add "$LIST" - <"$R/members")" "$LIST: $N added" \
	"sinkd-list add reads $N members from standard input"
is "$(L members "$LIST" | wc -l)" "$N" "  all of them are members"

# ---------------------------------------------------------------- RCPT limit

# MaxRecipientsPerMessage is in force for RCPT TO (the session goes no
# further than RCPT: nothing is queued)
TO=$(seq -f 'r%03g@example.net' 1 $((MAXRCPT + 1)) | paste -sd,)
OUT=$(sm_swaks --from "$POSTER" --to "$TO" --quit-after RCPT)
is "$(smtp_reply "$OUT" "RCPT TO:<r$(printf %03d $MAXRCPT)@example.net>")" \
	"250 2.1.5 <r$(printf %03d $MAXRCPT)@example.net>... Recipient ok" \
	"MaxRecipientsPerMessage=$MAXRCPT: RCPT TO number $MAXRCPT is accepted"
is "$(smtp_reply "$OUT" "RCPT TO:<r$(printf %03d $((MAXRCPT + 1)))@example.net>")" \
	"452 4.5.3 Too many recipients" \
	"  number $((MAXRCPT + 1)) gets 452 4.5.3 Too many recipients"

# ---------------------------------------------------------------- the post

OUT=$(sm_swaks --timeout 600 --show-time-lapse --from "$POSTER" --to "$LIST" \
	--header 'Subject: to all' --body 'Hello.')
reply=$(smtp_reply "$OUT" .)
like "$reply" '^250 2\.0\.0 [0-9A-Za-z]+ Message accepted for delivery' \
	"a member's post to $N members is accepted (250 at the end of DATA)"
[[ $reply == 250* ]] || diag "$OUT" "sinkd log:" "$(tail -n 20 "$SK_DIR/sinkd.log")"
# swaks's time lapse: "=== response in 12.345s" after the 250 (Time::HiRes)
LAPSE=$(printf '%s\n' "$OUT" | awk '
	/^ -> \.$/ { dot = 1; next }
	dot && /response in/ { for (i = 1; i <= NF; i++) if ($i ~ /s$/ && $(i - 1) == "in") print $i; exit }')
diag "Sendmail took the $N recipients from the milter in ${LAPSE:-?} (the end of DATA to its 250)"
QID=$(printf '%s\n' "$reply" | sed -n 's/^250 2\.0\.0 \([0-9A-Za-z]*\) Message accepted.*/\1/p')
like "$QID" '^[0-9A-Za-z]{12,}$' "  Sendmail names its queue file ($QID)"

QF=$SM_DIR/queue/qf$QID
[ -f "$QF" ]
ok $? "the message is in the queue (qf$QID), not delivered"
# R<flags>:<address>, one line a recipient (each with its r line, the
# original recipient for DSNs); the file holds control characters (H??)
LC_ALL=C sed -n 's/^R[^:]*:<\(.*\)>$/\1/p' "$QF" | sort >"$R/rcpts"
is "$(wc -l <"$R/rcpts")" "$N" "the queue file holds $N recipients (R lines)"
cmp -s "$R/rcpts" <(sort "$R/members")
ok $? "  every member once, and nobody else"
is "$(grep -ciF "$LIST" "$R/rcpts")" 0 "  the list's own address is gone"
is "$(LC_ALL=C sed -n 's/^S//p' "$QF")" "<big-bounces@example.org>" "  the sender (S) is LIST-bounces@"
like "$(grep "$QID: from=" "$SK_DIR/sinkd.log")" "sink\\.lists\\.members=$N( |\$)" \
	"sinkd's log line under Sendmail's queue id counts the members"

# nothing goes out: no queue run, no delivery
sleep 2
is "$(find "$SM_DIR/mail" -type f | wc -l)/$(find "$SM_DIR/queue" -name 'qf*' | wc -l)" "0/1" \
	"2 s later nothing is delivered and the queue file is still there"

# ---------------------------------------------------------------- the end
sm_stop
ok $? "Sendmail stops"
is "$(sm_etc_state)" "$ETC_BEFORE" \
	"the machine's /etc/hosts and /etc/nsswitch.conf are untouched and not mounted over (SM_NS=$SM_NS)"
sk_stop
ok $? "sinkd stops on SIGTERM"
sk_log_clean
ok $? "no sanitizer report or panic in sinkd's log"

done_testing
