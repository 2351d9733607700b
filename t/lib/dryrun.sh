# dryrun.sh - sinkd -t and sinkd -n over "$W/sinkd.conf", for tests that
#	run the chain without an MTA (source after tap.sh; needs SINKD, W)
#
# run IN ARGS...: sinkd -t of message file IN with sinkd -t's ARGS;
#	sets RC, OUT (the message as it would leave), ERR (all of stderr)
#	and VERDICT (its last line, the result line)
# check: sinkd -n; sets CHECK (its output) and RC
run() {
	local in=$1
	shift
	"$SINKD" -t -c "$W/sinkd.conf" "$@" <"$in" >"$W/out" 2>"$W/err"
	RC=$?
	OUT=$(cat "$W/out")
	ERR=$(cat "$W/err")
	VERDICT=$(tail -n 1 "$W/err")
}
check() {
	CHECK=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1)
	RC=$?
}
