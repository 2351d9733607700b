#!/bin/bash
# security.t - files sinkd will not trust, and what sinkd never does
#
# A configuration file, domain file, list file or template that others may
# write, and a key others may read, are refused with file: what is wrong,
# by sinkd -n and at start; sinkd and sinkd-quarantine call no shell.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/sinkd.sh"

e2e_workdir security

C=$W/conf
mkdir -p "$C/domains" "$W/spool" "$W/q" "$W/db"
printf 'Disclaimer.\n' >"$C/text.tmpl"
printf '<p>Disclaimer.</p>\n' >"$C/html.tmpl"
printf '[lists]\nall@example.com = a@example.com\n' >"$C/lists.conf"
printf '[protocol]\ndeny-senders = @spam.example\n' >"$C/domains/example.org.conf"
cat >"$C/sinkd.conf" <<EOF
[sinkd]
socket = unix:$W/sinkd.sock
user = postfix
spool-dir = $W/spool
chain = protocol, disclaimer
[protocol]
list-file = $C/lists.conf
[disclaimer]
text-file = $C/text.tmpl
html-file = $C/html.tmpl
EOF
chmod 644 "$C"/*.conf "$C"/*.tmpl "$C/domains/example.org.conf"

check() { OUT=$("$SINKD" -n -c "$C/sinkd.conf" 2>&1); RC=$?; }
check
is "$RC" 0 "the configuration as written (every file 0644) is good"
[ "$RC" = 0 ] || diag "$OUT"

# refused FILE MODE PATTERN WHAT
refused() {
	chmod "$2" "$1"
	check
	is "$RC" 1 "$4: sinkd -n refuses it"
	like "$OUT" "$3" "$4: the error names the file and says why"
	chmod 644 "$1"
}
refused "$C/sinkd.conf" 666 "sinkd\\.conf: writable by others \\(mode 0666\\); chmod o-w it" \
	"sinkd.conf writable by others"
refused "$C/domains/example.org.conf" 646 "example\\.org\\.conf: writable by others \\(mode 0646\\)" \
	"a domain file writable by others"
refused "$C/lists.conf" 602 "lists\\.conf: writable by others \\(mode 0602\\)" \
	"a list file writable by others"
refused "$C/text.tmpl" 666 "text-file: .*text\\.tmpl: writable by others" \
	"a disclaimer template writable by others"
chmod 664 "$C/sinkd.conf"
check
is "$RC" 0 "group-writable is the admin's choice of group: accepted"
chmod 644 "$C/sinkd.conf"

# the daemon refuses to start on the same grounds
chmod 666 "$C/domains/example.org.conf"
timeout 10 "$SINKD" -f -c "$C/sinkd.conf" >"$W/start.log" 2>&1 </dev/null
is "$?" 1 "sinkd -f with a domain file writable by others exits 1 at once"
like "$(cat "$W/start.log")" "example\\.org\\.conf: writable by others" "and says why"
chmod 644 "$C/domains/example.org.conf"

# a quarantine key others can read: the daemon does not start
cat >>"$C/sinkd.conf" <<EOF
[clamav]
database = $W/db
quarantine-dir = $W/q
EOF
sed -i 's/^chain = .*/chain = protocol, clamav/' "$C/sinkd.conf"
chown postfix "$W"
head -c 32 /dev/urandom >"$W/q/.key"
chmod 644 "$W/q/.key"
timeout 10 "$SINKD" -f -c "$C/sinkd.conf" >"$W/start.log" 2>&1 </dev/null
is "$?" 1 "a quarantine key readable by others: sinkd does not start"
like "$(cat "$W/start.log")" "q/\\.key: a secret readable by others \\(mode 0644\\); chmod o-rwx it" \
	"and says which file and why"

# no shell anywhere: no system(3), popen(3) or exec*p(3) in the binaries
for b in "$SINKD" "$TOP/tools/sinkd-quarantine"; do
	calls=$(nm -D --undefined-only "$b" | awk '{print $NF}' | sed 's/@.*//' \
		| grep -xE 'system|popen|execl|execlp|execvp|execvpe|posix_spawnp' | tr '\n' ' ')
	is "$calls" "" "${b##*/} calls no shell and searches no PATH (system, popen, exec*p)"
done

# who reaches the socket: its directory, when missing, is made 0750 and
# the socket is 0660, both of user and group; others cannot connect
chmod o+x "$W"
sk_init "$W/sk" "unix:$W/sk/run/sinkd/sinkd.sock"
chown postfix "$W/sk"
sk_start || bail_out "sinkd did not start"
is "$(stat -c '%a %U %G' "$W/sk/run/sinkd")" "750 postfix postfix" \
	"the socket's directory, missing, is made 0750, of user and group"
is "$(stat -c '%a %U %G' "$W/sk/run/sinkd/sinkd.sock")" "660 postfix postfix" "the socket is 0660, of user and group"
# connect USER: can USER connect to the socket?
connect() {
	local g=--clear-groups
	[ -n "${2:-}" ] && g=--groups=$2
	setpriv --reuid="$1" --regid="$(id -g "$1")" "$g" \
		/usr/bin/python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \
		"$W/sk/run/sinkd/sinkd.sock" 2>/dev/null
}
connect nobody
ok $((! $?)) "a local user outside the group cannot connect"
connect nobody "$(getent group postfix | cut -d: -f3)"
ok $? "a member of the group can"
sk_stop
mkdir -p "$W/sk/own" && chmod 755 "$W/sk/own"
sed -i "s#^socket = .*#socket = unix:$W/sk/own/sinkd.sock#" "$W/sk/conf/sinkd.conf"
: >"$W/sk/sinkd.log"
SK_SOCKET=unix:$W/sk/own/sinkd.sock
sk_start || bail_out "sinkd did not start"
is "$(stat -c '%a %U' "$W/sk/own")" "755 root" "an existing directory is left as it is"
sk_stop

done_testing
