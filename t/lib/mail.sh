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

# e2e_workdir NAME: the checks every end-to-end test makes (root, sinkd
# built), then W, a fresh work directory (tap.sh's workdir), and an EXIT trap
# that stops sinkd and the test's Postfix (where those libraries are
# sourced) and removes W when every test passed
e2e_workdir() {
	[ "$(id -u)" -eq 0 ] || bail_out "needs root (a private MTA instance); run it through ./bootstrap test"
	[ -x "$SINKD" ] || bail_out "$SINKD is not built (run make)"
	W=$(workdir "$1") || bail_out "cannot make a work directory"
	trap _e2e_cleanup EXIT
}

_e2e_cleanup() {
	local rc=$?
	exec 3>&- 2>/dev/null
	declare -F sk_stop >/dev/null && sk_stop
	declare -F pf_cleanup >/dev/null && pf_cleanup
	if [ "$rc" -eq 0 ] && [ "$TAP_FAILED" -eq 0 ]; then rm -rf "$W"; else diag "kept $W"; fi
}

# raw SMTP on file descriptor 3 (exec 3<>/dev/tcp/127.0.0.1/PORT):
# reply prints one reply, continuation lines joined with |; say sends
# lines, each ended with CRLF
reply() {
	local l r=
	while IFS= read -t 30 -r l <&3; do
		l=${l%$'\r'}
		r=${r:+$r|}$l
		case $l in [0-9][0-9][0-9]-*) ;; *) break ;; esac
	done
	printf '%s' "${r:-<no reply>}"
}
say() { printf '%s\r\n' "$@" >&3; }
