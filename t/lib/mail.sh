# mail.sh - helpers the end-to-end tests share, whatever the MTA
#
# Source it after tap.sh.  wait_msg needs the test's own nmsg RCPT ID (how
# many messages with X-E2E-Id: ID the MTA delivered to RCPT).

# smtp_reply SWAKS-OUTPUT WHAT: the reply to the first command starting with
# WHAT (or the greeting, for WHAT=BANNER), its lines joined with '|'
smtp_reply() {
	printf '%s\n' "$1" | awk -v want="$2" '
		!found && ((want == "BANNER" && /^=== Connected to/) ||
		           (want != "BANNER" && index($0, " -> " want) == 1)) {
			found = 1; next
		}
		found && /^(<-  |<\*\* )/ {
			line = substr($0, 5)
			r = r (r == "" ? "" : "|") line
			if (line ~ /^[0-9][0-9][0-9]( |$)/) { print r; exit }
		}'
}

# wait_msg RCPT ID [TIMEOUT=20]: wait until RCPT got the message ID
wait_msg() {
	local end=$(($(date +%s) + ${3:-20}))
	while [ "$(nmsg "$1" "$2")" -lt 1 ]; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
}

# header FILE NAME: the (first) value of header NAME in FILE's header,
# continuation lines unfolded
header() {
	[ -f "$1" ] || return 1
	awk -v n="$2" 'BEGIN { n = tolower(n) ":" }
		/^$/ { exit }
		on && /^[ \t]/ { v = v " " $0; sub(/^[ \t]+/, "", v); next }
		on { exit }
		tolower(substr($0, 1, length(n))) == n { v = substr($0, length(n) + 1); on = 1 }
		END { gsub(/[ \t]+/, " ", v); sub(/^ /, "", v); if (on) print v }' "$1"
}
