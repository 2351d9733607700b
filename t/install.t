#!/bin/bash
# install.t - make install DESTDIR=...: the tree it makes, never the
# machine's own files (everything under the test's directory; no user is
# created with DESTDIR set)
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"

[ -x "$TOP/src/sinkd" ] || bail_out "src/sinkd is not built (run make)"
W=$(workdir install) || bail_out "cannot make a work directory"
trap 'if [ "$TAP_FAILED" -eq 0 ]; then rm -rf "$W"; else diag "kept $W"; fi' EXIT
D=$W/root
P=/opt/sinkd
E=/etc/opt/sinkd
U=/lib/systemd/system

# minst ARGS...: make install into D, its output in W/make.out
minst() {
	make -s -C "$TOP" install DESTDIR="$D" PREFIX=$P SYSCONFDIR=$E SYSTEMDUNITDIR=$U "$@" \
		>"$W/make.out" 2>&1 </dev/null
}

minst
ok $? "make install DESTDIR=... succeeds" || diag "$(cat "$W/make.out")"
got=$(cd "$D" && find . \( -type f -o -type l \) -printf '%m %p\n' | sort)
is "$got" "644 ./etc/opt/sinkd/sinkd/disclaimer.html
644 ./etc/opt/sinkd/sinkd/disclaimer.txt
644 ./etc/opt/sinkd/sinkd/domains.example/default.conf
644 ./etc/opt/sinkd/sinkd/domains.example/example.com.conf
644 ./etc/opt/sinkd/sinkd/domains/default.conf
644 ./etc/opt/sinkd/sinkd/lists/example.com.lists
644 ./etc/opt/sinkd/sinkd/sinkd.conf
644 ./etc/opt/sinkd/sinkd/sinks/display-name-spoof.lua
644 ./etc/opt/sinkd/sinkd/sinks/dlp.lua
644 ./etc/opt/sinkd/sinkd/sinks/internal-names.example
644 ./lib/systemd/system/sinkd.service
644 ./opt/sinkd/include/sinkd/sink.h
644 ./opt/sinkd/lib/sinkd/sinks/sinkd_sink.py
644 ./opt/sinkd/share/doc/sinkd/etc/disclaimer.html
644 ./opt/sinkd/share/doc/sinkd/etc/disclaimer.txt
644 ./opt/sinkd/share/doc/sinkd/etc/domains/default.conf
644 ./opt/sinkd/share/doc/sinkd/etc/lists/example.com.lists
644 ./opt/sinkd/share/doc/sinkd/etc/postfix-main.cf
644 ./opt/sinkd/share/doc/sinkd/etc/sendmail.mc
644 ./opt/sinkd/share/doc/sinkd/etc/sinkd.conf
644 ./opt/sinkd/share/doc/sinkd/etc/sinks/attachhash.c
644 ./opt/sinkd/share/doc/sinkd/etc/sinks/display-name-spoof.lua
644 ./opt/sinkd/share/doc/sinkd/etc/sinks/dlp.lua
644 ./opt/sinkd/share/doc/sinkd/etc/sinks/internal-names.example
644 ./opt/sinkd/share/man/man3/sinkd-sink.3
644 ./opt/sinkd/share/man/man5/sinkd-events.5
644 ./opt/sinkd/share/man/man5/sinkd-lua.5
644 ./opt/sinkd/share/man/man5/sinkd-policy.5
644 ./opt/sinkd/share/man/man5/sinkd.conf.5
644 ./opt/sinkd/share/man/man7/sinkd-sink-protocol.7
644 ./opt/sinkd/share/man/man7/sinkd-sinks.7
644 ./opt/sinkd/share/man/man8/sinkd-archive.8
644 ./opt/sinkd/share/man/man8/sinkd-list.8
644 ./opt/sinkd/share/man/man8/sinkd-quarantine.8
644 ./opt/sinkd/share/man/man8/sinkd.8
755 ./opt/sinkd/lib/sinkd/sinks/attachhash.so
755 ./opt/sinkd/lib/sinkd/sinks/dlp.py
755 ./opt/sinkd/lib/sinkd/sinks/lists.so
755 ./opt/sinkd/sbin/sinkd
755 ./opt/sinkd/sbin/sinkd-archive
755 ./opt/sinkd/sbin/sinkd-list
755 ./opt/sinkd/sbin/sinkd-quarantine
755 ./opt/sinkd/share/doc/sinkd/examples/traffic.py" \
	"the tree: programs, the sink header, man pages, configuration, domains.example, MTA snippets, the unit, the shipped sinks, the example co-process sink and its helper, the example consumer, the archive tool, the list service and its tool"
is "$(find "$D/etc/opt/sinkd/sinkd/domains" -name '*.conf' -printf '%f\n')" "default.conf" \
	"only default.conf is a live policy; example.com's is in domains.example"

# the unit runs the installed program on the installed configuration
is "$(grep -E '^Exec' "$D$U/sinkd.service" | grep -v '^Exec[A-Za-z]*=+')" \
	"ExecStartPre=$P/sbin/sinkd -n -c $E/sinkd/sinkd.conf
ExecStart=$P/sbin/sinkd -f -c $E/sinkd/sinkd.conf
ExecReload=$P/sbin/sinkd -n -c $E/sinkd/sinkd.conf
ExecReload=/bin/kill -HUP \$MAINPID" "the unit names PREFIX's sinkd and SYSCONFDIR's sinkd.conf"
unlike "$(cat "$D$U/sinkd.service")" "/usr/local" "no /usr/local left in the unit"

# the installed configuration is one sinkd accepts
out=$("$D$P/sbin/sinkd" -n -c "$D$E/sinkd/sinkd.conf" 2>&1)
ok $? "sinkd -n accepts the installed configuration" || diag "$out"

# the shipped sinks, as installed, load in the installed sinkd
cp "$D$E/sinkd/sinks/internal-names.example" "$W/internal-names"
cat >"$W/sinks.conf" <<EOF
[sinkd]
chain = protocol, sink:spoof, sink:dlp, sink:attachhash
spool-dir = $W
[sink:spoof]
script = $D$E/sinkd/sinks/display-name-spoof.lua
names = $W/internal-names
[sink:dlp]
script = $D$E/sinkd/sinks/dlp.lua
[sink:attachhash]
module = $D$P/lib/sinkd/sinks/attachhash.so
EOF
out=$("$D$P/sbin/sinkd" -n -c "$W/sinks.conf" 2>&1)
ok $? "sinkd -n accepts the installed sinks" || diag "$out"

# a third party builds the native example against the installed header,
# with the one command sinkd-sink(3) gives
out=$(cd "$W" && ${CC:-cc} -shared -fPIC -O2 -Wall -Wextra -I"$D$P/include" -o attachhash.so \
	"$D$P/share/doc/sinkd/etc/sinks/attachhash.c" -lcrypto 2>&1)
ok $? "attachhash.c builds against the installed header alone" || diag "$out"
is "$out" "" "  without a warning"
sed "s|^module = .*|module = $W/attachhash.so|" "$W/sinks.conf" >"$W/sinks2.conf"
out=$("$D$P/sbin/sinkd" -n -c "$W/sinks2.conf" 2>&1)
ok $? "  and the sinkd installed loads it" || diag "$out"

# the installed example sink answers sinkd's hello, with its helper
printf '[sinkd]\nchain = protocol, sink:dlp\n[sink:dlp]\ncommand = %s\n' \
	"$D$P/lib/sinkd/sinks/dlp.py" >"$W/dlp.conf"
out=$("$D$P/sbin/sinkd" -n -c "$W/dlp.conf" 2>&1)
is "$out" "configuration OK" "the installed dlp.py is a co-process sink sinkd -n accepts"

# what is left to do is said
like "$(cat "$W/make.out")" "adduser --system --group --no-create-home --home /nonexistent sinkd" \
	"with DESTDIR set no user is made: the command is printed"
like "$(cat "$W/make.out")" "adduser postfix sinkd" "and how Postfix reaches the socket"
unlike "$(cat "$W/make.out")" "creating the system user" "no user was created"

# a second install keeps what the administrator changed
echo '# changed' >>"$D$E/sinkd/sinkd.conf"
echo '# changed' >>"$D$U/sinkd.service"
minst
ok $? "make install again"
like "$(tail -n 1 "$D$E/sinkd/sinkd.conf")" "^# changed$" "an existing sinkd.conf is kept"
like "$(cat "$W/make.out")" "kept $D$E/sinkd/sinkd.conf" "and it says so"
like "$(tail -n 1 "$D$U/sinkd.service")" "^# changed$" "a changed unit is kept"
[ -f "$D$U/sinkd.service.new" ]
ok $? "the new one beside it (sinkd.service.new)"
done_testing
