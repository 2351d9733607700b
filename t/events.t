#!/bin/bash
# events.t - after-accept events: the journal (t/unit/journal_test) and
# the configuration of targets through sinkd -n, -d and -P
#
# Checked: the journal's unit test (group commit, a failed sync, replay, cursors, body
# copies, both journal-full settings); [event:NAME] groups with every
# error at its file and line (no type, an unknown type, a bad URL, a
# value out of range, a target in the chain, a process-wide key in a
# domain's file, a bad name); per-domain enabled and direction shown by
# sinkd -P; the keys listed by sinkd -d; the journal keys of [sinkd].
cd "$(dirname "$0")" || exit 1
source lib/tap.sh
SINKD=${SINKD:-$PWD/../src/sinkd}
[ -x unit/journal_test ] || bail_out "no t/unit/journal_test: run make tests"

# the unit test, its TAP passed through as one assertion per line of it
d=$(mktemp -d) || bail_out "mktemp"
out=$(TMPDIR=$d unit/journal_test 2>/dev/null)
rc=$?
rm -rf "$d"
n=$(printf '%s\n' "$out" | grep -c '^ok ')
bad=$(printf '%s\n' "$out" | grep '^not ok ')
is "$bad" "" "t/unit/journal_test: no failed assertion"
ok $([ "$rc" -eq 0 ] && [ "$n" -ge 30 ]; echo $?) "  and every one of its $n ran"

W=$(workdir events)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/domains" "$W/spool"
check() { "$SINKD" -n -c "$W/sinkd.conf" 2>&1 | sed "s|$W/||g"; echo "exit ${PIPESTATUS[0]}"; }
conf() {
	cat > "$W/sinkd.conf" <<CONF
[sinkd]
chain = protocol
spool-dir = $W/spool
domains-dir = $W/domains
state-dir = $W/state
CONF
	printf '%s\n' "$@" >> "$W/sinkd.conf"
}

conf '[event:hook]' 'type = webhook' 'url = https://events.example.com/in' 'timeout = 5s'
is "$(check)" "configuration OK
exit 0" "a webhook target checks out"

conf '[event:hook]' 'url = https://events.example.com/in' \
	'[event:odd]' 'type = carrier-pigeon' \
	'[event:ftp]' 'type = webhook' 'url = ftp://example.com/' 'timeout = 2h' \
	'[event:none]' 'type = webhook' \
	'[event:b@d]' 'type = webhook'
is "$(check)" "sinkd.conf:6: [event:hook]: no type (one of webhook, redis, postgres, archive)
sinkd.conf:9: type: unknown target type \"carrier-pigeon\" (known: webhook, redis, postgres, archive)
sinkd.conf:12: url: \"ftp://example.com/\": not an http:// or https:// URL
sinkd.conf:13: timeout: out of range (1 to 3600)
sinkd.conf:15: type: a webhook needs a url (url = https://...)
sinkd.conf:16: [event:b@d]: not a target name (letters, digits, '-', '_', '.')
exit 1" "every error of the targets' groups at its file and line"

conf '[event:hook]' 'type = webhook' 'url = http://127.0.0.1:9/' 'enabled = perhaps' 'direction = sideways'
is "$(check)" "sinkd.conf:9: enabled: not a boolean (yes or no)
sinkd.conf:10: direction: \"sideways\" is not one of: outbound, inbound, both
exit 1" "  the per-domain keys are checked too"

sed -i 's/^chain = protocol$/chain = protocol, event:hook/' "$W/sinkd.conf"
sed -i '/^enabled = /d; /^direction = /d' "$W/sinkd.conf"
like "$(check)" 'sinkd.conf:2: chain: "event:hook" is an event target, not a handler' "a target is not a chain entry"

conf '[event:hook]' 'type = webhook' 'url = http://127.0.0.1:9/'
printf '[event:hook]\nenabled = no\n' > "$W/domains/quiet.example.conf"
printf '[event:hook]\ndirection = outbound\n' > "$W/domains/out.example.conf"
printf '[event:hook]\nurl = http://elsewhere.example/\n' > "$W/domains/bad.example.conf"
got=$(check)
like "$got" '^domains/bad.example.conf:2: url: cannot be set per domain' "a target's process-wide key in a domain's file is an error"
rm "$W/domains/bad.example.conf"
is "$(check)" "configuration OK
exit 0" "  enabled and direction per domain are fine"
like "$("$SINKD" -P quiet.example -c "$W/sinkd.conf" 2>&1 | sed -n '/^\[event:hook\]/,/^\[/p')" \
	'enabled = no' "sinkd -P shows a domain's target off"
like "$("$SINKD" -P out.example -c "$W/sinkd.conf" 2>&1 | sed -n '/^\[event:hook\]/,/^\[/p')" \
	'direction = outbound' "  and another's direction"
got=$("$SINKD" -P example.org -c "$W/sinkd.conf" 2>&1 | sed -n '/^\[event:hook\]/,/^\[/p')
like "$got" 'url = http://127.0.0.1:9/' "  and a domain without a file of its own the default policy's target"
unlike "$got" 'enabled = no|direction = |not in the chain' "  with the built-in enabled and direction, and no note that it is not in the chain"

printf '[event:nowhere]\nenabled = no\n' > "$W/domains/x.example.conf"
like "$(check)" 'domains/x.example.conf:1: \[event:nowhere\]: unknown group' "a domain's group of a target sinkd.conf lacks is an error"
rm "$W/domains/x.example.conf"

dump=$("$SINKD" -d)
like "$(printf '%s\n' "$dump" | sed -n '/^\[event:webhook\]$/,/^\[event:[a-z]*\]$/p' | grep -o '^[a-z-]* =' | paste -sd' ')" \
	'^type = enabled = direction = retry-max = url = timeout =$' "sinkd -d lists a webhook target's keys"
like "$(printf '%s\n' "$dump" | grep -E '^(state-dir|journal-size|journal-full) =' | paste -sd' ')" \
	'^state-dir = /var/lib/sinkd journal-size = 1g journal-full = tempfail$' "  and the journal's keys of [sinkd]"

rm -f "$W"/domains/*.conf
conf 'journal-full = sometimes' 'journal-size = 1k'
is "$(check)" "sinkd.conf:6: journal-full: \"sometimes\" is not one of: tempfail, drop-oldest
sinkd.conf:7: journal-size: out of range (65536 to 1099511627776)
exit 1" "journal-full and journal-size are checked"

done_testing
