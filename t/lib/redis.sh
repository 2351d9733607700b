# redis.sh - a Redis server of the test's own, on a unix socket
#
# Source it after tap.sh, then:
#
#   rd_start DIR [PASSWORD]   start redis-server with its data and its
#                             socket (RD_SOCK, mode 0777) in DIR, no TCP
#                             port unless RD_PORT, AUTH with PASSWORD when given; wait
#                             until it answers.  Again after rd_stop: the
#                             same DIR, the same data (rd_stop saves it)
#   rd_stop                   save the data (SHUTDOWN SAVE) and stop: the
#                             socket is gone until rd_start
#   rd_kill                   stop it without saving (SIGTERM; the EXIT trap)
#   rd_cli ARGS...            run a command on it (redis-cli), raw output
#   RD_OPTS                   more redis-server options, for every start
#   RD_PORT                   set: it listens on 127.0.0.1:RD_PORT too
#
# The server never saves on its own (--save '', --appendonly no) and
# never touches the machine's own instance or files.

RD_DIR=
RD_SOCK=
RD_PASS=
RD_PID=

rd_start() {
	local i
	RD_DIR=$1
	RD_PASS=${2:-$RD_PASS}
	RD_SOCK=$RD_DIR/redis.sock
	mkdir -p "$RD_DIR"
	chmod 755 "$RD_DIR"
	redis-server --port "${RD_PORT:-0}" --bind 127.0.0.1 --unixsocket "$RD_SOCK" --unixsocketperm 777 \
		--dir "$RD_DIR" --dbfilename dump.rdb --save '' --appendonly no \
		--daemonize no --logfile "$RD_DIR/redis.log" \
		${RD_PASS:+--requirepass "$RD_PASS"} ${RD_OPTS:-} </dev/null >/dev/null 2>&1 &
	RD_PID=$!
	for i in $(seq 1 100); do
		[ "$(rd_cli PING 2>/dev/null)" = PONG ] && return 0
		kill -0 "$RD_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "redis-server did not start" "$(tail -5 "$RD_DIR/redis.log" 2>/dev/null)"
	return 1
}

rd_cli() { REDISCLI_AUTH=$RD_PASS redis-cli --no-auth-warning -s "$RD_SOCK" "$@"; }

_rd_wait_gone() {
	local i
	for i in $(seq 1 100); do
		kill -0 "$RD_PID" 2>/dev/null || { wait "$RD_PID" 2>/dev/null; RD_PID=; return 0; }
		sleep 0.1
	done
	return 1
}

rd_stop() {
	[ -n "$RD_PID" ] || return 0
	rd_cli SHUTDOWN SAVE >/dev/null 2>&1
	_rd_wait_gone
}

rd_kill() {
	[ -n "$RD_PID" ] || return 0
	kill -TERM "$RD_PID" 2>/dev/null
	_rd_wait_gone
}
