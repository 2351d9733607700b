# sendmail.sh - run a private, real Sendmail on loopback for sinkd's
# end-to-end tests.  Bash only; source it.
#
# Sendmail is never installed (its packages conflict with postfix): the
# Debian packages are downloaded and unpacked into a cache directory and the
# binary is run from there, with a sendmail.cf built by m4 for one test
# instance whose every file lives under one directory.
#
#   sm_fetch CACHE                  download + unpack sendmail into CACHE/root
#   sm_setup DIR PORT [MILTER]      build DIR/etc/sendmail.cf (MILTER empty:
#                                   no filter) and make DIR the current instance
#   sm_use DIR                      make an instance set up earlier current
#   sm_start / sm_stop [DIR]        start (waits for the port) / stop it;
#                                   sm_start sets SM_NS (mount, uts, none)
#   sm_client_name                  ${client_name} Sendmail gives 127.0.0.1
#   sm_stop_all                     stop every instance started by this shell
#   sm_swaks ARGS...                swaks against the current instance
#   sm_mailbox RCPT                 directory holding the messages for RCPT
#   sm_delivered_count RCPT         number of messages delivered to RCPT
#   sm_wait_delivered RCPT N [T]    wait up to T s (20) for N messages
#   sm_last_message RCPT            print the newest message for RCPT
#   sm_diag                         print the instance's evidence to stderr
#   sm_free_port                    print a loopback port nothing listens on
#   sm_etc_state                    print what an instance must leave as it
#                                   found it: the machine's /etc/hosts and
#                                   /etc/nsswitch.conf, bytes and mounts
#
# Two settings, both unset by default (the behaviour above):
#   SM_CF_OPTIONS     read by sm_setup: options of the instance's own, one
#                     Name=Value a line (e.g. DeliveryMode=q), written as
#                     "O Name=Value" at the end of its sendmail.cf, after
#                     everything m4 wrote, so that they win
#   SM_NO_QUEUE_RUNS  read by sm_start: set (to anything), the daemon runs
#                     no queue (no -q1s): with DeliveryMode=q in
#                     SM_CF_OPTIONS, what Sendmail accepted stays in
#                     DIR/queue, undelivered, for the test to read
#
# Every recipient in every domain is delivered by a file mailer: the message
# (as Sendmail hands it over: Return-Path, Received and any header the filter
# added included) ends up in DIR/mail/<recipient address, lower-cased>/<name>,
# names sort in delivery order.  No DNS lookup is made.
#
# Instance layout: DIR/etc (sendmail.mc, sendmail.cf, hosts, ...), DIR/queue,
# DIR/mail, DIR/deliver.sh (the mailer), DIR/sendmail.out (the daemon's
# stdout/stderr), DIR/traffic.log (-X: every SMTP session, both directions),
# DIR/debug.log (only with SM_DEBUG=CATEGORY.LEVEL, e.g. SM_DEBUG=64.5 for
# Sendmail's milter debugging; -D keeps it out of the SMTP stream).
#
# Traps this works around (see also /work/shared/LAB-NOTES.md):
# - an unqualified host name makes Sendmail sleep 60 s at every start before
#   it reads its .cf: it runs in its own UTS namespace as mx.sinkd.test;
# - before it reads its .cf it also looks that name up through the system
#   resolver: in a mount namespace of its own (where unshare allows one)
#   the instance's hosts and nsswitch.conf are bound over /etc's, so no
#   DNS is asked; without one (SM_NO_MOUNT_NS=1 forces that path) nothing
#   is mounted and the machine's resolver answers that one look-up.  The
#   .cf names its own HostsFile, ServiceSwitchFile (hosts: files) and $j,
#   so Sendmail asks no DNS after it either way.  The machine's files are
#   never changed.  sm_start sets SM_NS to mount, uts or none;
# - Sendmail refuses the queue, and a unix milter socket, below any group- or
#   world-writable directory (so never under /tmp): sm_setup checks first;
# - there is no syslog, so Sendmail's log is lost: the SMTP replies,
#   traffic.log and the filter's own log are the evidence;
# - -d debugging without -D goes to stdout, which in a connection handler is
#   the SMTP socket: clients see garbage instead of replies;
# - the m4 arguments of INPUT_MAIL_FILTER and DAEMON_OPTIONS must be quoted:
#   unquoted, everything after the first comma (F=, T=; Addr=) is silently
#   dropped; without FEATURE(no_default_msa) it also listens on port 587;
# - QueueLA/RefuseLA default to 8/12 times the CPU count: a loaded CI box
#   would queue or refuse mail, so both are raised;
# - 8-bit bodies: the mailer has F=8 so Sendmail does not convert them to
#   quoted-printable on delivery.
# - the instance may live on a noexec file system (/run is mounted noexec
#   by Debian's initramfs): the mailer is /bin/sh running DIR/deliver.sh,
#   never DIR/deliver.sh executed directly.

SM_HOSTNAME=${SM_HOSTNAME:-mx.sinkd.test}
SM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SM_CACHE=${SM_CACHE:-$(cd "$SM_LIB_DIR/.." && pwd)/work/sendmail-debs}
SM_STARTED=${SM_STARTED:-}
SM_NS=

_sm_err() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }

# ---------------------------------------------------------------- fetching

_sm_pkg_ok() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'
}

# sm_fetch [CACHE]: make sure CACHE/root holds an unpacked Sendmail and that
# the libraries its binary needs are installed.  Quiet on success.  Sets
# SM_CACHE, SM_ROOT, SM_BIN, SM_CFDIR, SM_M4.  Serialised by CACHE/.lock, so
# test scripts run in parallel can all call it.
sm_fetch() {
	local cache=${1:-$SM_CACHE} rc
	case $cache in
	/*) ;;
	*) _sm_err "sm_fetch: CACHE must be an absolute directory, got '$cache'"; return 2 ;;
	esac
	mkdir -p "$cache" || { _sm_err "sm_fetch: cannot create $cache"; return 1; }
	SM_CACHE=$cache
	SM_ROOT=$cache/root
	SM_BIN=$SM_ROOT/usr/libexec/sendmail/sendmail
	SM_CFDIR=$SM_ROOT/usr/share/sendmail/cf
	{
		if ! flock -w 600 8; then
			_sm_err "sm_fetch: could not lock $cache/.lock"
			return 1
		fi
		_sm_fetch_locked
	} 8>"$cache/.lock"
	rc=$?
	[ "$rc" -eq 0 ] || return "$rc"
	if command -v m4 >/dev/null 2>&1; then
		SM_M4=$(command -v m4)
	elif [ -x "$SM_ROOT/usr/bin/m4" ]; then
		SM_M4=$SM_ROOT/usr/bin/m4
	else
		_sm_err "sm_fetch: no m4 found (system or $SM_ROOT/usr/bin/m4)"
		return 1
	fi
	return 0
}

_sm_apt() {
	DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 "$@" </dev/null 2>&1
}

_sm_fetch_locked() {
	local cache=$SM_CACHE pkgs="sendmail-bin sendmail-base sendmail-cf m4" p out missing= deb
	if [ ! -f "$SM_ROOT/.sm-complete" ] || [ ! -x "$SM_BIN" ] || [ ! -f "$SM_CFDIR/m4/cf.m4" ]; then
		for p in $pkgs; do
			ls "$cache/${p}"_*.deb >/dev/null 2>&1 || missing="$missing $p"
		done
		if [ -n "$missing" ]; then
			# (apt warns when _apt cannot write the directory: only
			# shown on failure)
			if ! out=$(cd "$cache" && _sm_apt download $missing); then
				# the package lists may be missing or stale: once
				if ! out=$(_sm_apt update && cd "$cache" && _sm_apt download $missing); then
					_sm_err "sm_fetch: apt-get download$missing failed in $cache:" "$out"
					return 1
				fi
			fi
		fi
		rm -rf "$SM_ROOT"
		mkdir -p "$SM_ROOT" || return 1
		for p in $pkgs; do
			deb=$(ls "$cache/${p}"_*.deb | sort -V | tail -n 1)
			if ! out=$(dpkg -x "$deb" "$SM_ROOT" 2>&1); then
				_sm_err "sm_fetch: dpkg -x $deb failed:" "$out"
				return 1
			fi
		done
		if [ ! -x "$SM_BIN" ] || [ ! -f "$SM_CFDIR/m4/cf.m4" ]; then
			_sm_err "sm_fetch: the unpacked packages lack $SM_BIN or $SM_CFDIR/m4/cf.m4"
			return 1
		fi
		: >"$SM_ROOT/.sm-complete"
	fi

	missing=
	for p in libwrap0 liblockfile1; do
		_sm_pkg_ok "$p" || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		if ! out=$(_sm_apt install -y $missing); then
			# the package lists may be missing or stale: once
			if ! out=$(_sm_apt update && _sm_apt install -y $missing); then
				_sm_err "sm_fetch: apt-get install$missing failed:" "$out"
				return 1
			fi
		fi
	fi
	if out=$(ldd "$SM_BIN" 2>&1 | grep 'not found'); then
		_sm_err "sm_fetch: $SM_BIN still lacks libraries:" "$out"
		return 1
	fi
	return 0
}

# ------------------------------------------------------------------ setup

# _sm_safe_path PATH WHAT: PATH and all its ancestors must be free of group
# and world write permission (Sendmail's safefile checks).
_sm_safe_path() {
	local p=$1 what=$2 mode
	while :; do
		if [ -e "$p" ]; then
			mode=$(stat -L -c '%a' "$p") || return 1
			if [ $((8#$mode & 8#022)) -ne 0 ]; then
				_sm_err "sm_setup: $what: $p is group/world writable (mode $mode);" \
					"Sendmail refuses anything below such a directory (e.g. /tmp)"
				return 1
			fi
		fi
		[ "$p" = / ] && break
		p=$(dirname "$p")
	done
	return 0
}

# _sm_milter_spec SOCKET: Sendmail's spelling of a milter socket.
#   unix:/p local:/p /p  -> unix:/p
#   inet:PORT@HOST       -> unchanged      inet:HOST:PORT -> inet:PORT@HOST
_sm_milter_spec() {
	local s=$1
	case $s in
	/*) echo "unix:$s" ;;
	unix:/* | local:/*) echo "unix:${s#*:}" ;;
	inet:*@* | inet6:*@*) echo "$s" ;;
	inet:*:*) echo "inet:${s##*:}@$(echo "${s#inet:}" | sed 's/:[^:]*$//')" ;;
	*) return 1 ;;
	esac
}

# _sm_load DIR: make DIR (set up by sm_setup) the current instance.
_sm_load() {
	[ -f "$1/instance.env" ] || { _sm_err "sm: $1 is not a sendmail instance (run sm_setup)"; return 1; }
	. "$1/instance.env"
}

sm_use() { _sm_load "$1"; }

# sm_setup DIR PORT [MILTER_SOCKET]
sm_setup() {
	local dir=$1 port=$2 milter=${3:-} spec= sockpath out
	if [ $# -lt 2 ]; then
		_sm_err "usage: sm_setup DIR PORT [MILTER_SOCKET]"
		return 2
	fi
	case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
	case $port in
	'' | *[!0-9]*) _sm_err "sm_setup: bad port '$port'"; return 2 ;;
	esac
	if [ -z "${SM_BIN:-}" ] || [ ! -x "$SM_BIN" ]; then
		sm_fetch "$SM_CACHE" || return 1
	fi
	if [ -n "$milter" ]; then
		spec=$(_sm_milter_spec "$milter") || {
			_sm_err "sm_setup: milter socket '$milter' is not unix:/abs/path, local:/abs/path or inet:PORT@HOST"
			return 2
		}
		case $spec in
		unix:*)
			sockpath=${spec#unix:}
			_sm_safe_path "$(dirname "$sockpath")" "milter socket $sockpath" || return 1
			;;
		esac
	fi

	mkdir -p "$dir" || return 1
	chmod 755 "$dir"
	_sm_safe_path "$dir" "instance directory" || return 1
	if [ -f "$dir/sendmail.pid" ] && _sm_alive "$(head -n 1 "$dir/sendmail.pid")"; then
		_sm_err "sm_setup: an instance is still running in $dir (sm_stop it first)"
		return 1
	fi
	# a fresh instance: old mail, queue and logs go
	rm -rf "$dir/mail" "$dir/queue" "$dir/hoststat" "$dir/etc" "$dir/sendmail.out" \
		"$dir/traffic.log" "$dir/debug.log" "$dir/sendmail.pid" "$dir/daemon.pid" \
		"$dir/deliver.sh" "$dir/dead.letter" "$dir/instance.env"
	mkdir -p "$dir/etc" "$dir/mail" "$dir/queue" "$dir/hoststat" || return 1
	chmod 755 "$dir/etc" "$dir/mail"
	chmod 700 "$dir/queue" "$dir/hoststat"

	# The file mailer: argv[1] is the recipient address.  Writes to a dot
	# file and renames so that a reader never sees a partial message.
	cat >"$dir/deliver.sh" <<EOF
#!/bin/sh
# deliver.sh RCPT - sendmail mailer of a test instance: stdin -> one file
rcpt=\$(printf '%s' "\$1" | tr 'A-Z/' 'a-z_' | sed 's/^\\./_/')
[ -n "\$rcpt" ] || rcpt=_
d='$dir/mail'/\$rcpt
mkdir -p "\$d" || exit 75
n=\$(date +%s%N).\$\$
cat >"\$d/.tmp.\$n" && mv "\$d/.tmp.\$n" "\$d/\$n" && exit 0
rm -f "\$d/.tmp.\$n"
exit 75
EOF
	chmod 755 "$dir/deliver.sh"

	# hosts: the .cf's HostsFile; with nsswitch.conf, bound over /etc's
	# inside sm_start's mount namespace (when there is one): names from
	# this file only, never DNS
	printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
		"$SM_HOSTNAME" >"$dir/etc/hosts"
	if [ -f /etc/nsswitch.conf ]; then
		sed 's/^hosts:.*/hosts:          files/' /etc/nsswitch.conf
	else
		printf 'passwd: files\ngroup: files\nhosts: files\n'
	fi >"$dir/etc/nsswitch.conf"
	printf 'hosts\tfiles\naliases\tfiles\n' >"$dir/etc/service.switch"
	printf 'postmaster: root\n' >"$dir/etc/aliases"
	: >"$dir/etc/statistics"
	: >"$dir/etc/helpfile"
	chmod 644 "$dir/etc"/*

	{
		cat <<EOF
divert(-1)dnl
# sendmail.mc of a sinkd test instance, generated by t/lib/sendmail.sh
define(\`MAIL_SETTINGS_DIR', \`$dir/etc/')
divert(0)dnl
VERSIONID(\`sinkd test instance')
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl
define(\`QUEUE_DIR', \`$dir/queue')dnl
define(\`confPID_FILE', \`$dir/sendmail.pid')dnl
define(\`STATUS_FILE', \`$dir/etc/statistics')dnl
define(\`ALIAS_FILE', \`$dir/etc/aliases')dnl
define(\`HELP_FILE', \`$dir/etc/helpfile')dnl
define(\`confHOST_STATUS_DIRECTORY', \`$dir/hoststat')dnl
define(\`confSERVICE_SWITCH_FILE', \`$dir/etc/service.switch')dnl
define(\`confHOSTS_FILE', \`$dir/etc/hosts')dnl
define(\`confDEAD_LETTER_DROP', \`$dir/dead.letter')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confDEF_USER_ID', \`mail:mail')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confQUEUE_LA', \`999')dnl
define(\`confREFUSE_LA', \`999')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`confMIN_QUEUE_AGE', \`0s')dnl
define(\`confPRIVACY_OPTIONS', \`authwarnings')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confMILTER_LOG_LEVEL', \`14')dnl
define(\`LOCAL_MAILER_PATH', \`$dir/deliver.sh')dnl
define(\`LOCAL_MAILER_ARGS', \`deliver.sh \$u')dnl
define(\`LOCAL_MAILER_FLAGS', \`SPn')dnl
define(\`LOCAL_SHELL_PATH', \`/bin/false')dnl
define(\`confMILTER_MACROS_CONNECT', \`\`j, _, {daemon_name}, {daemon_addr}, {daemon_port}, {if_name}, {if_addr}, {client_addr}, {client_port}, {client_name}, {client_ptr}, {client_resolve}'')dnl
define(\`confMILTER_MACROS_HELO', \`\`{tls_version}, {cipher}, {cipher_bits}, {cert_subject}, {cert_issuer}'')dnl
define(\`confMILTER_MACROS_ENVFROM', \`\`i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}'')dnl
define(\`confMILTER_MACROS_ENVRCPT', \`\`i, {rcpt_mailer}, {rcpt_host}, {rcpt_addr}'')dnl
define(\`confMILTER_MACROS_DATA', \`i')dnl
define(\`confMILTER_MACROS_EOH', \`i')dnl
define(\`confMILTER_MACROS_EOM', \`\`i, {msg_id}'')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`accept_unqualified_senders')dnl
FEATURE(\`promiscuous_relay')dnl
DAEMON_OPTIONS(\`Port=$port, Addr=127.0.0.1, Name=MTA')dnl
EOF
		[ -n "$spec" ] &&
			printf "INPUT_MAIL_FILTER(\`sinkd', \`S=%s, F=T, T=C:10s;S:30s;R:30s;E:5m')dnl\n" "$spec"
		cat <<EOF
MAILER(\`local')dnl
LOCAL_RULE_0
# every address, in any domain or none, goes to the file mailer
EOF
		printf 'R$* < @ $* > $*\t$#sinkfile $: $1 < @ $2 > $3\n'
		printf 'R$+\t$#sinkfile $: $1\n'
		cat <<EOF
MAILER_DEFINITIONS
Msinkfile,	P=/bin/sh, F=lsDFMPhnu8S, S=0, R=0, T=DNS/RFC822/X-Unix,
	A=sh \`$dir/deliver.sh' \$u
EOF
	} >"$dir/etc/sendmail.mc"

	if ! out=$(cd "$dir/etc" && "$SM_M4" -D_CF_DIR_="$SM_CFDIR/" "$SM_CFDIR/m4/cf.m4" sendmail.mc 2>&1 >sendmail.cf); then
		_sm_err "sm_setup: m4 failed on $dir/etc/sendmail.mc:" "$out"
		return 1
	fi
	if printf '%s\n' "$out" | grep -q 'ERROR'; then
		_sm_err "sm_setup: m4 reported errors for $dir/etc/sendmail.mc:" "$out"
		return 1
	fi
	if [ -n "${SM_CF_OPTIONS:-}" ]; then
		if ! out=$(printf '%s\n' "$SM_CF_OPTIONS" | awk '
			/^[ \t]*$/ { next }
			!/^[A-Za-z][A-Za-z0-9.]*=/ { bad = bad " \"" $0 "\""; next }
			{ opts = opts "O " $0 "\n" }
			END {
				if (bad != "") { print "not Name=Value:" bad; exit 1 }
				printf "\n# SM_CF_OPTIONS (t/lib/sendmail.sh)\n%s", opts
			}'); then
			_sm_err "sm_setup: SM_CF_OPTIONS: $out"
			return 2
		fi
		printf '%s\n' "$out" >>"$dir/etc/sendmail.cf"
	fi
	chmod 644 "$dir/etc/sendmail.cf" "$dir/etc/sendmail.mc"

	printf 'SM_DIR=%q\nSM_PORT=%q\nSM_MILTER=%q\nSM_CF=%q\nSM_BIN=%q\n' \
		"$dir" "$port" "$spec" "$dir/etc/sendmail.cf" "$SM_BIN" >"$dir/instance.env"
	_sm_load "$dir"
}

# ---------------------------------------------------------------- running

# alive and not a zombie
_sm_alive() {
	local st
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)
	[ "$st" != Z ]
}

# _sm_greeting PORT: print the first line the port sends, fail if none
_sm_greeting() {
	local line
	exec 9<>"/dev/tcp/127.0.0.1/$1" || return 1
	IFS= read -r -t 3 line <&9
	printf 'QUIT\r\n' >&9 2>/dev/null
	exec 9<&- 9>&-
	[ -n "$line" ] || return 1
	printf '%s\n' "$line"
}

sm_diag() {
	local d=${1:-${SM_DIR:-}}
	_sm_err "sendmail instance $d (port ${SM_PORT:-?}, milter '${SM_MILTER:-none}')"
	if [ -s "$d/sendmail.out" ]; then
		_sm_err "--- $d/sendmail.out:"
		sed 's/^/# /' "$d/sendmail.out" | tail -n 40 >&2
	fi
	if [ -s "$d/traffic.log" ]; then
		_sm_err "--- last of $d/traffic.log:"
		tail -n 30 "$d/traffic.log" | sed 's/^/# /' >&2
	fi
	if [ -n "$(ls -A "$d/queue" 2>/dev/null)" ]; then
		_sm_err "--- queue:"
		ls -la "$d/queue" 2>&1 | sed 's/^/# /' >&2
	fi
}

# sm_start [DIR] [TIMEOUT=30]: start the instance, wait for its 220 greeting
sm_start() {
	local timeout=${2:-30} pid= end greet= ns gone= qrun=-q1s
	[ -n "${SM_NO_QUEUE_RUNS:-}" ] && qrun=
	if [ -n "${1:-}" ]; then _sm_load "$1" || return 1; fi
	[ -n "${SM_DIR:-}" ] || { _sm_err "sm_start: no instance (run sm_setup)"; return 1; }
	if greet=$(_sm_greeting "$SM_PORT" 2>/dev/null); then
		_sm_err "sm_start: port $SM_PORT already answers: $greet"
		return 1
	fi
	# unshare: a qualified host name (a UTS namespace) and, where a mount
	# namespace of the instance's own is allowed, /etc/hosts and
	# /etc/nsswitch.conf of its own bound inside it (Sendmail resolves its
	# name through the system resolver before it reads the .cf: with
	# these, no DNS at all).  Nothing is ever mounted outside a namespace
	# of the instance's own: without one (a chroot, some containers, or
	# SM_NO_MOUNT_NS=1) the machine's resolver answers that one early
	# look-up, and the .cf's own HostsFile, ServiceSwitchFile and $j
	# serve the rest.
	if [ -z "${SM_NO_MOUNT_NS:-}" ] &&
		unshare --uts --mount --propagation private true 2>/dev/null; then
		ns="--uts --mount --propagation private"
	elif unshare --uts true 2>/dev/null; then
		ns="--uts"
	else
		ns=
		case $(hostname) in
		*.*) ;;
		*)
			_sm_err "sm_start: cannot unshare a UTS namespace and the host name" \
				"'$(hostname)' is unqualified (Sendmail would sleep 60 s)"
			return 1
			;;
		esac
	fi
	case $ns in
	*--mount*) SM_NS=mount ;;
	?*) SM_NS=uts ;;
	*) SM_NS=none ;;
	esac
	rm -f "$SM_DIR/sendmail.pid" "$SM_DIR/daemon.pid"
	: >"$SM_DIR/sendmail.out"
	# setsid: its own process group, which sm_stop kills (connection
	# handlers and queue runners included); -bD: daemon in the foreground,
	# so that $! is Sendmail itself; -q1s: a queue run every second
	# (none with SM_NO_QUEUE_RUNS).
	if [ -n "$ns" ]; then
		setsid unshare $ns sh -c '
			etc=$1 host=$2 ns=$3
			shift 3
			# only ever in the mount namespace made for this instance
			if [ "$ns" = mount ] &&
				mount --bind "$etc/hosts" /etc/hosts 2>/dev/null; then
				mount --bind "$etc/nsswitch.conf" /etc/nsswitch.conf 2>/dev/null
			fi
			hostname "$host" && exec "$@"' sh \
			"$SM_DIR/etc" "$SM_HOSTNAME" "$SM_NS" \
			"$SM_BIN" -C "$SM_CF" -bD $qrun -X "$SM_DIR/traffic.log" \
			${SM_DEBUG:+-D "$SM_DIR/debug.log" "-d$SM_DEBUG"} \
			</dev/null >>"$SM_DIR/sendmail.out" 2>&1 &
	else
		setsid "$SM_BIN" -C "$SM_CF" -bD $qrun -X "$SM_DIR/traffic.log" \
			${SM_DEBUG:+-D "$SM_DIR/debug.log" "-d$SM_DEBUG"} \
			</dev/null >>"$SM_DIR/sendmail.out" 2>&1 &
	fi
	pid=$!
	disown "$pid" 2>/dev/null
	echo "$pid" >"$SM_DIR/daemon.pid"
	end=$((SECONDS + timeout))
	while :; do
		greet=$(_sm_greeting "$SM_PORT" 2>/dev/null) && case $greet in 220*) break ;; esac
		if ! _sm_alive "$pid"; then
			# setsid forks when it leads a process group (job control
			# on): $! was setsid, Sendmail's pid file tells the real one
			if [ -s "$SM_DIR/sendmail.pid" ] &&
				_sm_alive "$(head -n 1 "$SM_DIR/sendmail.pid")"; then
				pid=$(head -n 1 "$SM_DIR/sendmail.pid")
				echo "$pid" >"$SM_DIR/daemon.pid"
				continue
			fi
			if [ -z "$gone" ]; then
				gone=$((SECONDS + 5))
			fi
			if [ "$SECONDS" -lt "$gone" ]; then
				sleep 0.1
				continue
			fi
			_sm_err "sm_start: sendmail exited during start"
			sm_diag
			rm -f "$SM_DIR/daemon.pid"
			return 1
		fi
		if [ "$SECONDS" -ge "$end" ]; then
			_sm_err "sm_start: port $SM_PORT gave no 220 greeting within ${timeout}s" \
				"(last: '${greet:-nothing}')"
			sm_diag
			sm_stop
			return 1
		fi
		sleep 0.1
	done
	# Sendmail's own pid file is the truth (setsid forks under job control)
	end=$((SECONDS + 3))
	while [ ! -s "$SM_DIR/sendmail.pid" ] && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.1
	done
	if [ -s "$SM_DIR/sendmail.pid" ] && _sm_alive "$(head -n 1 "$SM_DIR/sendmail.pid")"; then
		head -n 1 "$SM_DIR/sendmail.pid" >"$SM_DIR/daemon.pid"
	fi
	case " $SM_STARTED " in
	*" $SM_DIR "*) ;;
	*) SM_STARTED="$SM_STARTED $SM_DIR" ;;
	esac
	return 0
}

# _sm_kill PID: TERM the process group PID leads (else PID), wait, then KILL
_sm_kill() {
	local pid=$1 pgid t=100 target
	_sm_alive "$pid" || return 0
	pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
	if [ "$pgid" = "$pid" ]; then target=-$pid; else target=$pid; fi
	kill -TERM -- "$target" 2>/dev/null
	while [ "$t" -gt 0 ] && _sm_alive "$pid"; do
		sleep 0.1
		t=$((t - 1))
	done
	if _sm_alive "$pid"; then
		kill -KILL -- "$target" 2>/dev/null
		t=50
		while [ "$t" -gt 0 ] && _sm_alive "$pid"; do
			sleep 0.1
			t=$((t - 1))
		done
	fi
	# the group's leftovers (connection handlers, queue runners)
	[ "$target" = "-$pid" ] && kill -KILL -- "$target" 2>/dev/null
	! _sm_alive "$pid"
}

# sm_stop [DIR]: stop the instance (default: the current one), wait until gone
sm_stop() {
	local d=${1:-${SM_DIR:-}} pid rc=0
	[ -n "$d" ] || return 0
	for pid in $(head -n 1 "$d/daemon.pid" 2>/dev/null) $(head -n 1 "$d/sendmail.pid" 2>/dev/null); do
		if ! _sm_kill "$pid"; then
			_sm_err "sm_stop: sendmail $pid of $d does not go away"
			rc=1
		fi
	done
	[ "$rc" -eq 0 ] || return 1
	rm -f "$d/daemon.pid" "$d/sendmail.pid"
	SM_STARTED=$(printf '%s\n' $SM_STARTED | grep -vxF -- "$d" | tr '\n' ' ')
	return 0
}

# sm_stop_all: for an EXIT trap
sm_stop_all() {
	local d rc=0
	for d in $SM_STARTED; do
		sm_stop "$d" || rc=1
	done
	return $rc
}

# ------------------------------------------------------------ using it

sm_etc_state() {
	local f
	for f in /etc/hosts /etc/nsswitch.conf; do
		printf '%s %s mount=%s\n' "$f" "$(sha256sum <"$f" 2>/dev/null | cut -c1-64)" \
			"$(findmnt -n -o SOURCE --mountpoint "$f" 2>/dev/null | tr '\n' ' ')"
	done
}

sm_free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
}

# sm_client_name: the name Sendmail gives a client on 127.0.0.1: the
# instance's hosts file says localhost; without a mount namespace it is
# the machine's resolver that answers (the first name it has for
# 127.0.0.1, or [127.0.0.1] when it has none)
sm_client_name() {
	local n=
	if [ "$SM_NS" = mount ]; then
		n=localhost
	else
		n=$(getent hosts 127.0.0.1 | awk '{ print $2; exit }')
	fi
	printf '%s\n' "${n:-[127.0.0.1]}"
}

# sm_swaks ARGS...: swaks to the current instance; stdout and stderr combined
sm_swaks() {
	swaks --server 127.0.0.1 --port "$SM_PORT" --timeout 30 "$@" </dev/null 2>&1
}

# sm_mailbox RCPT: the directory of RCPT's delivered messages (may not exist)
sm_mailbox() {
	local r
	r=$(printf '%s' "$1" | sed 's/^<//; s/>$//' | tr 'A-Z/' 'a-z_' | sed 's/^\./_/')
	[ -n "$r" ] || r=_
	printf '%s\n' "$SM_DIR/mail/$r"
}

# _sm_messages RCPT: the message files of RCPT, oldest first
_sm_messages() {
	local mb
	mb=$(sm_mailbox "$1")
	[ -d "$mb" ] || return 0
	ls "$mb" | grep -v '^\.' | sort | sed "s|^|$mb/|"
}

sm_delivered_count() {
	_sm_messages "$1" | grep -c . || :
}

# sm_wait_delivered RCPT N [TIMEOUT=20]: until RCPT has at least N messages
sm_wait_delivered() {
	local rcpt=$1 n=$2 end=$((SECONDS + ${3:-20})) c
	while :; do
		c=$(sm_delivered_count "$rcpt")
		[ "$c" -ge "$n" ] && return 0
		[ "$SECONDS" -ge "$end" ] && break
		sleep 0.1
	done
	_sm_err "sm_wait_delivered: $rcpt has $c message(s), wanted $n within ${3:-20}s"
	return 1
}

# sm_last_message RCPT: print the newest message delivered to RCPT
sm_last_message() {
	local f
	f=$(_sm_messages "$1" | tail -n 1)
	[ -n "$f" ] || return 1
	cat "$f"
}
