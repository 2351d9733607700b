# clamd.sh - start and stop real clamd servers for tests
#
# Source it after tap.sh, then:
#
#   cd_sigs DBDIR             build the test signature database in DBDIR:
#                             t/corpus/clamav/sigs/clamav.hdb (clam.exe:
#                             ClamAV-Test-File) and an MD5 signature of the
#                             68-byte EICAR file made with sigtool --md5
#                             (eicar.com); clamd reports both with
#                             .UNOFFICIAL appended.  Never freshclam.
#   cd_start DIR DBDIR [NAME [LINE...]]
#                             write DIR/NAME/clamd.conf (NAME defaults to
#                             clamd; LINEs are extra clamd.conf lines, as
#                             "StreamMaxLength 64K"), start clamd in the
#                             foreground as a background job and wait until
#                             its socket answers PING with PONG (30 s at
#                             most); on failure, diag its log and return 1
#   cd_stop NAME              SIGTERM, wait until gone
#   cd_kill NAME              SIGKILL, wait until gone
#   cd_socket NAME            the socket path (for a spec: unix:$(cd_socket N))
#   cd_log NAME               print its log
#   cd_stop_all               cd_stop every server started (for EXIT traps)
#   cd_free_port              a TCP port nothing listens on (for TCPSocket)
#   cd_hang_start DIR         a unix socket DIR/hang.sock that accepts
#                             connections and never answers (python3)
#   cd_hang_stop              stop it
#
# Everything of server NAME lives in DIR/NAME: clamd.conf, clamd.sock,
# clamd.log, clamd.pid, tmp/.  clamd runs as the user that starts it (no
# User directive), so as root it reads any DBDIR.  The socket is mode 666
# and cd_start makes DIR and DIR/NAME traversable (o+x), so the postfix
# user, as which sinkd runs in end-to-end tests, can connect.  Keep the
# socket path under 108 bytes.  CLAMD overrides the binary.

CLAMD=${CLAMD:-$(command -v clamd || echo /usr/sbin/clamd)}
CD_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
declare -A CD_PID=() CD_DIR=()
CD_HANG_PID=

# The EICAR test file: 68 bytes, no newline.
CD_EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

cd_sigs() {
	local db=$1 tmp
	mkdir -p "$db" || return 1
	cp "$CD_TOP/t/corpus/clamav/sigs/clamav.hdb" "$db/" || return 1
	tmp=$(mktemp -d) || return 1
	printf '%s' "$CD_EICAR" > "$tmp/eicar.com"
	# the signature takes the file's name: eicar.com
	(cd "$tmp" && sigtool --md5 eicar.com) > "$db/eicar.hdb"
	local rc=$?
	rm -rf "$tmp"
	[ "$rc" -eq 0 ] && [ -s "$db/eicar.hdb" ]
}

# _cd_ping SOCKET: clamd at SOCKET answers zPING with PONG
_cd_ping() {
	python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"zPING\0")
r = b""
while not r.endswith(b"\0"):
    b = s.recv(64)
    if not b:
        break
    r += b
sys.exit(0 if r == b"PONG\0" else 1)
PY
}

cd_start() {
	local dir=$1 db=$2 name=${3:-clamd} d i line
	shift 3 2>/dev/null || shift $#
	d=$dir/$name
	mkdir -p "$d/tmp" || return 1
	chmod o+x "$dir" "$d"
	rm -f "$d/clamd.sock"
	{
		echo "Foreground yes"
		echo "LocalSocket $d/clamd.sock"
		echo "LocalSocketMode 666"
		echo "DatabaseDirectory $db"
		echo "LogFile $d/clamd.log"
		echo "LogTime yes"
		echo "PidFile $d/clamd.pid"
		echo "TemporaryDirectory $d/tmp"
		for line in "$@"; do echo "$line"; done
	} > "$d/clamd.conf"
	"$CLAMD" -c "$d/clamd.conf" >>"$d/clamd.out" 2>&1 </dev/null &
	CD_PID[$name]=$!
	CD_DIR[$name]=$d
	for i in $(seq 1 300); do
		if [ -S "$d/clamd.sock" ] && _cd_ping "$d/clamd.sock"; then
			return 0
		fi
		kill -0 "${CD_PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	diag "clamd $name did not start:" "$(cat "$d/clamd.out" "$d/clamd.log" 2>/dev/null | tail -30)"
	return 1
}

cd_socket() { echo "${CD_DIR[${1:-clamd}]}/clamd.sock"; }

cd_log() { cat "${CD_DIR[${1:-clamd}]}/clamd.log"; }

# _cd_wait_gone NAME
_cd_wait_gone() {
	local name=$1 pid=${CD_PID[$1]} i
	for i in $(seq 1 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			# braces: bash reports a job killed by a signal on its
			# own stderr when it reaps it
			{ wait "$pid"; } 2>/dev/null
			unset "CD_PID[$name]"
			return 0
		fi
		sleep 0.1
	done
	diag "clamd $name ($pid) did not stop"
	return 1
}

cd_stop() {
	local name=${1:-clamd}
	[ -n "${CD_PID[$name]:-}" ] || return 0
	kill -TERM "${CD_PID[$name]}" 2>/dev/null
	_cd_wait_gone "$name"
}

cd_kill() {
	local name=${1:-clamd}
	[ -n "${CD_PID[$name]:-}" ] || return 0
	kill -KILL "${CD_PID[$name]}" 2>/dev/null
	_cd_wait_gone "$name"
}

cd_stop_all() {
	local name
	for name in "${!CD_PID[@]}"; do cd_stop "$name"; done
	cd_hang_stop
}

cd_free_port() {
	local port i
	for i in $(seq 1 200); do
		# below the usual ephemeral range (32768-60999)
		port=$(( 10000 + RANDOM % 22000 ))
		if ! grep -qiE "^ *[0-9]+: [0-9A-F]+:$(printf '%04X' "$port") " \
			/proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	diag "cd_free_port: no free port found"
	return 1
}

cd_hang_start() {
	local sock=$1/hang.sock i
	mkdir -p "$1" && chmod o+x "$1"
	rm -f "$sock"
	python3 - "$sock" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen(64)
held = []
while True:
    c, _ = s.accept()
    held.append(c)		# keep it open, never read, never answer
PY
	CD_HANG_PID=$!
	for i in $(seq 1 50); do
		[ -S "$sock" ] && return 0
		sleep 0.1
	done
	diag "the hanging server did not start"
	return 1
}

cd_hang_stop() {
	[ -n "$CD_HANG_PID" ] || return 0
	kill -TERM "$CD_HANG_PID" 2>/dev/null
	{ wait "$CD_HANG_PID"; } 2>/dev/null
	CD_HANG_PID=
}
