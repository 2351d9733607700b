#!/bin/bash
# status.t - sinkd -S: the running daemon's status through its control socket
#
# The real daemon (as postfix, t/lib/sinkd.sh) with the clamav handler on
# a dated test database and one domain file.  Checked: the socket beside
# the pid file, root's and the postfix group's, mode 0660; sinkd -S gives
# the version, the daemon's pid, its uptime, the configuration generation
# and files, the chain, the handlers, and the clamav section (backend,
# database version, build time, age over signatures-warn-age, signature
# count); a reload makes generation 2 and lists a new domain file; a
# member of sinkd's group may ask, another user (nobody) may not; an
# unknown request gets an error; a second daemon on the same control
# socket refuses to start; at exit the socket is removed, and sinkd -S
# then says why and exits 1; a stale socket file is replaced at the next
# start; control-socket = none makes no socket; a relative path is a
# configuration error at its line.
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
source lib/sinkd.sh
source lib/clamav.sh
[ "$(id -u)" -eq 0 ] || bail_out "needs root (the daemon runs as postfix)"
command -v setpriv >/dev/null || bail_out "setpriv (package util-linux) is needed"
W=$(workdir status) || bail_out "cannot make a work directory"
trap 'sk_stop; rm -rf "$W"' EXIT
# a copy others may run: the checkout may be under a home they cannot enter
install -m 755 "$SINKD" "$W/sinkd"

sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
CONF=$W/sk/conf/sinkd.conf
av_dated_db "$W/sk/db" 10 12345 || bail_out "cannot build a dated database"
chmod 755 "$W/sk/db"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, clamav/' "$CONF"
sk_conf "[clamav]" "database = $W/sk/db" "quarantine-dir = $W/sk/q" "watch-interval = 0"
printf '[clamav]\naction = tag\n' >"$W/sk/conf/domains/a.example.conf"
sk_start || bail_out "sinkd did not start"
for i in $(seq 1 100); do
	grep -q 'engine ready' "$SK_DIR/sinkd.log" && break
	sleep 0.1
done
CS=$W/sk/run/control.sock

[ -S "$CS" ]
ok $? "the control socket is made beside the pid file"
is "$(stat -c '%a %U %G' "$CS")" "660 root postfix" "root's and sinkd's group's, mode 0660"

OUT=$("$SINKD" -c "$CONF" -S 2>&1)
is "$?" 0 "sinkd -S: exit 0"
like "$OUT" '^version: sinkd [0-9]' "the version"
like "$OUT" $'\n'"pid: $(sk_pid)"$'\n' "the daemon's pid"
like "$OUT" $'\n''uptime: [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'$'\n' "the uptime"
like "$OUT" $'\n''started: [0-9-]+ [0-9:]+ UTC'$'\n' "when it started"
like "$OUT" $'\n''config-generation: 1'$'\n' "configuration generation 1"
like "$OUT" $'\n'"config-file: $CONF"$'\n' "the configuration file"
like "$OUT" $'\n'"config-file: $W/sk/conf/domains/a.example.conf"$'\n' "the domain file"
like "$OUT" $'\n''chain: protocol clamav'$'\n' "the chain"
like "$OUT" $'\n''handler clamav: in chain, on-error=tempfail'$'\n' "each handler"
like "$OUT" $'\n\\[clamav\\]\nbackend: embedded\nengine: ready\nclamav-version: [0-9.]+\ndatabase-version: 12345\n' \
	"the clamav section: backend, engine, versions"
like "$OUT" $'\n''database-built: [0-9-]+ [0-9:]+ UTC'$'\n' "the database's build time"
like "$OUT" $'\n''database-age: 10d00h \(over signatures-warn-age\)'$'\n' "its age, over signatures-warn-age"
like "$OUT" $'\n''signatures: 3($|'$'\n'')' "the signature count"

# a reload: generation 2, a new domain file
printf '[clamav]\naction = tag\n' >"$W/sk/conf/domains/b.example.conf"
sk_reload || bail_out "no reload"
OUT=$("$SINKD" -c "$CONF" -S 2>&1)
like "$OUT" $'\n''config-generation: 2'$'\n' "after a reload: generation 2"
like "$OUT" $'\n'"config-file: $W/sk/conf/domains/b.example.conf"$'\n' "... with the new domain file"
like "$OUT" $'\n''uptime: ' "... the same daemon"

# who may ask
OUT=$(setpriv --reuid=postfix --regid=postfix --init-groups "$W/sinkd" -c "$CONF" -S 2>&1)
is "$?" 0 "a member of sinkd's group may ask"
like "$OUT" '^version: sinkd' "... and gets the status"
OUT=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$W/sinkd" -c "$CONF" -S 2>&1)
is "$?" 1 "another user may not: exit 1"
like "$OUT" "^sinkd: cannot reach sinkd at $CS: Permission denied" "... saying why"

# one request per connection, known ones only
OUT=$(python3 - "$CS" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"restart\n")
print(s.makefile().read(), end="")
PY
)
is "$OUT" "error: unknown request (known: status)" "an unknown request: an error"

# a second daemon on the same control socket
mkdir -p "$W/sk2/run" "$W/sk2/spool"
chown postfix "$W/sk2/run"
sed -e "s#^socket = .*#socket = unix:$W/sk2/sinkd.sock#" -e "s#^pid-file = .*#pid-file = $W/sk2/run/sinkd.pid#" \
	"$CONF" >"$W/sk2/sinkd.conf"
sed -i "s#^\[sinkd\]\$#[sinkd]\ncontrol-socket = $CS#" "$W/sk2/sinkd.conf"
OUT=$("$SINKD" -f -c "$W/sk2/sinkd.conf" 2>&1 </dev/null)
is "$?" 1 "a second daemon on the same control socket refuses to start"
like "$OUT" "control-socket $CS: another sinkd answers there" "... and says why"
[ -S "$CS" ] && "$SINKD" -c "$CONF" -S >/dev/null 2>&1
ok $? "the first one still answers"

# at exit: removed; then sinkd -S says so
sk_stop
[ ! -e "$CS" ]
ok $? "at exit the control socket is removed"
OUT=$("$SINKD" -c "$CONF" -S 2>&1)
is "$?" 1 "no daemon: sinkd -S exits 1"
is "$OUT" "sinkd: cannot reach sinkd at $CS: No such file or directory (is sinkd running?)" "... saying why"

# a stale socket file is replaced
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$CS"
sk_start || bail_out "sinkd did not start over a stale socket"
"$SINKD" -c "$CONF" -S >/dev/null 2>&1
ok $? "a stale socket file is replaced at start"
sk_stop

# none; a relative path
sed -i "s#^\[sinkd\]\$#[sinkd]\ncontrol-socket = none#" "$CONF"
sk_start || bail_out "sinkd did not start"
[ ! -e "$CS" ]
ok $? "control-socket = none: no socket"
OUT=$("$SINKD" -c "$CONF" -S 2>&1)
is "$?" 1 "... and sinkd -S exits 1"
like "$OUT" '^sinkd: no control socket' "... saying why"
sk_stop
sed -i "s#^control-socket = none\$#control-socket = run/control.sock#" "$CONF"
OUT=$("$SINKD" -n -c "$CONF" 2>&1)
is "$?" 1 "a relative control-socket: a configuration error"
like "$OUT" "$CONF:2: control-socket: run/control.sock: not an absolute path" "... at its line"
sk_log_clean
ok $? "no sanitizer report in the daemon's log"

done_testing
