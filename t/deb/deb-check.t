#!/bin/bash
# deb-check.t - the Debian package (debian/), as an administrator gets it:
# built with dpkg-buildpackage from a copy of the tree, checked by lintian,
# installed with apt-get into a throwaway Debian 12 root (debootstrap, from
# the mirror the machine's own apt uses), sinkd started there as its
# systemd unit would, a message sent through a real Postfix in that root
# configured with the main.cf lines the package documents, its log file
# rotated by the package's logrotate entry, then purged: nothing of it may
# be left.
#
# Slow (a debootstrap and two apt-get installs): run by make deb-check, not
# make check.  As root; needs the Debian archive and no other network.
# Never writes into the checkout, and never changes the machine's own
# files: everything is under the test's directory, the processes started
# in the root are killed and its mounts undone at exit.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$TOP/t/lib/tap.sh"

[ "$(id -u)" -eq 0 ] || bail_out "needs root (debootstrap, chroot)"
for c in git dpkg-buildpackage dh lintian debootstrap swaks; do
	command -v "$c" >/dev/null || bail_out "$c is missing (./bootstrap test installs it)"
done

W=$(workdir deb) || bail_out "cannot make a work directory"
R=$W/root
SINKD_PID=

# root_mounts: the mount points under R, deepest first
root_mounts() {
	awk -v r="$R" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

# kill_root_procs: kill every process whose root directory is R (what was
# started in it: sinkd, Postfix's master and its children)
kill_root_procs() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in
		"$R" | "$R"/*) kill -KILL "${p#/proc/}" 2>/dev/null ;;
		esac
	done
}

cleanup() {
	local m
	[ -n "$SINKD_PID" ] && kill -KILL "$SINKD_PID" 2>/dev/null
	kill_root_procs
	sleep 0.2
	for m in $(root_mounts); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	if [ -n "$(root_mounts)" ]; then
		diag "still mounted under $R: $(root_mounts | tr '\n' ' '); kept $W"
	elif [ "$TAP_FAILED" -eq 0 ]; then
		rm -rf --one-file-system "$W"
	else
		diag "kept $W"
	fi
}
trap cleanup EXIT

# inroot COMMAND...: run COMMAND in the root, with a clean environment
inroot() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# --- build -----------------------------------------------------------------

# the tree as git sees it (tracked files and new ones, not what .gitignore
# names: no build products), copied out of the checkout
g() { git -c safe.directory="$TOP" -C "$TOP" "$@"; }
g status --porcelain --ignored >"$W/status.before" 2>&1
mkdir -p "$W/build/src"
(cd "$TOP" && g ls-files -z --cached --others --exclude-standard |
	tar --null --ignore-failed-read -T - -cf -) | tar -C "$W/build/src" -xf -
ok $? "a copy of the tree in the work directory"

(cd "$W/build/src" &&
	DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$W/build.log" 2>&1 </dev/null
ok $? "dpkg-buildpackage -us -uc -b builds it" || diag "$(tail -n 30 "$W/build.log")"
DEB=$(ls "$W"/build/sinkd_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || bail_out "no sinkd_*.deb built"
g status --porcelain --ignored >"$W/status.after" 2>&1
out=$(diff "$W/status.before" "$W/status.after")
ok $? "the checkout is left as it was (git status, ignored files too)" || diag "$out"

out=$(lintian --fail-on error,warning "$W"/build/sinkd_*.changes 2>&1)
ok $? "lintian finds no error and no warning" || diag "$out"

# --- a Debian root, the package installed with apt-get ---------------------

# the_mirror: the first Debian archive (not security) the machine's apt uses
the_mirror() {
	{
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }'
		cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }'
	} | grep -E '/debian/?$' | head -n 1
}
MIRROR=$(the_mirror)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
debootstrap --variant=minbase bookworm "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 </dev/null
ok $? "debootstrap --variant=minbase bookworm from $MIRROR" \
	|| { diag "$(tail -n 20 "$W/debootstrap.log")"; bail_out "no root to install into"; }

# the root takes the machine's Debian sources (bookworm-updates and
# security too: the package's libraries may be newer than bookworm's)
copied=
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	uris=$(grep -E '^[[:space:]]*(deb[[:space:]]|URIs:)' "$f" | grep -oE '[a-z]+://[^[:space:]]+')
	[ -n "$uris" ] || continue
	echo "$uris" | grep -vqE '/debian(-security)?/?$' && continue
	mkdir -p "$R/etc/apt/sources.list.d"
	cp "$f" "$R/etc/apt/sources.list.d/host-${f##*/}"
	copied=yes
done
[ -n "$copied" ] && rm -f "$R/etc/apt/sources.list"
mount -t proc proc "$R/proc" || bail_out "cannot mount proc in the root"
# no service starts in the root on its own
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"

echo "postfix postfix/main_mailer_type select No configuration" | inroot debconf-set-selections
inroot apt-get update -q >"$W/apt.log" 2>&1 &&
	inroot apt-get install -y -q --no-install-recommends postfix logrotate >>"$W/apt.log" 2>&1
ok $? "Postfix and logrotate installed in the root" || { diag "$(tail -n 20 "$W/apt.log")"; bail_out "no Postfix"; }

cp "$DEB" "$R/root/"
inroot sh -c 'cd /root && apt-get install -y -q --no-install-recommends ./sinkd_*.deb' \
	>>"$W/apt.log" 2>&1
ok $? "apt-get install ./sinkd_*.deb in the root" || diag "$(tail -n 30 "$W/apt.log")"
rm -f "$R"/root/sinkd_*.deb
is "$(inroot dpkg-query -W -f='${Status}' sinkd 2>&1)" "install ok installed" "  sinkd is installed"

# --- what the package installed ---------------------------------------------

IFS=: read -r _ _ SUID _ _ home shell <<<"$(inroot getent passwd sinkd)"
like "$SUID" '^[0-9]+$' "the sinkd user exists"
[ -n "$SUID" ] && [ "$SUID" -lt 1000 ]
ok $? "  a system user (uid $SUID)"
is "$home $shell" "/nonexistent /usr/sbin/nologin" "  no home, no login shell"
like " $(inroot id -nG postfix) " " sinkd " "the postfix user is in the sinkd group (the socket's)"

for f in /usr/sbin/sinkd /usr/sbin/sinkd-quarantine /usr/sbin/sinkd-archive; do
	[ -x "$R$f" ]
	ok $? "$f"
done
for f in man8/sinkd.8 man8/sinkd-quarantine.8 man8/sinkd-archive.8 man5/sinkd.conf.5 \
	man5/sinkd-policy.5; do
	[ -f "$R/usr/share/man/$f.gz" ]
	ok $? "the man page $f"
done
conffiles=$(inroot dpkg-query -W -f='${Conffiles}\n' sinkd | awk 'NF { print $1 }')
for f in /etc/sinkd/sinkd.conf /etc/sinkd/domains/default.conf /etc/sinkd/lists/example.com.lists \
	/etc/sinkd/disclaimer.txt /etc/logrotate.d/sinkd; do
	like "$conffiles" "(^|"$'\n'")$f("$'\n'"|$)" "$f is a conffile"
done
UNIT=$R/lib/systemd/system/sinkd.service
[ -f "$UNIT" ]
ok $? "the systemd unit in /lib/systemd/system"
is "$(sed -n 's/^ExecStart=//p' "$UNIT")" "/usr/sbin/sinkd -f -c /etc/sinkd/sinkd.conf" \
	"  it runs the installed sinkd on /etc/sinkd/sinkd.conf"
[ -L "$R/etc/systemd/system/multi-user.target.wants/sinkd.service" ]
ok $? "  enabled"
is "$(inroot stat -c '%a %U:%G' /var/lib/sinkd /var/lib/sinkd/quarantine 2>&1 | tr '\n' ' ')" \
	"755 root:root 700 sinkd:sinkd " "/var/lib/sinkd is root's, its quarantine sinkd's alone"
like "$(cat "$R/etc/sinkd/sinkd.conf")" $'\n#module = /usr/lib/sinkd/sinks/attachhash.so\n' \
	"sinkd.conf names the installed attachhash.so"
[ -f "$R/usr/lib/sinkd/sinks/attachhash.so" ]
ok $? "  which is there"
out=$(inroot sinkd -n -c /etc/sinkd/sinkd.conf 2>&1)
ok $? "sinkd -n accepts the installed configuration" || diag "$out"
out=$(inroot sinkd-quarantine list 2>&1)
ok $? "sinkd-quarantine list works on the installed configuration" || diag "$out"

# --- sinkd started as the unit starts it ------------------------------------

# signatures for the embedded engine (the directory clamav-freshclam
# keeps, none fetched here): EICAR's text, as an .ndb body signature
hex=$(printf 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' | od -An -v -tx1 | tr -d ' \n')
echo "Deb-Check-Eicar:0:*:$hex" >"$R/var/lib/clamav/deb-check.ndb"

# with a log file too, as sinkd.conf's comment suggests: an administrator's
# change to a conffile, which purge must take away as well
sed -i 's|^#log-file = /var/log/sinkd/sinkd.log|log-file = /var/log/sinkd/sinkd.log|' \
	"$R/etc/sinkd/sinkd.conf"
like "$(cat "$R/etc/sinkd/sinkd.conf")" $'\nlog-file = /var/log/sinkd/sinkd.log' \
	"log-file set in /etc/sinkd/sinkd.conf"

# unitval KEY: the values of KEY= in the unit, one a line, in order
unitval() { sed -n "s/^$1=//p" "$UNIT"; }
for d in Runtime:/run State:/var/lib Logs:/var/log; do
	name=$(unitval "${d%%:*}Directory")
	mode=$(unitval "${d%%:*}DirectoryMode")
	[ -n "$name" ] && install -d -m "${mode:-0755}" "$R${d#*:}/$name"
done
umask_unit=$(unitval UMask)
prefail=
while read -r cmd; do
	cmd=${cmd#+}
	cmd=${cmd#-}
	# shellcheck disable=SC2086 # the unit's words, as systemd splits them
	out=$( (umask "$umask_unit" && inroot $cmd) 2>&1) || { prefail="$cmd: $out"; break; }
done < <(unitval ExecStartPre)
is "$prefail" "" "the unit's ExecStartPre lines succeed"
start=$(unitval ExecStart)
# shellcheck disable=SC2086
(umask "$umask_unit" && exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	LC_ALL=C.UTF-8 $start) >"$W/sinkd.log" 2>&1 </dev/null &
SINKD_PID=$!
for _ in $(seq 1 100); do
	[ -S "$R/run/sinkd/sinkd.sock" ] && break
	kill -0 "$SINKD_PID" 2>/dev/null || break
	sleep 0.2
done
[ -S "$R/run/sinkd/sinkd.sock" ]
ok $? "sinkd listens on /run/sinkd/sinkd.sock" || diag "$(cat "$W/sinkd.log")"
is "$(inroot stat -c '%a %U:%G' /run/sinkd /run/sinkd/sinkd.sock 2>&1 | tr '\n' ' ')" \
	"750 sinkd:sinkd 660 sinkd:sinkd " "  the socket is the sinkd group's alone"
is "$(inroot stat -c '%a %U:%G' /run/sinkd/spool /run/sinkd/tmp 2>&1 | tr '\n' ' ')" \
	"700 sinkd:sinkd 700 sinkd:sinkd " "  spool-dir and the clamav tmpdir made in /run/sinkd, sinkd's alone"
is "$(stat -c %u "/proc/$SINKD_PID" 2>&1)" "$SUID" "  sinkd runs as its user"

# --- a message through Postfix -----------------------------------------------

PORT=
for _ in $(seq 1 200); do
	p=$((10000 + RANDOM % 22000))
	if ! grep -qE "^ *[0-9]+: [0-9A-F]{8}:$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
		PORT=$p
		break
	fi
done
[ -n "$PORT" ] || bail_out "no free port"
inroot useradd -m rcpt
: >"$R/etc/postfix/main.cf"
inroot postconf -e "compatibility_level = 3.6" "myhostname = mx.deb-check.test" \
	"mydomain = deb-check.test" "myorigin = deb-check.test" \
	"mydestination = deb-check.test, localhost" "inet_interfaces = 127.0.0.1" \
	"inet_protocols = ipv4" "mynetworks = 127.0.0.0/8" "alias_maps =" "alias_database =" \
	"home_mailbox = Maildir/" "smtpd_peername_lookup = no" "smtputf8_enable = no" \
	"maillog_file = /var/log/postfix.log"
# the lines the package documents for main.cf, as they are
doc=$(zcat -f "$R/usr/share/doc/sinkd/etc/postfix-main.cf" | grep -vE '^[[:space:]]*(#|$)')
like "$doc" "smtpd_milters = unix:/run/sinkd/sinkd.sock" "the package documents the main.cf lines"
while read -r line; do
	inroot postconf -e "$line"
done <<<"$doc"
# Debian runs smtpd and cleanup chrooted, away from /run: the documented
# way out, chroot column n; smtpd on 127.0.0.1:PORT
inroot postconf -F '*/*/chroot = n'
inroot postconf -M# smtp/inet
inroot postconf -Me "127.0.0.1:$PORT/inet = 127.0.0.1:$PORT inet n - n - - smtpd"
out=$(inroot postfix start 2>&1)
ok $? "Postfix starts in the root" || diag "$out"

for _ in $(seq 1 50); do
	grep -qE "^ *[0-9]+: [0-9A-F]{8}:$(printf '%04X' "$PORT") [0-9A-F]{8}:0000 0A" /proc/net/tcp && break
	sleep 0.2
done
out=$(swaks --server 127.0.0.1 --port "$PORT" --from sender@deb-check.test \
	--to rcpt@deb-check.test --header 'Subject: through the package' \
	--body 'Sent through Postfix and the installed sinkd.' 2>&1)
like "$out" "250 2.0.0 Ok: queued" "Postfix accepts a message" || diag "$out"
msg=
for _ in $(seq 1 100); do
	msg=$(cat "$R"/home/rcpt/Maildir/new/* 2>/dev/null)
	[ -n "$msg" ] && break
	sleep 0.2
done
like "$msg" "Sent through Postfix and the installed sinkd" "it is delivered" \
	|| diag "$(cat "$R/var/log/postfix.log" 2>/dev/null | tail -n 20)"
like "$msg" "This message from sender@deb-check.test may contain confidential information" \
	"  with the disclaimer the installed sinkd added (outbound mail, etc/disclaimer.txt)"

# the package's logrotate entry: the file renamed, sinkd writes a new one
like "$(cat "$R/var/log/sinkd/sinkd.log" 2>&1)" "from=<sender@deb-check.test>" \
	"sinkd logs the message to /var/log/sinkd/sinkd.log"
out=$(inroot logrotate -f /etc/logrotate.d/sinkd 2>&1)
ok $? "logrotate -f /etc/logrotate.d/sinkd" || diag "$out"
like "$(cat "$R/var/log/sinkd/sinkd.log.1" 2>&1)" "from=<sender@deb-check.test>" \
	"  the log is now sinkd.log.1"

out=$(swaks --server 127.0.0.1 --port "$PORT" --from sender@deb-check.test \
	--to rcpt@deb-check.test --header 'Subject: a virus' \
	--body 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' 2>&1)
like "$out" "550 5.7.1 Message contains a virus \\(Deb-Check-Eicar" \
	"a virus is refused by the installed libclamav engine" || diag "$out"
for _ in $(seq 1 25); do
	grep -q Deb-Check-Eicar "$R/var/log/sinkd/sinkd.log" 2>/dev/null && break
	sleep 0.2
done
like "$(cat "$R/var/log/sinkd/sinkd.log" 2>&1)" "Deb-Check-Eicar" \
	"  logged to a new sinkd.log: sinkd opened it again on logrotate's SIGUSR1"

# --- stop, purge, nothing left ----------------------------------------------

inroot postfix stop >/dev/null 2>&1
kill -TERM "$SINKD_PID"
for _ in $(seq 1 200); do
	kill -0 "$SINKD_PID" 2>/dev/null || break
	sleep 0.2
done
wait "$SINKD_PID"
ok $? "sinkd stops on SIGTERM, with status 0" || diag "$(tail -n 20 "$W/sinkd.log")"
SINKD_PID=
kill_root_procs

inroot dpkg -L sinkd >"$W/files"
inroot apt-get purge -y -q sinkd >>"$W/apt.log" 2>&1
ok $? "apt-get purge sinkd" || diag "$(tail -n 20 "$W/apt.log")"
like "$(inroot dpkg-query -W -f='${Status}' sinkd 2>&1)" "^(dpkg-query: no packages found|unknown ok not-installed)" \
	"  the package is gone, configuration too"
left=
while read -r f; do
	[ -e "$R$f" ] || [ -L "$R$f" ] || continue
	# directories the package shares with others stay
	[ -d "$R$f" ] && [[ $f != *sinkd* ]] && continue
	left="$left $f"
done <"$W/files"
is "$left" "" "none of the package's files is left"
for d in /etc/sinkd /var/lib/sinkd /var/spool/sinkd /var/log/sinkd /run/sinkd; do
	[ ! -e "$R$d" ]
	ok $? "  $d is gone"
done
is "$(find "$R" -xdev -name '*sinkd*' -printf '/%P\n' 2>&1)" "" \
	"  nothing named sinkd anywhere in the root (unit links, dpkg and deb-systemd-helper state)"
is "$(find "$R" -xdev -uid "$SUID" -printf '/%P\n' 2>&1)" "" \
	"  no file is left owned by the sinkd user"
like "$(inroot getent passwd sinkd)" "^sinkd:" \
	"  the sinkd user is kept, as Debian keeps system users (its uid is never reused)"
done_testing
