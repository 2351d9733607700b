#!/bin/bash
# policy-view.t - sinkd -P [DOMAIN]: the effective policy as a
# configuration, each key not at its built-in default under the file:line
# it came from; a domain's list that replaces the default policy's says
# so, a list extended with += names both places; the output, pasted back
# as a policy file, gives the same policy
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
W=$(mktemp -d) || bail_out "mktemp failed"
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
mkdir -p "$W/domains"

cat >"$W/sinkd.conf" <<'CONF'
[sinkd]
socket = inet:127.0.0.1:8890
chain = protocol, rewrite
[rewrite]
header-add = X-Ticket: \#42
subject-tag = [EXTERNAL]   # tag inbound mail
banned-extensions = exe, scr
CONF
cat >"$W/domains/a.test.conf" <<'CONF'
[rewrite]
banned-extensions = .iso
CONF
cat >"$W/domains/b.test.conf" <<'CONF'
[rewrite]
banned-extensions += .iso, .exe
banned-action = reject
[disclaimer]
direction = both
CONF
chmod -R go-w "$W"

# show [DOMAIN]: sinkd -P; OUT, ERR and RC
show() {
	OUT=$("$SINKD" -P "$@" -c "$W/sinkd.conf" 2>"$W/err")
	RC=$?
	ERR=$(sed "s|$W/||g" "$W/err")
	OUT=$(printf '%s\n' "$OUT" | sed "s|$W/||g")
}

show
is "$RC" 0 "sinkd -P: exit 0"
is "$OUT" "# the default policy
# each key not at its built-in default, under the file:line it is from

[sinkd]
# sinkd.conf:2
socket = inet:127.0.0.1:8890
# sinkd.conf:3
chain = protocol, rewrite

[rewrite]
# sinkd.conf:5
header-add = X-Ticket: \\#42
# sinkd.conf:6
subject-tag = [EXTERNAL]
# sinkd.conf:7
banned-extensions = .exe, .scr" "the default policy: every key set, with its origin, the inline comment gone, a literal # kept escaped"
like "$ERR" 'sinkd.conf:6: subject-tag: warning: "# tag inbound mail" is taken as a comment' \
	"  the comment is warned of on stderr"
show default
is "$(sed 1d <<<"$OUT")" "$("$SINKD" -P -c "$W/sinkd.conf" 2>/dev/null | sed "s|$W/||g" | sed 1d)" \
	"sinkd -P default is sinkd -P"

show a.test
is "$OUT" "# the policy of a.test
# each key not at its built-in default, under the file:line it is from
# [sinkd] is the same for every domain: sinkd -P shows it

[rewrite]
# sinkd.conf:5
header-add = X-Ticket: \\#42
# sinkd.conf:6
subject-tag = [EXTERNAL]
# domains/a.test.conf:2; replaces the default policy's list from sinkd.conf:7 (write += to add to it)
banned-extensions = .iso" "a.test: its list replaces the default policy's, and says from where"

show mx.b.test
is "$OUT" "# mx.b.test: the policy of b.test (no file of its own)
# each key not at its built-in default, under the file:line it is from
# [sinkd] is the same for every domain: sinkd -P shows it

[disclaimer]
# not in the chain: these keys have no effect
# domains/b.test.conf:5
direction = both

[rewrite]
# sinkd.conf:5
header-add = X-Ticket: \\#42
# sinkd.conf:6
subject-tag = [EXTERNAL]
# sinkd.conf:7 + domains/b.test.conf:2
banned-extensions = .exe, .scr, .iso
# domains/b.test.conf:3
banned-action = reject" "mx.b.test: b.test's policy; += adds to the default policy's list, both origins named, each entry once"

show nowhere.example
like "$OUT" '^# nowhere.example: no policy file of its own or of a parent domain: the default policy' \
	"a domain without a policy: the default policy, said so"

# pasted back as a policy file of its own, b.test's view gives the same
# policy: the output is a configuration
show b.test
grep -v '^\[sinkd\]\|^# \[sinkd\]' <<<"$OUT" >"$W/domains/c.test.conf"
chmod go-w "$W/domains/c.test.conf"
got=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1; echo "exit $?")
like "$got" 'configuration OK' "sinkd -n accepts sinkd -P's output as a policy file"
show c.test
is "$(sed -n '/^banned-extensions = /p; /^banned-action = /p; /^direction = /p; /^header-add = /p' <<<"$OUT")" \
"direction = both
header-add = X-Ticket: \\#42
banned-extensions = .exe, .scr, .iso
banned-action = reject" "  and the same values come out of it"

show a.test b.test
is "$RC" 64 "sinkd -P takes one domain"

# += is for lists only
printf '[rewrite]\nbanned-action += reject\n' >"$W/domains/d.test.conf"
chmod go-w "$W/domains/d.test.conf"
got=$("$SINKD" -n -c "$W/sinkd.conf" 2>&1 | sed "s|$W/||g" | grep d.test)
is "$got" 'domains/d.test.conf:2: banned-action: "+=" adds entries to a list, and this key is of type enum; write "banned-action = ..."' \
	"+= on a key that is not a list is an error"
done_testing
