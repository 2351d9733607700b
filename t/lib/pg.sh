# pg.sh - a PostgreSQL 15 cluster of the test's own, on a unix socket
#
# Source it after tap.sh, then:
#
#   pg_start DIR [PASSWORD]   the first time, make a cluster in DIR/data
#                             (initdb as user postgres, superuser
#                             postgres, password authentication with
#                             PASSWORD, default "sinkd-test"); start it
#                             with no TCP port and its socket in
#                             PG_SOCKDIR (DIR/sock), and wait until it
#                             answers.  Again after pg_stop: the same data
#   pg_stop                   stop it (fast: the data stays)
#   pg_kill                   stop it at once (the EXIT trap)
#   pg_sql SQL                run SQL as postgres in database postgres;
#                             unaligned, tuples only
#   PG_CONNINFO               a libpq connection string for it
#   PG_PORT                   set: it listens on 127.0.0.1:PG_PORT too
#                             (and its socket is named for that port)
#
# DIR is owned by user postgres (initdb refuses root); the cluster never
# touches the machine's own clusters or files.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=
PG_SOCKDIR=
PG_PASSWORD=
PG_CONNINFO=
PG_UP=

_pg() { runuser -u postgres -- "$@"; }

pg_start() {
	local i
	PG_DIR=$1
	PG_PASSWORD=${2:-${PG_PASSWORD:-sinkd-test}}
	PG_SOCKDIR=$PG_DIR/sock
	PG_CONNINFO="host=$PG_SOCKDIR ${PG_PORT:+port=$PG_PORT }dbname=postgres user=postgres password=$PG_PASSWORD"
	[ -x "$PG_BIN/initdb" ] || { diag "no $PG_BIN/initdb (postgresql-15)"; return 1; }
	if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
		mkdir -p "$PG_DIR/sock"
		printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pwfile"
		chown -R postgres "$PG_DIR"
		chmod 755 "$PG_DIR" "$PG_DIR/sock"
		_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A scram-sha-256 \
			--pwfile="$PG_DIR/pwfile" -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 ||
			{ diag "initdb failed" "$(tail -5 "$PG_DIR/initdb.log")"; return 1; }
		rm -f "$PG_DIR/pwfile"
	fi
	_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/pg.log" -w -t 60 \
		-o "-k $PG_SOCKDIR -c listen_addresses='${PG_PORT:+127.0.0.1}' ${PG_PORT:+-p $PG_PORT} -c fsync=off" start >/dev/null 2>&1 ||
		{ diag "pg_ctl start failed" "$(tail -5 "$PG_DIR/pg.log")"; return 1; }
	PG_UP=1
	for i in $(seq 1 100); do
		[ "$(pg_sql 'SELECT 1' 2>/dev/null)" = 1 ] && return 0
		sleep 0.1
	done
	diag "PostgreSQL does not answer" "$(tail -5 "$PG_DIR/pg.log")"
	return 1
}

pg_sql() { PGPASSWORD=$PG_PASSWORD psql -X -q -h "$PG_SOCKDIR" ${PG_PORT:+-p "$PG_PORT"} -U postgres -d postgres -At -v ON_ERROR_STOP=1 -c "$1"; }

pg_stop() {
	[ -n "$PG_UP" ] || return 0
	_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -m fast stop >/dev/null 2>&1
	PG_UP=
}

pg_kill() {
	[ -n "$PG_UP" ] || return 0
	_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -m immediate stop >/dev/null 2>&1
	PG_UP=
}
