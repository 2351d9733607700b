#!/bin/bash
# security.t - files sinkd will not trust, and what sinkd never does
#
# A configuration file, domain file, list file or template that its group
# or others may write, or that belongs to someone other than root or
# sinkd's user, or that lies in such a directory, and a key others may
# read, are refused with file: what is wrong, by sinkd -n and at start; so
# is a signature database its group or others may write (whoever owns
# it); a loose quarantine directory is made 0700 and sinkd's; sinkd,
# sinkd-quarantine and sinkd-archive call no shell.
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
pid-file = $W/sinkd.pid
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
refused "$C/sinkd.conf" 666 "sinkd\\.conf: writable by others \\(mode 0666\\); chmod go-w it" \
	"sinkd.conf writable by others"
refused "$C/sinkd.conf" 664 "sinkd\\.conf: group-writable \\(mode 0664\\); chmod g-w it" \
	"sinkd.conf writable by its group"
refused "$C/domains/example.org.conf" 664 "example\\.org\\.conf: group-writable \\(mode 0664\\); chmod g-w it" \
	"a domain file writable by its group"
refused "$C/lists.conf" 620 "lists\\.conf: group-writable \\(mode 0620\\)" \
	"a list file writable by its group"
refused "$C/html.tmpl" 664 "html-file: .*html\\.tmpl: group-writable \\(mode 0664\\); chmod g-w it" \
	"a disclaimer template writable by its group"
refused "$C/domains/example.org.conf" 646 "example\\.org\\.conf: writable by others \\(mode 0646\\)" \
	"a domain file writable by others"
refused "$C/lists.conf" 602 "lists\\.conf: writable by others \\(mode 0602\\)" \
	"a list file writable by others"
refused "$C/text.tmpl" 666 "text-file: .*text\\.tmpl: writable by others" \
	"a disclaimer template writable by others"

# owners: root and sinkd's user (here postfix); sinkd.conf, which names
# that user, root's alone
# owned FILE OWNER RC PATTERN WHAT
owned() {
	chown "$2" "$1"
	check
	is "$RC" "$3" "$5"
	[ -n "$4" ] && like "$OUT" "$4" "$5: the error names the file, its owner and the fix"
	chown root "$1"
}
owned "$C/lists.conf" nobody 1 "lists\.conf: owned by uid [0-9]+ \(nobody\), not root or postfix; chown root it" \
	"a list file of another user's is refused"
owned "$C/text.tmpl" nobody 1 "text-file: .*text\.tmpl: owned by uid [0-9]+ \(nobody\), not root or postfix" \
	"a template of another user's is refused"
owned "$C/domains/example.org.conf" nobody 1 "example\.org\.conf: owned by uid [0-9]+ \(nobody\)" \
	"a domain file of another user's is refused"
owned "$C/sinkd.conf" nobody 1 "sinkd\.conf: owned by uid [0-9]+ \(nobody\), not root; chown root it" \
	"sinkd.conf of another user's is refused"
owned "$C/domains/example.org.conf" postfix 0 "" "a domain file of sinkd's user is taken"
owned "$C/sinkd.conf" postfix 1 "sinkd\.conf: owned by uid [0-9]+ \(postfix\), not root; chown root it" \
	"sinkd.conf of sinkd's user is refused: it names the user"
uid=$(id -u nobody)
chown 4242 "$C/lists.conf"
check
like "$OUT" "lists\.conf: owned by uid 4242 \(no such user\)" "an owner with no name: its uid"
chown root "$C/lists.conf"

# the directory holding a file counts as the file does
chmod 775 "$C/domains"
check
is "$RC" 1 "a domain directory writable by its group: refused"
like "$OUT" "domains: group-writable \(mode 0775\); chmod g-w it" "  naming the directory"
chmod 755 "$C/domains"
chown nobody "$C/domains"
check
is "$RC" 1 "a domain directory of another user's: refused"
like "$OUT" "domains: owned by uid $uid \(nobody\)" "  naming the directory and its owner"
chown root "$C/domains"
mkdir -m 777 "$W/open"
cp -p "$C/text.tmpl" "$W/open/text.tmpl"
sed -i "s|^text-file = .*|text-file = $W/open/text.tmpl|" "$C/sinkd.conf"
check
like "$OUT" "text-file: .*open: writable by others \(mode 0777\); chmod go-w it" \
	"a template in a directory anyone may write: refused"
ln -s "$W/open/text.tmpl" "$C/link.tmpl"
sed -i "s|^text-file = .*|text-file = $C/link.tmpl|" "$C/sinkd.conf"
check
like "$OUT" "text-file: .*open: writable by others" \
	"  and through a symbolic link from a good directory"
sed -i "s|^text-file = .*|text-file = $C/text.tmpl|" "$C/sinkd.conf"
check
is "$RC" 0 "all back as it was: accepted"

# the daemon refuses to start on the same grounds
chmod 666 "$C/domains/example.org.conf"
timeout 10 "$SINKD" -f -c "$C/sinkd.conf" >"$W/start.log" 2>&1 </dev/null
is "$?" 1 "sinkd -f with a domain file writable by others exits 1 at once"
like "$(cat "$W/start.log")" "example\\.org\\.conf: writable by others" "and says why"
chmod 644 "$C/domains/example.org.conf"

# the signature database: its mode counts, not its owner (freshclam runs
# as clamav)
printf '[clamav]\ndatabase = %s\nquarantine-dir = %s\ntmpdir = %s\n' "$W/db" "$W/q" "$W/cltmp" >>"$C/sinkd.conf"
sed -i 's/^chain = .*/chain = protocol, clamav/' "$C/sinkd.conf"
printf 'Test.Sig:0:*:53494e4b442d534543555249545921\n' >"$W/db/test.ndb"
chmod 755 "$W/db"
chmod 644 "$W/db/test.ndb"
chown -R nobody "$W/db"
check
is "$RC" 0 "a signature database of another user's (0755, 0644): taken"
[ "$RC" = 0 ] || diag "$OUT"
chmod 775 "$W/db"
check
like "$OUT" "database: .*db: group-writable \(mode 0775\); chmod g-w it" \
	"a signature directory writable by its group: refused"
chmod 755 "$W/db"
chmod 666 "$W/db/test.ndb"
check
like "$OUT" "database: .*test\.ndb: writable by others \(mode 0666\); chmod go-w it" \
	"a signature file anyone may write: refused"
chmod 644 "$W/db/test.ndb"
chown -R root "$W/db"

# a quarantine directory of loose mode and another owner: sinkd, started
# as root, makes it 0700 and its user's
chown postfix "$W"
chown nobody "$W/q"
chmod 777 "$W/q"
"$SINKD" -f -c "$C/sinkd.conf" >"$W/start.log" 2>&1 </dev/null &
pid=$!
for i in $(seq 1 100); do
	grep -q 'ready on' "$W/start.log" && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
is "$(stat -c '%a %U' "$W/q")" "700 postfix" "a loose quarantine directory is made 0700 and sinkd's user's"
like "$(cat "$W/start.log")" "quarantine-dir .*q: was mode 0777; now 0700" "  and the log says so"
is "$(stat -c '%a %U' "$W/q/.key")" "600 postfix" "  its new key is 0600, sinkd's user's"
kill $pid
wait $pid

# a quarantine key others can read, or of another user's: sinkd does not start
rm -f "$W/q/.key"
head -c 32 /dev/urandom >"$W/q/.key"
chown postfix "$W/q/.key"
chmod 644 "$W/q/.key"
timeout 10 "$SINKD" -f -c "$C/sinkd.conf" >"$W/start.log" 2>&1 </dev/null
is "$?" 1 "a quarantine key readable by others: sinkd does not start"
like "$(cat "$W/start.log")" "q/\.key: a secret readable by others \(mode 0644\); chmod o-rwx it" \
	"and says which file and why"
chmod 600 "$W/q/.key"
chown nobody "$W/q/.key"
timeout 10 "$SINKD" -f -c "$C/sinkd.conf" >"$W/start.log" 2>&1 </dev/null
is "$?" 1 "a quarantine key of another user's: sinkd does not start"
like "$(cat "$W/start.log")" "q/\.key: owned by uid $uid \(nobody\), not root or postfix; chown root it" \
	"and says which file and why"

# no shell anywhere: no system(3), popen(3) or exec*p(3) in the binaries
for b in "$SINKD" "$TOP/tools/sinkd-quarantine" "$TOP/tools/sinkd-archive"; do
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
