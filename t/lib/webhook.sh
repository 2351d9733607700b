# webhook.sh - a webhook receiver (t/lib/webhook.py) for the event tests
#
# Source it after tap.sh, then:
#
#   wh_start DIR [PORT]   start the receiver on DIR (PORT: the same port
#                         again after wh_stop; default any free one) and
#                         wait until it listens; WH_URL is its URL
#   wh_stop               stop it (the port then refuses connections)
#   wh_mode WORD...       what it answers from now on (ok, fail, busy,
#                         refuse, slow N)
#   wh_keys               how many distinct keys it recorded
#   wh_dups               how many keys it received again
#   wh_wait_keys N        wait (up to 60 s) until it recorded N keys
#
# The receiver's records (DIR/keys, DIR/requests.jsonl, DIR/duplicates)
# survive wh_stop and wh_start on the same DIR.

WH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WH_DIR=
WH_PID=
WH_PORT=
WH_URL=

wh_start() {
	local i
	WH_DIR=$1
	mkdir -p "$WH_DIR"
	rm -f "$WH_DIR/port"
	python3 "$WH_TOP/t/lib/webhook.py" "$WH_DIR" "${2:-0}" 2>>"$WH_DIR/stderr" &
	WH_PID=$!
	for i in $(seq 1 100); do
		[ -s "$WH_DIR/port" ] && break
		sleep 0.1
	done
	[ -s "$WH_DIR/port" ] || { diag "webhook receiver did not start" "$(cat "$WH_DIR/stderr")"; return 1; }
	WH_PORT=$(cat "$WH_DIR/port")
	WH_URL=http://127.0.0.1:$WH_PORT/events
}

wh_stop() {
	[ -n "$WH_PID" ] || return 0
	kill "$WH_PID" 2>/dev/null
	wait "$WH_PID" 2>/dev/null
	WH_PID=
}

wh_mode() { printf '%s\n' "$*" >"$WH_DIR/mode"; }

wh_keys() { if [ -f "$WH_DIR/keys" ]; then wc -l <"$WH_DIR/keys"; else echo 0; fi; }

wh_dups() { if [ -f "$WH_DIR/duplicates" ]; then wc -l <"$WH_DIR/duplicates"; else echo 0; fi; }

wh_wait_keys() {
	local i
	for i in $(seq 1 600); do
		[ "$(wh_keys)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
