# peers.sh - the filters sinkd is compared with, each a private instance
#
# Source it from bash:
#
#   start_clamd DIR DBDIR     clamd on unix:DIR/clamd.sock, signatures from
#                             DBDIR, clean-file cache off, temp dir on tmpfs
#   start_clamav_milter DIR   clamav-milter on unix:DIR/clamav-milter.sock,
#                             scanning through the clamd of DIR (start it
#                             first); OnInfected Reject
#   start_mimedefang DIR      mimedefang-multiplexor and mimedefang on
#                             unix:DIR/mimedefang/mimedefang.sock (a
#                             directory of the defang user: mimedefang
#                             refuses to run as root) with the filter
#                             bench/mimedefang-filter (the disclaimer of
#                             t/disclaimer), spool on tmpfs
#   stop_all                  stops every process started here, removes
#                             the tmpfs directories
#   drop_refused SINKD CONF DIR   removes from DIR every message that
#                             `SINKD -t -c CONF` does not accept, and
#                             prints "name: verdict line" for each, so
#                             that every contender does the same work
#
# Each start function returns once its socket accepts connections and
# prints on standard output the process ids whose CPU time is the
# filter's: clamd's, clamav-milter's; mimedefang's and the multiplexor's
# (its Perl workers are the multiplexor's children).  Logs and
# configuration go to DIR.  Engine settings are those of sinkd's clamav
# handler by default: max-scansize 400M, max-filesize 100M, recursion 16,
# 10000 files, 120 s, heuristics on, limits-exceeded alerts on.
#
# Packages (Debian): clamav-daemon clamav-milter mimedefang
# libhtml-parser-perl; their own services are never started here.
#
# Variables: PEERS_TMPFS (default /dev/shm) holds the temp and spool
# directories; PEERS_WAIT (default 60) is how many seconds a socket may
# take; MD_WORKERS_MIN / MD_WORKERS_MAX (default 2 / 10, Debian's
# service defaults) size MIMEDefang's worker pool.

PEERS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS_TMPFS=${PEERS_TMPFS:-/dev/shm}
PEERS_WAIT=${PEERS_WAIT:-60}
# a file, not a variable: start functions usually run in $( )
PEERS_STATE=${PEERS_STATE:-${TMPDIR:-/tmp}/sinkd-bench-peers.$$}

_peers_note() {
	# kind value: "pid N" or "dir PATH", for stop_all
	printf '%s %s\n' "$1" "$2" >>"$PEERS_STATE"
}

_peers_connects() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(1)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
' "$1" 2>/dev/null
}

# _peers_wait SOCKET PID NAME LOG: until SOCKET accepts, PID alive
_peers_wait() {
	local i
	for ((i = 0; i < PEERS_WAIT * 10; i++)); do
		if ! kill -0 "$2" 2>/dev/null; then
			echo "peers: $3 exited; its log, $4:" >&2
			tail -n 20 "$4" >&2
			return 1
		fi
		[ -S "$1" ] && _peers_connects "$1" && return 0
		sleep 0.1
	done
	echo "peers: $3: $1 not accepting after ${PEERS_WAIT}s" >&2
	return 1
}

_peers_tmpdir() {
	local d
	d=$(mktemp -d "$PEERS_TMPFS/sinkd-bench-$1.XXXXXX") || return 1
	_peers_note dir "$d"
	echo "$d"
}

start_clamd() {
	local dir=$1 db=$2 tmp pid
	if [ -z "$dir" ] || [ -z "$db" ]; then
		echo "usage: start_clamd DIR DBDIR" >&2
		return 2
	fi
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	db=$(cd "$db" && pwd) || return 1
	tmp=$(_peers_tmpdir clamd) || return 1
	rm -f "$dir/clamd.sock"
	cat >"$dir/clamd.conf" <<-EOF
	LocalSocket $dir/clamd.sock
	LocalSocketMode 666
	FixStaleSocket yes
	Foreground yes
	LogFile $dir/clamd.log
	LogTime yes
	TemporaryDirectory $tmp
	DatabaseDirectory $db
	DisableCache yes
	MaxScanSize 400M
	MaxFileSize 100M
	StreamMaxLength 100M
	MaxRecursion 16
	MaxFiles 10000
	MaxScanTime 120000
	HeuristicAlerts yes
	AlertExceedsMax yes
	SelfCheck 0
	EOF
	clamd --config-file="$dir/clamd.conf" >>"$dir/clamd.out" 2>&1 </dev/null &
	pid=$!
	_peers_note pid "$pid"
	_peers_wait "$dir/clamd.sock" "$pid" clamd "$dir/clamd.log" || return 1
	echo "$pid" >"$dir/clamd.pid"
	echo "$pid"
}

start_clamav_milter() {
	local dir=$1 tmp pid
	if [ -z "$dir" ]; then
		echo "usage: start_clamav_milter DIR" >&2
		return 2
	fi
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	if [ ! -S "$dir/clamd.sock" ] || [ ! -s "$dir/clamd.pid" ]; then
		echo "peers: no clamd in $dir (start_clamd first)" >&2
		return 1
	fi
	tmp=$(_peers_tmpdir clamav-milter) || return 1
	rm -f "$dir/clamav-milter.sock"
	cat >"$dir/clamav-milter.conf" <<-EOF
	MilterSocket unix:$dir/clamav-milter.sock
	MilterSocketMode 666
	FixStaleSocket yes
	User root
	Foreground yes
	ClamdSocket unix:$dir/clamd.sock
	TemporaryDirectory $tmp
	MaxFileSize 100M
	OnClean Accept
	OnInfected Reject
	OnFail Defer
	AddHeader No
	LogFile $dir/clamav-milter.log
	LogTime yes
	LogInfected Basic
	LogClean Off
	EOF
	clamav-milter --config-file="$dir/clamav-milter.conf" >>"$dir/clamav-milter.out" 2>&1 </dev/null &
	pid=$!
	_peers_note pid "$pid"
	_peers_wait "$dir/clamav-milter.sock" "$pid" clamav-milter "$dir/clamav-milter.log" || return 1
	echo "$(cat "$dir/clamd.pid") $pid"
}

start_mimedefang() {
	local dir=$1 spool mx md
	if [ -z "$dir" ]; then
		echo "usage: start_mimedefang DIR" >&2
		return 2
	fi
	mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
	spool=$(_peers_tmpdir mimedefang) || return 1
	chown defang: "$spool" 2>/dev/null
	chmod 750 "$spool"
	mkdir -p "$dir/mimedefang" && chown defang: "$dir/mimedefang" || return 1
	rm -f "$dir/mimedefang/mimedefang.sock" "$spool/mimedefang-multiplexor.sock"
	# HOME is where the workers run; LC_ALL=C as Debian's unit has it
	HOME=$spool LC_ALL=C mimedefang-multiplexor -D -U defang -z "$spool" \
		-s "$spool/mimedefang-multiplexor.sock" \
		-F "$PEERS_TOP/bench/mimedefang-filter" \
		-m "${MD_WORKERS_MIN:-2}" -x "${MD_WORKERS_MAX:-10}" -b 600 \
		>>"$dir/mimedefang-multiplexor.log" 2>&1 </dev/null &
	mx=$!
	_peers_note pid "$mx"
	_peers_wait "$spool/mimedefang-multiplexor.sock" "$mx" mimedefang-multiplexor \
		"$dir/mimedefang-multiplexor.log" || return 1
	LC_ALL=C mimedefang -D -U defang -z "$spool" -m "$spool/mimedefang-multiplexor.sock" \
		-p "unix:$dir/mimedefang/mimedefang.sock" \
		>>"$dir/mimedefang.log" 2>&1 </dev/null &
	md=$!
	_peers_note pid "$md"
	_peers_wait "$dir/mimedefang/mimedefang.sock" "$md" mimedefang "$dir/mimedefang.log" || return 1
	echo "$mx $md"
}

drop_refused() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	find "$3" -maxdepth 1 -type f -print0 | xargs -0 -P "$(nproc)" -n 1 sh -c '
		v=$("$0" -t -c "$1" -R rcpt@example.com <"$2" 2>&1 >/dev/null | tail -n 1)
		case $v in verdict=accept*) ;; *) rm -f "$2"; echo "${2##*/}: $v" ;; esac
	' "$1" "$2"
}

# _peers_tree PID: PID and its descendants
_peers_tree() {
	local c
	echo "$1"
	for c in $(pgrep -P "$1"); do
		_peers_tree "$c"
	done
}

stop_all() {
	local kind val p d i alive pids=() dirs=()
	[ -f "$PEERS_STATE" ] || return 0
	while read -r kind val; do
		case $kind in
		pid) pids+=("$val") ;;
		dir) dirs+=("$val") ;;
		esac
	done <"$PEERS_STATE"
	# milters before the clamd they use: the reverse order of starting
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -0 "${pids[i]}" 2>/dev/null || continue
		mapfile -t -O "${#pids[@]}" pids < <(_peers_tree "${pids[i]}")
		kill -TERM "${pids[i]}" 2>/dev/null
	done
	for ((i = 0; i < 100; i++)); do
		alive=0
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	if [ "$alive" = 1 ]; then
		for p in "${pids[@]}"; do
			kill -KILL "$p" 2>/dev/null
		done
	fi
	for d in "${dirs[@]}"; do
		case $d in
		"$PEERS_TMPFS"/sinkd-bench-*) rm -rf "$d" ;;
		esac
	done
	rm -f "$PEERS_STATE"
}
