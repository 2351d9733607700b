# postfix.sh - run a private, real Postfix instance for sinkd's end-to-end tests
#
# Source it from a bash test script (as root), then:
#
#   DIR=$(workdir e2e)              (tap.sh: 0755, under /tmp)
#   PORT=$(pf_free_port)
#   pf_setup "$DIR" "$PORT" "unix:$DIR/sinkd.sock" || bail_out "pf_setup"
#   trap pf_cleanup EXIT
#   pf_start || bail_out "pf_start"
#   out=$(pf_swaks --to a@example.org --from b@example.net)
#   pf_wait_delivered a@example.org 1
#   cat "$(pf_last_message a@example.org)"
#
# Every instance lives entirely under its DIR: DIR/etc (main.cf, master.cf,
# maps), DIR/queue, DIR/data, DIR/mail (Maildirs, one per recipient address:
# DIR/mail/<domain>/<local>/new) and DIR/maillog (Postfix's own log; there is
# no syslog here).  smtpd listens on 127.0.0.1:PORT only; no DNS and no
# network are used.  Every recipient address is valid and delivered locally:
# every domain is a virtual mailbox domain whose transport is a pipe(8)
# service running DIR/etc/deliver as nobody, which writes the message into
# the recipient's Maildir (domain lower-cased, local part as given).
# virtual(8) itself cannot do this: it refuses $1 substitution from regexp
# virtual_mailbox_maps ("regular expression substitution is not allowed"),
# so it can only deliver to addresses listed in advance.
# DIR must not contain white space (it goes into master.cf's argv).
#
# Several instances may exist at once: pf_setup makes its instance the
# current one and records it in DIR/pf.env; pf_use DIR switches back to an
# instance set up earlier.  All other pf_ functions act on the current one.
#
# The milter socket: smtpd/cleanup run unchrooted as the postfix user and
# connect to MILTER themselves, so a unix: socket must be in a directory the
# postfix user can traverse (every parent needs o+x, or group postfix) and
# the socket itself must be writable by postfix.  pf_setup does chmod o+x
# on DIR and refuses a DIR whose parents the postfix user cannot traverse
# (it never changes them), so DIR itself is a good place for the socket (keep the path under 108
# bytes, the sun_path limit).  libmilter creates the socket with the
# process umask: a filter started as root with umask 022 gets a 0755
# socket that postfix cannot connect to (every message then gets 451 4.7.1).
# Start it as  (umask 000; exec src/sinkd ... -p unix:$DIR/sinkd.sock) &
# or chmod 666 the socket once it exists.
#
# Diagnostics go to stderr, each line prefixed with '# ' (TAP comments).

PF_DIR=
PF_PORT=
PF_MILTER=
PF_CONF=
PF_STARTED_DIRS=${PF_STARTED_DIRS:-}

# _pf_diag LINE...: print to stderr as TAP comments
_pf_diag() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }

_pf_need_instance() {
	if [ -z "$PF_DIR" ] || [ ! -f "$PF_DIR/etc/main.cf" ]; then
		_pf_diag "postfix.sh: no current instance (call pf_setup or pf_use first)"
		return 1
	fi
}

# pf_free_port: print a TCP port on 127.0.0.1 that nothing listens on
pf_free_port() {
	local port hex i
	for i in $(seq 1 200); do
		# below the usual ephemeral range (32768-60999)
		port=$(( 10000 + RANDOM % 22000 ))
		hex=$(printf '%04X' "$port")
		if ! grep -qE "^ *[0-9]+: [0-9A-F]{8}:$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	_pf_diag "pf_free_port: no free port found"
	return 1
}

# _pf_listening PORT: true when something listens on TCP PORT (IPv4)
_pf_listening() {
	local hex
	hex=$(printf '%04X' "${1:-0}")
	# state 0A = LISTEN
	grep -qE "^ *[0-9]+: [0-9A-F]{8}:$hex [0-9A-F]{8}:[0-9A-F]{4} 0A " /proc/net/tcp 2>/dev/null
}

# _pf_make_traversable DIR: give o+x to DIR (the test's own) and check
# that the postfix user reaches it.  DIR's parents are never changed: they
# may be the machine's own (a checkout under /root, which is 0700): make
# DIR with tap.sh's workdir.
_pf_make_traversable() {
	local d=${1:-}
	chmod o+x "$d" || return 1
	runuser -u postfix -- test -x "$d" 2>/dev/null && return 0
	while [ -n "$d" ] && [ "$d" != / ]; do
		d=${d%/*}
		if [ -d "${d:-/}" ] && ! runuser -u postfix -- test -x "${d:-/}" 2>/dev/null; then
			_pf_diag "postfix.sh: the postfix user cannot traverse ${d:-/}, a parent" \
				"of ${1:-}: make the instance directory with workdir (tap.sh)"
			return 1
		fi
	done
	_pf_diag "postfix.sh: the postfix user cannot reach ${1:-}"
	return 1
}

# pf_setup DIR PORT [MILTER]: create a private Postfix instance under DIR
# (absolute, existing) with smtpd on 127.0.0.1:PORT; MILTER (e.g.
# unix:/abs/sinkd.sock or inet:127.0.0.1:PORT2) becomes smtpd_milters and
# non_smtpd_milters when non-empty.  Makes it the current instance.
pf_setup() {
	local dir=${1:-} port=${2:-} milter=${3:-}
	local vuser vuid vgid pf_has_forbid

	case $dir in
	*[[:space:]]*) _pf_diag "pf_setup: DIR must not contain white space: '$dir'"; return 1 ;;
	/*) ;;
	*) _pf_diag "pf_setup: DIR must be an absolute path: '$dir'"; return 1 ;;
	esac
	dir=${dir%/}
	if [ ! -d "$dir" ]; then
		_pf_diag "pf_setup: no such directory: $dir"
		return 1
	fi
	case $port in
	'' | *[!0-9]*) _pf_diag "pf_setup: bad PORT '$port'"; return 1 ;;
	esac
	if ! id postfix >/dev/null 2>&1; then
		_pf_diag "pf_setup: no 'postfix' user: is postfix installed?"
		return 1
	fi
	if [ -f "$dir/queue/pid/master.pid" ] &&
		kill -0 "$(tr -d ' \n' <"$dir/queue/pid/master.pid")" 2>/dev/null; then
		_pf_diag "pf_setup: an instance is already running in $dir"
		return 1
	fi

	# deliveries run as nobody (pipe(8) refuses root and the mail owner)
	vuser=nobody
	id "$vuser" >/dev/null 2>&1 || { _pf_diag "pf_setup: no user $vuser"; return 1; }
	vuid=$(id -u "$vuser") vgid=$(id -g "$vuser")

	_pf_make_traversable "$dir" || return 1
	mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail" || return 1
	# config and queue directories must be owned by root, not writable by others
	chown root:root "$dir/etc" "$dir/queue" && chmod 755 "$dir/etc" "$dir/queue" || return 1
	chown postfix:postfix "$dir/data" && chmod 700 "$dir/data" || return 1
	chown "$vuid:$vgid" "$dir/mail" && chmod 755 "$dir/mail" || return 1
	: >"$dir/maillog" && chmod 644 "$dir/maillog" || return 1

	# The delivery agent: pipe(8) runs this as nobody for every recipient.
	# (virtual(8) cannot do one Maildir per address without listing every
	# address: it refuses $1 substitution from regexp virtual_mailbox_maps.)
	cat >"$dir/etc/deliver" <<'EOF'
#!/bin/bash
# generated by t/lib/postfix.sh
# deliver BASE DOMAIN LOCALPART: store the message read from stdin in the
# Maildir BASE/DOMAIN/LOCALPART/ (written to tmp/, then renamed into new/)
base=$1 domain=$2 user=$3
case $domain in '' | .* | */*) echo "bad recipient domain '$domain'"; exit 67 ;; esac
case $user in '' | . | .. | */*) echo "bad recipient local part '$user'"; exit 67 ;; esac
box=$base/$domain/$user
umask 022
if [ ! -d "$box/new" ]; then
	/bin/mkdir -p "$box/tmp" "$box/new" "$box/cur" || exit 75
fi
name=${EPOCHREALTIME//[!0-9]/}.P$$R$RANDOM.mx.sinkd.test
if ! /bin/cat >"$box/tmp/$name"; then
	/bin/rm -f "$box/tmp/$name"
	exit 75
fi
/bin/mv "$box/tmp/$name" "$box/new/$name" || exit 75
exit 0
EOF
	chmod 755 "$dir/etc/deliver"

	# written from scratch: no chroot anywhere (chroot column n)
	cat >"$dir/etc/master.cf" <<EOF
# generated by t/lib/postfix.sh - private test instance, do not edit
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$port inet n     -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
# one Maildir per recipient: DIR/mail/<domain, lower case>/<local part>/
maildir   unix  -       n       n       -       -       pipe
  flags=DORXh user=$vuser argv=$dir/etc/deliver $dir/mail \${domain} \${user}
EOF
	# ask this Postfix whether it knows smtpd_forbid_unauth_pipelining
	: >"$dir/etc/main.cf"
	pf_has_forbid=
	if postconf -c "$dir/etc" -d smtpd_forbid_unauth_pipelining 2>/dev/null </dev/null | grep -q .; then
		pf_has_forbid=1
	fi

	cat >"$dir/etc/main.cf" <<EOF
# generated by t/lib/postfix.sh - private test instance, do not edit
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop

# logging: no syslog on test machines; postlogd writes this file
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
syslog_name = postfix

# network: loopback only, no DNS at all
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.sinkd.test
mydomain = sinkd.test
myorigin = \$myhostname
mydestination =
relay_domains =
mynetworks_style = host
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
append_dot_mydomain = no
biff = no
alias_maps =
alias_database =
local_recipient_maps =
smtpd_banner = \$myhostname ESMTP sinkd-test

# smtpd policy: any loopback client may send to any domain
smtpd_delay_reject = yes
smtpd_client_restrictions = permit_mynetworks, reject
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
unknown_local_recipient_reject_code = 550
smtpd_recipient_limit = 1000
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
in_flow_delay = 0
message_size_limit = 52428800
${pf_has_forbid:+smtpd_forbid_unauth_pipelining = no}

# delivery: every domain is a virtual mailbox domain (every address is
# valid) and goes to the maildir pipe(8) service of master.cf
virtual_mailbox_domains = static:all
virtual_mailbox_maps = static:valid
virtual_transport = maildir
maildir_destination_recipient_limit = 1
maildir_destination_concurrency_limit = 50
virtual_alias_maps =

# milter
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 5s
milter_command_timeout = 10s
milter_content_timeout = 30s
milter_connect_macros = j {daemon_name} v {client_addr} {client_name} {client_port}
milter_helo_macros = {tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}
milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}
milter_rcpt_macros = i {rcpt_addr} {rcpt_host} {rcpt_mailer}
milter_data_macros = i
milter_end_of_header_macros = i
milter_end_of_data_macros = i
milter_unknown_command_macros =
smtpd_milters = $milter
non_smtpd_milters = $milter
EOF

	chmod 644 "$dir/etc/main.cf" "$dir/etc/master.cf"

	{
		printf 'PF_DIR=%q\n' "$dir"
		printf 'PF_PORT=%q\n' "$port"
		printf 'PF_MILTER=%q\n' "$milter"
		printf 'PF_CONF=%q\n' "$dir/etc"
	} >"$dir/pf.env"

	PF_DIR=$dir
	PF_PORT=$port
	PF_MILTER=$milter
	PF_CONF=$dir/etc

	# surface configuration warnings (unknown parameters and the like)
	local warn
	warn=$(postconf -c "$PF_CONF" -n 2>&1 >/dev/null </dev/null) || true
	if [ -n "$warn" ]; then
		_pf_diag "pf_setup: postconf warnings:" "$warn"
	fi
	return 0
}

# pf_use DIR: make the instance set up earlier in DIR the current one
pf_use() {
	local dir=${1:-}
	dir=${dir%/}
	if [ -z "$dir" ] || [ ! -f "$dir/pf.env" ]; then
		_pf_diag "pf_use: no instance in $dir"
		return 1
	fi
	# shellcheck disable=SC1091
	. "$dir/pf.env"
}

# _pf_master_pid: print the pid of the current instance's master, if running
_pf_master_pid() {
	local pid
	[ -f "$PF_DIR/queue/pid/master.pid" ] || return 1
	pid=$(tr -d ' \n' <"$PF_DIR/queue/pid/master.pid" 2>/dev/null)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	# a stale pid file whose number was reused by another process
	case $(cat "/proc/$pid/comm" 2>/dev/null) in
	master) echo "$pid" ;;
	*) return 1 ;;
	esac
}

# _pf_start_failed MESSAGE [OUTPUT]: print diagnostics for a failed start
_pf_start_failed() {
	_pf_diag "pf_start: $1"
	if [ -n "${2:-}" ]; then _pf_diag "postfix start said:" "$2"; fi
	_pf_diag "--- $PF_DIR/maillog:"
	if [ -s "$PF_DIR/maillog" ]; then _pf_diag "$(cat "$PF_DIR/maillog")"; fi
	_pf_diag "--- postfix -c $PF_CONF check:"
	# postfix check prints nothing unless stderr is a terminal
	_pf_diag "$(script -qec "postfix -c '$PF_CONF' check" /dev/null </dev/null 2>&1 | tr -d '\r')"
	return 1
}

# pf_start: start the current instance; wait until smtpd's port listens
pf_start() {
	local out rc i
	_pf_need_instance || return 1
	if _pf_master_pid >/dev/null; then
		_pf_diag "pf_start: already running in $PF_DIR"
		return 0
	fi
	# Postfix's master sets SO_REUSEPORT: a second instance on a taken port
	# starts fine and the kernel then shares connections between the two.
	if _pf_listening "$PF_PORT"; then
		_pf_diag "pf_start: something already listens on TCP port $PF_PORT"
		return 1
	fi
	rc=0
	out=$(postfix -c "$PF_CONF" start 2>&1 </dev/null) || rc=$?
	if [ "$rc" -ne 0 ]; then
		_pf_start_failed "postfix -c $PF_CONF start exited $rc" "$out"
		return 1
	fi
	case " $PF_STARTED_DIRS " in
	*" $PF_DIR "*) ;;
	*) PF_STARTED_DIRS="${PF_STARTED_DIRS:+$PF_STARTED_DIRS }$PF_DIR" ;;
	esac
	for i in $(seq 1 100); do
		if _pf_listening "$PF_PORT"; then
			_pf_master_pid >/dev/null && return 0
		fi
		sleep 0.1
	done
	_pf_start_failed "master is not listening on 127.0.0.1:$PF_PORT after 10 s" "$out"
	return 1
}

# pf_stop: stop the current instance and wait until its master is gone
pf_stop() {
	local pid i
	[ -n "$PF_DIR" ] || return 0
	pid=$(_pf_master_pid) || return 0
	postfix -c "$PF_CONF" stop >/dev/null 2>&1 </dev/null || true
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	_pf_diag "pf_stop: master $pid still running after 15 s, aborting it"
	postfix -c "$PF_CONF" abort >/dev/null 2>&1 </dev/null || true
	kill -9 "$pid" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# pf_cleanup: stop every instance started by pf_start in this shell (for trap)
pf_cleanup() {
	local saved_dir=$PF_DIR d
	for d in $PF_STARTED_DIRS; do
		if pf_use "$d" 2>/dev/null; then pf_stop || true; fi
	done
	PF_STARTED_DIRS=
	if [ -n "$saved_dir" ]; then pf_use "$saved_dir" 2>/dev/null; fi
	return 0
}

# pf_flush: ask the queue manager to retry deferred mail now
pf_flush() {
	_pf_need_instance || return 1
	postqueue -c "$PF_CONF" -f </dev/null
}

# pf_queue_count: number of messages still queued (maildrop, incoming,
# active, deferred, hold)
pf_queue_count() {
	local q
	_pf_need_instance || return 1
	q=$PF_DIR/queue
	find "$q/maildrop" "$q/incoming" "$q/active" "$q/deferred" "$q/hold" \
		-type f 2>/dev/null | wc -l
}

# pf_wait_queue_empty [TIMEOUT=20]: wait until the queue is empty; 1 on timeout
pf_wait_queue_empty() {
	local timeout=${1:-20} end
	_pf_need_instance || return 1
	end=$(( $(date +%s%N) / 1000000 + timeout * 1000 ))
	while :; do
		[ "$(pf_queue_count)" -eq 0 ] && return 0
		[ $(( $(date +%s%N) / 1000000 )) -ge "$end" ] && return 1
		sleep 0.1
	done
}

# pf_mailbox RCPT: print the directory holding messages delivered to RCPT
pf_mailbox() {
	local rcpt=${1:-}
	_pf_need_instance || return 1
	case $rcpt in
	*@*) ;;
	*) _pf_diag "pf_mailbox: not an address: '$rcpt'"; return 1 ;;
	esac
	# domains are case-insensitive and Postfix lower-cases them
	local domain=${rcpt##*@}
	echo "$PF_DIR/mail/${domain,,}/${rcpt%@*}/new"
}

# pf_delivered_count RCPT: number of messages delivered to RCPT
pf_delivered_count() {
	local box
	box=$(pf_mailbox "${1:-}") || return 1
	if [ -d "$box" ]; then
		find "$box" -mindepth 1 -maxdepth 1 -type f | wc -l
	else
		echo 0
	fi
}

# pf_wait_delivered RCPT N [TIMEOUT=20]: wait until at least N messages
# were delivered to RCPT; 1 on timeout
pf_wait_delivered() {
	local rcpt=${1:-} n=${2:-1} timeout=${3:-20} end
	_pf_need_instance || return 1
	end=$(( $(date +%s%N) / 1000000 + timeout * 1000 ))
	while :; do
		[ "$(pf_delivered_count "$rcpt")" -ge "$n" ] && return 0
		[ $(( $(date +%s%N) / 1000000 )) -ge "$end" ] && return 1
		sleep 0.1
	done
}

# pf_last_message RCPT: print the path of the newest message delivered to RCPT
pf_last_message() {
	local box last
	box=$(pf_mailbox "${1:-}") || return 1
	[ -d "$box" ] || return 1
	last=$(find "$box" -mindepth 1 -maxdepth 1 -type f -printf '%T@ %p\n' |
		sort -n | tail -n 1 | cut -d' ' -f2-)
	[ -n "$last" ] || return 1
	echo "$last"
}

# pf_swaks ARGS...: run swaks against the current instance; stdout and
# stderr combined, stdin from /dev/null (swaks never prompts); exit status
# is swaks's.  Pass a message as --data @FILE, not on stdin (--data - would
# read /dev/null).  Later options override these defaults.
pf_swaks() {
	_pf_need_instance || return 1
	swaks --server 127.0.0.1 --port "$PF_PORT" --timeout 30 "$@" </dev/null 2>&1
}

# pf_sendmail ARGS...: submit a message read from stdin with the instance's
# sendmail(1) (goes through non_smtpd_milters; run as root)
pf_sendmail() {
	_pf_need_instance || return 1
	sendmail -C "$PF_CONF" "$@"
}

# pf_postconf ARGS...: postconf for the current instance (e.g. -e 'x = y')
pf_postconf() {
	_pf_need_instance || return 1
	postconf -c "$PF_CONF" "$@"
}

# pf_reload: make a running instance reread its configuration
pf_reload() {
	_pf_need_instance || return 1
	postfix -c "$PF_CONF" reload >/dev/null 2>&1 </dev/null
}

# pf_log: print the instance's log (DIR/maillog)
pf_log() {
	_pf_need_instance || return 1
	cat "$PF_DIR/maillog" 2>/dev/null
}
