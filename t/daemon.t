#!/bin/bash
# daemon.t - daemon life: directories, one instance per socket, logs
#
# Every path is under the test's own directory (R stands for /): the
# default layout of sinkd.conf(5) rebuilt there, with a umask of 077 as
# systemd's UMask= gives.  Checked:
#  - missing directories are made so that the user (postfix) can use
#    them: parents 0755, spool and quarantine 0700 the user's; one the
#    user cannot write to is refused at start and at reload, naming the
#    path, what stops the user and a fix;
#  - a second sinkd on the same pid file, or on the same socket with
#    another pid file, refuses naming the pid; the first goes on serving,
#    its socket untouched; a stopping sinkd removes its own socket and pid
#    file; a dead one's socket (kill -9) is replaced;
#  - log-file lines and stderr lines carry a time stamp and sinkd[PID];
#    SIGUSR1 opens the log file again after a rename; syslog-facility
#    sets the facility of the datagrams sent to syslog-socket (a socket of
#    the test's own); a daemon with nowhere to log refuses to detach;
#  - socket errors name the path and the system's reason; a missing user
#    is fatal;
#  - etc/sinkd.service lets sinkd write every directory it writes to by
#    default, and sinkd starts with only the unit's capabilities in the
#    directories the unit makes (setpriv's bounding set).
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/sinkd.sh"
. "$TOP/t/lib/clamav.sh"

command -v sigtool >/dev/null || bail_out "sigtool (package clamav) is needed"
e2e_workdir daemon
chmod o+x "$W"
SEQ=$TOP/t/lib/milterseq.py
R=$W/root
STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}'
OTHERS=()

# cleanup: the test's own daemons (by pid) are stopped before W goes
others_stop() {
	local p
	for p in "${OTHERS[@]}"; do kill -KILL "$p" 2>/dev/null; done
}
trap 'others_stop; _e2e_cleanup' EXIT

mkdir -p "$R/var/lib" "$R/var/log" "$R/sk/conf/domains"
chmod -R 755 "$R"
av_db "$W/db" || bail_out "cannot build the test signature database"
CONF=$R/sk/conf/sinkd.conf
SOCK=$R/run/sinkd/sinkd.sock
PIDF=$R/run/sinkd/sinkd.pid
LOG=$R/var/log/sinkd/sinkd.log

# conf [LINE...]: the default layout under R (spool-dir and tmpdir in
# the socket's directory, as /run/sinkd), then the lines given
conf() {
	cat >"$CONF" <<EOF
[sinkd]
socket = unix:$SOCK
pid-file = $PIDF
user = postfix
group = postfix
spool-dir = $R/run/sinkd/spool
log-file = $LOG
shutdown-timeout = 5s
chain = protocol, clamav
$(printf '%s\n' "$@")
[clamav]
database = $W/db
tmpdir = $R/run/sinkd/tmp
watch-interval = 0
quarantine-dir = ${QDIR:-$R/var/lib/sinkd/quarantine}
EOF
}

# serving SOCKET: a well-formed message through it is accepted
serving() {
	python3 "$SEQ" run "unix:$1" good 2>/dev/null | grep -q '^last=c'
}

# wait_for FILE REGEX: up to 10 s for a line in FILE
wait_for() {
	local i
	for i in $(seq 1 100); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- directories
SK_DIR=$R/sk
SK_SOCKET=unix:$SOCK
mkdir -p "$SK_DIR"
conf
umask 077
sk_start || bail_out "sinkd did not start: $(cat "$SK_DIR/sinkd.log")"
umask 022
PID=$(sk_pid)
perm() { stat -c '%a %U' "$1"; }
is "$(perm "$R/var/lib/sinkd")" "755 root" "a parent made for quarantine-dir: 0755 root's, umask 077 or not"
is "$(perm "$R/var/lib/sinkd/quarantine")" "700 postfix" "quarantine-dir: 0700, the user's"
is "$(perm "$R/run/sinkd/spool")" "700 postfix" "spool-dir (the default's layout): 0700, the user's"
is "$(perm "$R/run/sinkd/tmp")" "700 postfix" "clamav's tmpdir (the default's layout), made: 0700, the user's"
is "$(perm "$R/run/sinkd")" "750 postfix" "the socket's directory: 0750, the user's"
is "$(perm "$R/var/log/sinkd")" "755 postfix" "log-file's directory: the user's"
like "$(perm "$LOG")" "^6[04]0 postfix\$" "the log file: the user's (opened again after the drop), not for others"
runuser -u postfix -- sh -c "touch '$R/var/lib/sinkd/quarantine/x' && rm '$R/var/lib/sinkd/quarantine/x'"
ok $? "the user can write to the quarantine directory made for it"
is "$(cat "$PIDF" 2>/dev/null)" "$PID" "the pid file holds the daemon's pid"
serving "$SOCK"; ok $? "sinkd serves on its socket"

# ---------------------------------------------------------------- logs
line=$(grep 'ready on' "$LOG")
like "$line" "^$STAMP sinkd\\[$PID\\]: sinkd .* ready on unix:$SOCK" "log-file lines: ISO 8601 time, sinkd[PID]"
like "$(grep 'ready on' "$SK_DIR/sinkd.log")" "^$STAMP sinkd\\[$PID\\]: " "stderr lines too, in the foreground"
mv "$LOG" "$LOG.1"
n=$(wc -l <"$LOG.1")
kill -USR1 "$PID"
wait_for "$LOG" 'log-file .* opened again'; ok $? "SIGUSR1: the log file is opened again after a rename"
like "$(perm "$LOG")" "^6[04]0 postfix\$" "the new log file is made by the user"
serving "$SOCK"
wait_for "$LOG" 'verdict=accept'; ok $? "lines after SIGUSR1 go to the new file"
is "$(wc -l <"$LOG.1")" "$n" "and none to the renamed one"

# ---------------------------------------------------------------- one instance
INODE=$(stat -c %i "$SOCK")
timeout 20 "$SINKD" -f -c "$CONF" >"$W/second.out" 2>&1 </dev/null
is "$?" 1 "a second sinkd on the same pid file exits 1"
like "$(cat "$W/second.out")" "fatal: pid-file $PIDF: sinkd is already running as pid $PID" \
	"it says which pid runs"
cp "$CONF" "$W/other.conf"
sed -i "s#^pid-file = .*#pid-file = $W/other.pid#" "$W/other.conf"
timeout 20 "$SINKD" -f -c "$W/other.conf" >"$W/third.out" 2>&1 </dev/null
is "$?" 1 "another pid file on the same socket: exits 1 too"
like "$(cat "$W/third.out")" "fatal: socket $SOCK\\.lock: sinkd is already running as pid $PID" \
	"naming the socket's lock and the pid"
is "$(stat -c %i "$SOCK" 2>/dev/null)" "$INODE" "the first sinkd's socket is the same file"
serving "$SOCK"; ok $? "the first sinkd still serves"
is "$(cat "$PIDF" 2>/dev/null)" "$PID" "its pid file is untouched"

# reload with an unusable quarantine directory: refused, the old one kept
mkdir -m 700 "$W/closed"
QDIR=$W/closed/q conf
sk_hup
wait_for "$SK_DIR/sinkd.log" 'reload failed'
like "$(grep 'reload failed' "$SK_DIR/sinkd.log")" \
	"error: reload failed: quarantine-dir $W/closed/q: user postfix cannot write here \\(parent $W/closed is 0700 root:root\\)" \
	"a reload whose quarantine-dir the user cannot write to is refused, with the path and why"
serving "$SOCK"; ok $? "the running configuration goes on"
conf

sk_stop; ok $? "the first sinkd stops"
[ ! -e "$SOCK" ]; ok $? "it removed its own socket"
[ ! -e "$PIDF" ]; ok $? "and its pid file"

# a dead sinkd's socket is replaced
sk_start || bail_out "sinkd did not start again"
sk_kill
[ -S "$SOCK" ]; ok $? "kill -9 leaves the socket behind"
sk_start; ok $? "a new sinkd starts over a dead one's socket and pid file"
serving "$SOCK"; ok $? "and serves"
PID=$(sk_pid)
is "$(cat "$PIDF" 2>/dev/null)" "$PID" "its pid in the pid file"
sk_stop

# ---------------------------------------------------------------- refusals
# start_fails NAME: sinkd -f on CONF exits 1 at once; its output in W/NAME.out
start_fails() {
	timeout 20 "$SINKD" -f -c "$CONF" >"$W/$1.out" 2>&1 </dev/null
	is "$?" 1 "$2: sinkd exits 1"
}
QDIR=$W/closed/q conf
start_fails closed "quarantine-dir under a 0700 root directory"
like "$(cat "$W/closed.out")" \
	"fatal: quarantine-dir $W/closed/q: user postfix cannot write here \\(parent $W/closed is 0700 root:root\\): chmod o\\+x $W/closed or choose another directory" \
	"the message names the path, what stops the user and the fix"
mkdir -m 755 "$W/rootlog"
conf "log-file = $W/rootlog/sinkd.log"
sed -i "0,\#^log-file = $LOG\$#{\#^log-file = $LOG\$#d}" "$CONF"
start_fails rootlog "a log-file directory of root's"
like "$(cat "$W/rootlog.out")" \
	"fatal: log-file $W/rootlog: user postfix cannot write here \\(it is 0755 root:root\\): chown postfix $W/rootlog" \
	"the log file's directory is checked as the user"

# a socket directory of root's: sinkd runs, and says it leaves its socket
mkdir -m 755 "$W/rootsock"
conf
sed -i "s#^socket = .*#socket = unix:$W/rootsock/sinkd.sock#" "$CONF"
SK_SOCKET=unix:$W/rootsock/sinkd.sock
sk_start; ok $? "a socket directory the user cannot write to: sinkd starts"
like "$(sk_log)" "warning: socket $W/rootsock: user postfix cannot write here \\(it is 0755 root:root\\): chown postfix $W/rootsock or choose another directory; sinkd leaves its socket and pid file there at exit" \
	"and warns that it leaves its socket there"
serving "$W/rootsock/sinkd.sock"; ok $? "and serves"
sk_stop
like "$(sk_log)" "cannot remove socket $W/rootsock/sinkd.sock: Permission denied" "at exit the socket stays, as it said"
SK_SOCKET=unix:$SOCK

# a log file the user linked to another file is not given to the user
mkdir -m 755 "$W/hl" && chown postfix "$W/hl"
echo secret >"$W/victim" && chmod 600 "$W/victim"
ln "$W/victim" "$W/hl/sinkd.log"
conf "log-file = $W/hl/sinkd.log"
sed -i "0,\#^log-file = $LOG\$#{\#^log-file = $LOG\$#d}" "$CONF"
start_fails hardlink "a log file with another link"
like "$(cat "$W/hardlink.out")" "fatal: log-file $W/hl/sinkd\\.log: Too many links" "is refused"
is "$(stat -c '%U %a' "$W/victim")" "root 600" "and the other file keeps its owner and mode"

conf "user = nosuchuser-sinkd"
sed -i '0,/^user = postfix$/{/^user = postfix$/d}' "$CONF"
start_fails nouser "a user that does not exist"
like "$(cat "$W/nouser.out")" 'fatal: user: no such user "nosuchuser-sinkd"' "is fatal:"

LONG=$W/$(printf 'x%.0s' $(seq 1 120))
conf
sed -i "s#^socket = .*#socket = unix:$LONG.sock#" "$CONF"
start_fails longsock "a socket path too long for bind"
like "$(cat "$W/longsock.out")" "fatal: cannot open socket unix:$LONG\\.sock: [A-Z][a-z]" \
	"the socket's error names the path and the system's reason"

# nowhere to log: no log-file, a syslog socket that does not answer
conf "syslog-socket = $W/no-syslog"
sed -i "0,\#^log-file = #{\#^log-file = #d}" "$CONF"
timeout 20 "$SINKD" -c "$CONF" >"$W/nolog.out" 2>&1 </dev/null
is "$?" 1 "a daemon with nowhere to log exits 1"
like "$(cat "$W/nolog.out")" "fatal: nowhere to log once detached \\(syslog-socket $W/no-syslog: No such file or directory, and no log-file\\)" \
	"and says so on stderr before detaching"
[ ! -S "$SOCK" ]; ok $? "it opened no socket"

# syslog-facility: the datagrams on a syslog socket of the test's own
python3 - "$W/syslog.sock" "$W/syslog.out" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "ab", buffering=0) as out:
    s.settimeout(30)
    try:
        while True:
            out.write(s.recv(8192) + b"\n")
    except socket.timeout:
        pass
EOF
OTHERS+=($!)
for i in $(seq 1 50); do [ -S "$W/syslog.sock" ] && break; sleep 0.1; done
conf "syslog-socket = $W/syslog.sock" "syslog-facility = local3"
sed -i "0,\#^log-file = #{\#^log-file = #d}" "$CONF"
timeout 20 "$SINKD" -c "$CONF" >"$W/detached.out" 2>&1 </dev/null
is "$?" 0 "with a syslog socket, sinkd detaches"
wait_for "$W/syslog.out" 'ready on'; ok $? "its lines reach the syslog socket"
DPID=$(cat "$PIDF" 2>/dev/null)
OTHERS+=($DPID)
# local3 (19) * 8 + info (6) = 158
like "$(grep 'ready on' "$W/syslog.out")" "^<158>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} sinkd\\[$DPID\\]: sinkd .* ready on" \
	"syslog-facility = local3: priority 158 (local3.info), sinkd[PID]"
serving "$SOCK"; ok $? "the detached sinkd serves"
kill -TERM "$DPID"
for i in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$DPID" 2>/dev/null; is "$?" 1 "and stops on SIGTERM"
[ ! -e "$PIDF" ]; ok $? "removing its pid file"
conf "syslog-facility = mailx"
got=$("$SINKD" -n -c "$CONF" 2>&1)
like "$got" "syslog-facility: .*mailx" "an unknown syslog-facility is a configuration error"
conf "syslog-facility = local7"
is "$("$SINKD" -n -c "$CONF" 2>&1)" "configuration OK" "syslog-facility = local7 is accepted"

# standard error that is the journal: its level prefixes, no stamp of ours
conf "syslog-socket = $W/syslog.sock"
: >"$W/journal.out"
JOURNAL_STREAM=$(stat -c '%d:%i' "$W/journal.out") \
	"$SINKD" -f -c "$CONF" >>"$W/journal.out" 2>&1 </dev/null &
JPID=$!
OTHERS+=($JPID)
wait_for "$W/journal.out" 'ready on'; ok $? "under the journal, sinkd -f starts"
like "$(grep 'ready on' "$W/journal.out")" "^<6>sinkd .* ready on" \
	"stderr lines carry the journal's level prefix (<6>: info), no time stamp or pid"
kill -TERM "$JPID"
wait_for "$W/journal.out" 'stopped'
like "$(grep 'stopping on signal' "$W/journal.out")" "^<6>stopping on signal 15" "every line so"
wait "$JPID" 2>/dev/null

# ---------------------------------------------------------------- systemd unit
# every directory sinkd writes to by default is writable under the unit's
# sandbox: under StateDirectory, RuntimeDirectory, LogsDirectory or
# ReadWritePaths
UNIT=$TOP/etc/sinkd.service
writable=$(sed -n -e 's/^StateDirectory=/\/var\/lib\//p' -e 's/^RuntimeDirectory=/\/run\//p' \
	-e 's/^LogsDirectory=/\/var\/log\//p' -e 's/^ReadWritePaths=//p' "$UNIT" | tr ' ' '\n' | sed 's/^-//')
default() { "$SINKD" -d | sed -n "s/^$1 = \\([^	]*\\).*/\\1/p" | head -n 1; }
for key in spool-dir quarantine-dir socket pid-file; do
	v=$(default "$key")
	v=${v#unix:}
	case $key in socket|pid-file) v=$(dirname "$v") ;; esac
	covered=1
	for d in $writable; do
		case $v/ in "$d"/*) covered=0 ;; esac
	done
	ok "$covered" "sinkd.service: $key's default ($v) is writable under the sandbox"
done
like "$(grep -E '^(StateDirectoryMode|ExecStartPre=\+)' "$UNIT" | tr '\n' ' ')" 'StateDirectoryMode=0755' \
	"sinkd.service: the user can pass /var/lib/sinkd (quarantine-dir's parent)"
# systemd-analyze verify, where it runs here (it needs no systemd as PID 1)
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$W/unit"
	sed "s#/usr/local/sbin/sinkd#$SINKD#g" "$UNIT" >"$W/unit/sinkd.service"
	out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$W/unit/sinkd.service" 2>&1)
	unlike "$out" 'sinkd\.service:[0-9]+:|Unknown (key|section)|Failed to' \
		"systemd-analyze verify finds nothing wrong in sinkd.service"
	[ -n "$out" ] && diag "$out"
fi

# the unit's capabilities: systemd makes /run/sinkd (RuntimeDirectory,
# 0750) and /var/log/sinkd, ExecStartPre gives both to the user, and
# sinkd starts as root with only the unit's CapabilityBoundingSet; it
# must still make its socket, pid file, spool-dir, tmpdir and log file
# there before it drops to the user
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')
# (dropping from the bounding set takes CAP_SETPCAP, which a container
# may not give)
if ! why=$(setpriv --bounding-set=-all,"$caps" true 2>&1); then
	skip 3 "setpriv cannot drop capabilities from the bounding set here: ${why:-exit status $?}"
else
	rm -rf "$R/run/sinkd" "$R/var/log/sinkd"
	mkdir -m 0750 "$R/run/sinkd"
	mkdir -m 0755 "$R/var/log/sinkd"
	chown postfix:postfix "$R/run/sinkd" "$R/var/log/sinkd"
	conf "syslog-socket = $W/syslog.sock"
	: >"$W/caps.out"
	setpriv --bounding-set=-all,"$caps" "$SINKD" -f -c "$CONF" >>"$W/caps.out" 2>&1 </dev/null &
	CPID=$!
	OTHERS+=($CPID)
	wait_for "$W/caps.out" 'ready on'
	rc=$?
	ok $rc "with only the unit's capabilities ($caps), in its directories: sinkd starts"
	[ $rc -eq 0 ] || diag "$(cat "$W/caps.out")"
	is "$(perm "$R/run/sinkd/spool"), $(perm "$R/run/sinkd/tmp"), $(stat -c %U "$LOG")" \
		"700 postfix, 700 postfix, postfix" "  spool-dir, tmpdir and the log file made, the user's"
	serving "$SOCK"; ok $? "  and serves"
	kill -TERM "$CPID"
	wait "$CPID" 2>/dev/null
fi

sk_log_clean; ok $? "no sanitizer report"
done_testing
