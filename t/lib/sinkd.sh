# sinkd.sh - start and stop a real sinkd for end-to-end tests
#
# Source it after tap.sh, then:
#
#   sk_init DIR SOCKET        write DIR/conf/sinkd.conf (socket, user postfix,
#                             spool in DIR/spool, pid file in DIR/run) and an empty domains dir;
#                             append [protocol] keys with sk_conf, add
#                             DIR/conf/domains/<domain>.conf files yourself
#   sk_conf LINE...           append lines to DIR/conf/sinkd.conf
#   sk_start                  start src/sinkd -f on it and wait until the
#                             socket answers; its log goes to DIR/sinkd.log.
#                             A [clamav] group without tmpdir gets
#                             tmpdir = DIR/tmp (made by sinkd), here and at
#                             sk_hup/sk_reload: never the machine's
#                             /run/sinkd/tmp
#   sk_stop                   SIGTERM, wait until gone
#   sk_kill                   SIGKILL (no cleanup at all)
#   sk_hup                    SIGHUP (reload)
#   sk_reload                 SIGHUP, and wait until the reload is logged
#   sk_pid                    the running daemon's pid
#   sk_log                    print DIR/sinkd.log
#   sk_log_clean              true when the log holds no sanitizer report
#                             (ASan, LSan, UBSan) and no panic
#
# The daemon runs as the postfix user, which can reach a unix socket under
# DIR (DIR must be traversable: chmod o+x).  SINKD overrides the binary.

SK_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SINKD=${SINKD:-$SK_TOP/src/sinkd}
SK_DIR=
SK_SOCKET=
SK_PID=

sk_init() {
	SK_DIR=$1
	SK_SOCKET=$2
	mkdir -p "$SK_DIR/conf/domains" "$SK_DIR/spool" "$SK_DIR/run"
	chmod o+x "$SK_DIR"
	chown postfix "$SK_DIR/run"	# sinkd removes its pid file at exit
	cat > "$SK_DIR/conf/sinkd.conf" <<CONF
[sinkd]
socket = $SK_SOCKET
pid-file = $SK_DIR/run/sinkd.pid
user = postfix
group = postfix
spool-dir = $SK_DIR/spool
internal-hosts = 10.255.0.0/16
shutdown-timeout = 5s
CONF
}

sk_conf() { printf '%s\n' "$@" >> "$SK_DIR/conf/sinkd.conf"; }

# _sk_tmpdir: tmpdir = DIR/tmp in a [clamav] group that sets none, so
# that libclamav's default (/run/sinkd/tmp) is never the machine's
_sk_tmpdir() {
	local f=$SK_DIR/conf/sinkd.conf
	grep -q '^\[clamav\]' "$f" || return 0
	awk -v dir="$SK_DIR/tmp" '
		/^\[/ { if (in_av && !seen) print "tmpdir = " dir; in_av = ($0 == "[clamav]"); seen = 0 }
		in_av && /^[ \t]*tmpdir[ \t]*=/ { seen = 1 }
		{ print }
		END { if (in_av && !seen) print "tmpdir = " dir }' "$f" >"$f.new" && cat "$f.new" >"$f"
	rm -f "$f.new"
}

# _sk_socket_up: the socket accepts connections
_sk_socket_up() {
	case $SK_SOCKET in
	unix:*|local:*)
		[ -S "${SK_SOCKET#*:}" ] ;;
	*)
		local port=${SK_SOCKET#inet:} host=127.0.0.1
		case $port in
		*@*) host=${port#*@}; port=${port%@*} ;;
		*:*) host=${port%:*}; port=${port##*:} ;;
		esac
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null ;;
	esac
}

sk_start() {
	local i n c
	# the log is appended to: wait for this start's line, not an earlier
	# one (after sk_kill, the dead sinkd's socket file is still there)
	n=$(grep -c 'ready on' "$SK_DIR/sinkd.log" 2>/dev/null)
	_sk_tmpdir
	"$SINKD" -f -c "$SK_DIR/conf/sinkd.conf" >>"$SK_DIR/sinkd.log" 2>&1 </dev/null &
	SK_PID=$!
	for i in $(seq 1 100); do
		# the log may not be there yet: the shell makes it as it starts
		c=$(grep -c 'ready on' "$SK_DIR/sinkd.log" 2>/dev/null)
		if [ "${c:-0}" -gt "${n:-0}" ] && _sk_socket_up; then
			return 0
		fi
		if ! kill -0 "$SK_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	diag "sinkd did not start:" "$(cat "$SK_DIR/sinkd.log")"
	return 1
}

sk_pid() { echo "$SK_PID"; }

_sk_wait_gone() {
	local i
	for i in $(seq 1 150); do
		kill -0 "$SK_PID" 2>/dev/null || { wait "$SK_PID" 2>/dev/null; SK_PID=; return 0; }
		sleep 0.1
	done
	diag "sinkd $SK_PID did not stop"
	return 1
}

sk_stop() {
	[ -n "$SK_PID" ] || return 0
	kill -TERM "$SK_PID" 2>/dev/null
	_sk_wait_gone
}

sk_kill() {
	[ -n "$SK_PID" ] || return 0
	kill -KILL "$SK_PID" 2>/dev/null
	_sk_wait_gone
}

sk_hup() { _sk_tmpdir; kill -HUP "$SK_PID"; }

# sk_reload: SIGHUP, and wait until the reload is logged
sk_reload() {
	local n i
	n=$(grep -c 'configuration reloaded' "$SK_DIR/sinkd.log")
	sk_hup
	for i in $(seq 1 100); do
		[ "$(grep -c 'configuration reloaded' "$SK_DIR/sinkd.log")" -gt "$n" ] && return 0
		sleep 0.1
	done
	return 1
}

sk_log() { cat "$SK_DIR/sinkd.log"; }

sk_log_clean() {
	if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' "$SK_DIR/sinkd.log" 2>/dev/null; then
		diag "$(grep -E -A20 'ERROR: [A-Za-z]+Sanitizer|runtime error:|panic:' "$SK_DIR/sinkd.log" | head -60)"
		return 1
	fi
}
