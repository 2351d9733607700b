#!/bin/bash
# man.t - the man pages document every key, as the key tables define it
#
# sinkd -d prints every key of [sinkd] and of each handler group with its
# default, under a comment line with its type, and either "not per domain"
# or its merge rule (how inbound mail for several domains combines it).  A key is documented by an
# entry of the form
#	.TP
#	.B key = default
#	Type \fItype\fR[; restart only][; not per domain | ; merge \fIrule\fR]...
# [sinkd] keys in man/sinkd.conf.5, event target keys ([event:TYPE] in
# sinkd -d) in man/sinkd-events.5 (under KEYS OF EVERY TARGET, or THE TYPE
# TARGET), handler keys in man/sinkd-policy.5, in
# the section of their handler (.SH THE NAME HANDLER; on-error, which every
# handler has, under .SH KEYS OF EVERY HANDLER): two handlers may have keys
# of the same name.  Checked, for each key: it has an entry in the right
# page, with the table's default and type; "restart only" exactly for the
# keys flagged CONF_RESTART (read from the source), "not per domain"
# exactly for CONF_NODOMAIN ones, and for every other handler key the
# merge rule sinkd -d gives (a key not per domain names none).
# Then: every entry is a key of the table, sinkd.8 names every option of
# --help, groff formats each page without a warning, and no punctuation
# stands apart from its word in the rendered text.
source "$(dirname "$0")/lib/tap.sh"
TOP=$(cd "$(dirname "$0")/.." && pwd)
SINKD=${SINKD:-$TOP/src/sinkd}
MANDIR=${MANDIR:-$TOP/man}
CONF5=$MANDIR/sinkd.conf.5
POLICY5=$MANDIR/sinkd-policy.5
SINKD8=$MANDIR/sinkd.8
QUAR8=$MANDIR/sinkd-quarantine.8
ARCH8=$MANDIR/sinkd-archive.8
LOAD1=$MANDIR/milterload.1
SINK3=$MANDIR/sinkd-sink.3
EVENTS5=$MANDIR/sinkd-events.5

[ -x "$SINKD" ] || bail_out "no $SINKD: run make first"
for page in "$SINKD8" "$CONF5" "$POLICY5" "$QUAR8" "$ARCH8" "$LOAD1" "$SINK3" "$EVENTS5"; do
	[ -f "$page" ] || bail_out "no $page"
done

# The table: "group<TAB>key<TAB>default<TAB>type<TAB>nodomain<TAB>merge"
# per key (merge "-" where there is none).
table=$("$SINKD" -d | awk '
	/^\[.*\]$/ { group = substr($0, 2, length($0) - 2); next }
	/^# / { about = substr($0, 3); next }
	/ = / {
		eq = index($0, " = ")
		key = substr($0, 1, eq - 1)
		def = substr($0, eq + 3)
		type = about
		sub(/:.*/, "", type)
		nodomain = type ~ /, not per domain$/ ? "yes" : "no"
		merge = "-"
		if (match(type, /, merge [a-z]+$/))
			merge = substr(type, RSTART + 8)
		sub(/,.*/, "", type)
		printf "%s\t%s\t%s\t%s\t%s\t%s\n", group, key, def, type, nodomain, merge
	}')
[ -n "$table" ] || bail_out "sinkd -d printed no keys"

# documented PAGE: the keys of a page, by the .TP/.B rule
documented() {
	grep -A1 '^\.TP' "$1" | sed -n 's/^\.B \([a-z0-9-]*\).*/\1/p'
}

# entries PAGE: "key<TAB>default<TAB>type line" for each .TP/.B entry; the
# default as written after " = " (\- and \e undone, blanks squeezed)
entries() {
	awk '
		prev ~ /^\.TP/ && /^\.B [a-z0-9-]+/ {
			key = rest = substr($0, 4)
			sub(/[^a-z0-9-].*/, "", key)
			rest = substr(rest, length(key) + 1)
			def = "<not written as .B key = default>"
			if (rest ~ /^ =( |$)/) {
				def = substr(rest, 3)
				gsub(/[ \t]+/, " ", def)
				sub(/^ /, "", def)
				sub(/ $/, "", def)
			}
			gsub(/\\-/, "-", def)
			gsub(/\\e/, "\\", def)
			getline typeline
			printf "%s\t%s\t%s\n", key, def, typeline
		}
		{ prev = $0 }' "$1"
}

# source_flags: "group<TAB>key<TAB>restart" from the key tables in the
# source (group: the name of milters/NAME.c; "sinkd" for src/policy.c's,
# "sink:NAME" for src/sink.c's),
# for the check -d cannot make (empty when unreadable)
source_flags() {
	awk '
		FNR == 1 {
			flush()
			group = FILENAME
			sub(/.*\//, "", group)
			sub(/\.c$/, "", group)
			if (group == "policy")
				group = "sinkd"
			if (group == "sink")
				group = "sink:NAME"
			if (group == "event")
				group = "event:common"
			else if (group ~ /^event_/)
				group = "event:" substr(group, 7)
		}
		function flush() {
			if (key != "")
				printf "%s\t%s\t%s\n", group, key, restart
			key = ""
		}
		/^[ \t]*\{"[a-z0-9-]+", CONF_/ {
			flush()
			key = $0
			sub(/^[ \t]*\{"/, "", key)
			sub(/".*/, "", key)
			restart = "no"
		}
		/^[ \t]*\{NULL/ || /^};/ { flush() }
		key != "" && /CONF_RESTART/ { restart = "yes" }
		END { flush() }' "$TOP"/src/policy.c "$TOP"/src/sink.c "$TOP"/src/event*.c "$TOP"/milters/*.c 2>/dev/null
}

# section PAGE TITLE: the lines of PAGE's ".SH TITLE" section
section() {
	awk -v h=".SH $2" '$0 == h { on = 1; next } /^\.SH / { on = 0 } on' "$1"
}

# handler_section GROUP: the title of a handler's section in sinkd-policy(5)
handler_section() { echo "THE ${1^^} HANDLER"; }

conf_entries=$(entries "$CONF5")
target_entries=$(entries <(section "$EVENTS5" "KEYS OF EVERY TARGET"))
common_entries=$(entries <(section "$POLICY5" "KEYS OF EVERY HANDLER"))
flags=$(source_flags)

# check_key GROUP KEY DEFAULT TYPE NODOMAIN MERGE: one ok for one key
check_key() {
	local group=$1 key=$2 def=$3 type=$4 nodomain=$5 merge=$6 page entries line
	local mdef typeline want problems=() restart

	if [ "$group" = sinkd ]; then
		page=$CONF5 entries=$conf_entries
	elif [[ $group == event:* ]]; then
		page=$EVENTS5 entries=$target_entries
		local ttype=${group#event:}
		printf '%s\n' "$entries" | cut -f1 | grep -qx -- "$key" ||
			entries=$(entries <(section "$EVENTS5" "THE ${ttype^^} TARGET"))
	elif printf '%s\n' "$common_entries" | cut -f1 | grep -qx -- "$key"; then
		page=$POLICY5 entries=$common_entries
	else
		page=$POLICY5 entries=$(entries <(section "$POLICY5" "$(handler_section "$group")"))
	fi
	if ! printf '%s\n' "$entries" | cut -f1 | grep -qx -- "$key"; then
		ok 1 "[$group] $key is documented in ${page##*/}"
		diag "no .TP/.B $key entry in ${page##*/}"
		return
	fi
	line=$(printf '%s\n' "$entries" | awk -F'\t' -v k="$key" '$1 == k' | head -1)
	mdef=$(printf '%s' "$line" | cut -f2)
	typeline=$(printf '%s' "$line" | cut -f3-)
	def=$(printf '%s' "$def" | tr -s ' ')
	[ "$mdef" = "$def" ] ||
		problems+=("default: the page says '$mdef', sinkd -d says '$def'")
	case $typeline in
	"Type \\fI$type\\fR"*) ;;
	*) problems+=("type: the line after .B should start 'Type \\fI$type\\fR', it is '$typeline'") ;;
	esac
	case $typeline in
	*"not per domain"*) want=yes ;;
	*) want=no ;;
	esac
	[ "$want" = "$nodomain" ] ||
		problems+=("not per domain: sinkd -d says $nodomain, the page says $want")
	if [ "$group" != sinkd ]; then
		want=$(printf '%s\n' "$typeline" | sed -n 's/.*merge \\fI\([a-z]*\)\\fR.*/\1/p')
		[ "${want:--}" = "$merge" ] ||
			problems+=("merge: sinkd -d says '$merge', the type line says '${want:--}': '$typeline'")
	fi
	if [ -n "$flags" ]; then
		# common keys are declared in src/policy.c
		restart=$(printf '%s\n' "$flags" | awk -F'\t' -v g="$group" -v k="$key" \
			'$1 == g && $2 == k { print $3; exit }')
		[ -n "$restart" ] || [[ $group != event:* ]] ||
			restart=$(printf '%s\n' "$flags" | awk -F'\t' -v k="$key" \
				'$1 == "event:common" && $2 == k { print $3; exit }')
		[ -n "$restart" ] || [[ $group == event:* ]] ||
			restart=$(printf '%s\n' "$flags" | awk -F'\t' -v k="$key" \
				'$1 == "sinkd" && $2 == k { print $3; exit }')
		case $typeline in
		*"restart only"*) want=yes ;;
		*) want=no ;;
		esac
		[ -z "$restart" ] || [ "$want" = "$restart" ] ||
			problems+=("restart only: the source says $restart, the page says $want")
	fi
	if [ ${#problems[@]} -eq 0 ]; then
		ok 0 "[$group] $key is documented in ${page##*/}"
	else
		ok 1 "[$group] $key is documented in ${page##*/}"
		diag "${problems[@]}"
	fi
}

[ -n "$flags" ] || diag "cannot read the key tables in src/ and milters/: restart-only unchecked"
# (read with a separator that is not white space, so that an empty
# default stays a field)
while IFS=$'\037' read -r group key def type nodomain merge; do
	check_key "$group" "$key" "$def" "$type" "$nodomain" "$merge"
done < <(printf '%s\n' "$table" | tr '\t' '\037')

# the reverse: every documented key is a key of the right table
extra=$(documented "$CONF5" | while read -r k; do
	printf '%s\n' "$table" | awk -F'\t' -v k="$k" '$1 == "sinkd" && $2 == k { f = 1 } END { exit !f }' ||
		echo "$k"
done)
is "$extra" "" "every key sinkd.conf(5) documents is a [sinkd] key"
groups=$(printf '%s\n' "$table" | cut -f1 | grep -vx sinkd | sort -u)
extra=$(for g in $groups; do
	documented <(section "$POLICY5" "$(handler_section "$g")") | while read -r k; do
		printf '%s\n' "$table" | awk -F'\t' -v g="$g" -v k="$k" '$1 == g && $2 == k { f = 1 } END { exit !f }' ||
			echo "[$g] $k"
	done
done)
is "$extra" "" "every key a handler's section of sinkd-policy(5) documents is a key of that handler"
target_sections() {
	awk '/^\.SH / { on = $0 ~ /^\.SH (KEYS OF EVERY TARGET|THE [A-Z]+ TARGET)$/; next } on' "$EVENTS5"
}
extra=$(documented <(target_sections) | while read -r k; do
	printf '%s\n' "$table" | awk -F'\t' -v k="$k" '$1 ~ /^event:/ && $2 == k { f = 1 } END { exit !f }' ||
		echo "$k"
done)
is "$extra" "" "every key sinkd-events(5) documents is a key of an event target"
dups=$( { documented "$CONF5" | sort | uniq -d
	for g in $groups; do
		documented <(section "$POLICY5" "$(handler_section "$g")") | sort | uniq -d
	done; } )
is "$dups" "" "no key is documented twice in one page or section"

# sinkd.8 names every option sinkd --help lists, short and long
missing=$("$SINKD" --help | sed -n 's/^ *-\(.\), --\([a-z-]*\).*/\1 \2/p' |
	while read -r short long; do
		grep -q -- "\\\\-$short\\b" "$SINKD8" || echo "-$short"
		grep -q -- "\\\\-\\\\-$long\\b" "$SINKD8" || echo "--$long"
	done)
is "$missing" "" "sinkd(8) documents every option of sinkd --help"

# sinkd-archive(8) names every option and command of sinkd-archive -h
ARCHIVE=${ARCHIVE:-$TOP/tools/sinkd-archive}
if [ -x "$ARCHIVE" ]; then
	missing=$("$ARCHIVE" -h | grep -oE -- '(^| |\[)-[-a-z]+|(list|search|show|export)( |$)' |
		tr -d ' [' | sort -u | while read -r w; do
			grep -q -- "$(printf '%s' "$w" | sed 's/-/\\\\-/g')\\b" "$ARCH8" || echo "$w"
		done)
	is "$missing" "" "sinkd-archive(8) documents every option and command of sinkd-archive -h"
else
	ok 1 "tools/sinkd-archive is built (make tests)"
fi

# groff formats each page without a warning
if command -v groff > /dev/null; then
	for page in "$SINKD8" "$CONF5" "$POLICY5" "$QUAR8" "$ARCH8" "$LOAD1" "$SINK3" "$EVENTS5"; do
		warnings=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1)
		is "$warnings" "" "groff -man -ww: no warnings for ${page##*/}"
	done
else
	ok 1 "groff is installed (./bootstrap test installs groff-base)"
fi
if command -v man > /dev/null; then
	for page in "$SINKD8" "$CONF5" "$POLICY5" "$QUAR8" "$ARCH8" "$LOAD1" "$SINK3" "$EVENTS5"; do
		warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 > /dev/null)
		is "$warnings" "" "man --warnings: no warnings for ${page##*/}"
	done
	# what a quoted argument that starts with punctuation leaves as it
	# is rendered: "with , not per domain", "( x", a line that starts
	# with a comma
	for page in "$SINKD8" "$CONF5" "$POLICY5" "$QUAR8" "$ARCH8" "$LOAD1" "$SINK3" "$EVENTS5"; do
		stray=$(MANWIDTH=80 man -l "$page" 2>/dev/null |
			grep -nE '[[:alnum:]] +[,;:.]( |$)|\( |^ *[,;:.] ')
		is "$stray" "" "${page##*/} as rendered: no punctuation standing apart"
	done
else
	ok 1 "man is installed (./bootstrap test installs man-db)"
fi

# sinkd-lua(5): the keys sinkd gives every Lua sink (SLUA_*_KEY and
# SLUA_*_DEF in src/sink_lua.c; sinkd -d shows no script's keys) each
# have an entry in its KEYS section with their default, and a running
# sinkd agrees: unset, the script's init reads that default; set, sinkd -P
# shows it.  The page formats without a warning.
LUA5=$MANDIR/sinkd-lua.5
lua_keys=$(sed -n 's/^#define SLUA_\([A-Z]*\)_KEY[[:space:]]*"\(.*\)"$/\1 \2/p' "$TOP/src/sink_lua.c")
lua_entries=$(entries <(section "$LUA5" KEYS))
[ -n "$lua_keys" ] || bail_out "no SLUA_*_KEY in src/sink_lua.c"
LW=$(workdir man-lua)
while read -r id key; do
	def=$(sed -n "s/^#define SLUA_${id}_DEF[[:space:]]*\"\\(.*\\)\"\$/\\1/p" "$TOP/src/sink_lua.c")
	mdef=$(printf '%s\n' "$lua_entries" | awk -F'\t' -v k="$key" '$1 == k { print $2 }')
	is "$mdef" "$def" "[sink:NAME] (script) $key is documented in sinkd-lua.5 with its default"
	printf 'return { init = function(ctx) return false, "%s=" .. tostring(ctx:config("%s")) end }\n' \
		"$key" "$key" >"$LW/s.lua"
	printf '[sinkd]\nchain = sink:l\n[sink:l]\nscript = %s\n' "$LW/s.lua" >"$LW/sinkd.conf"
	like "$("$SINKD" -n -c "$LW/sinkd.conf" 2>&1)" "$key=$def\\b" "  a script reads $def when $key is not set"
	echo 'return {}' >"$LW/s.lua"
	printf '%s = 1\n' "$key" >>"$LW/sinkd.conf"
	like "$("$SINKD" -P -c "$LW/sinkd.conf" 2>&1)" $'(^|\n)'"$key = 1"$'(\n|$)' "  sinkd -P shows $key set"
done <<<"$lua_keys"
rm -rf "$LW"
extra=$(documented <(section "$LUA5" KEYS) | while read -r k; do
	printf '%s\n' "$lua_keys" | awk -v k="$k" '$2 == k { f = 1 } END { exit !f }' || echo "$k"
done)
is "$extra" "" "every key sinkd-lua(5) documents is one sinkd gives Lua sinks"
if command -v groff > /dev/null && command -v man > /dev/null; then
	is "$(LC_ALL=C.UTF-8 groff -man -ww -z "$LUA5" 2>&1)" "" "groff -man -ww: no warnings for sinkd-lua.5"
	is "$(MANWIDTH=80 man --warnings -l "$LUA5" 2>&1 > /dev/null)" "" "man --warnings: no warnings for sinkd-lua.5"
	is "$(MANWIDTH=80 man -l "$LUA5" 2>/dev/null | grep -nE '[[:alnum:]] +[,;:.]( |$)|\( |^ *[,;:.] ')" "" \
		"sinkd-lua.5 as rendered: no punctuation standing apart"
fi

# sinkd-sinks(7): the keys each shipped sink declares (the keys table of
# etc/sinks/NAME.lua, the struct sinkd_key array of etc/sinks/NAME.c) each
# have an entry in its section (THE NAME SINK) with their default, type
# and merge rule, and every entry there is a key the sink declares; the
# page formats without a warning.
SINKS7=$MANDIR/sinkd-sinks.7
[ -f "$SINKS7" ] || bail_out "no $SINKS7"
# declared FILE: "key<TAB>default<TAB>type<TAB>merge" per declared key
declared() {
	python3 - "$1" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
types = {'string': 'string', 'bool': 'boolean', 'int': 'integer', 'size': 'size',
         'time': 'time', 'path': 'path', 'list': 'list', 'reply': 'reply'}
if sys.argv[1].endswith('.lua'):
    body = src[src.index('keys = {'):]
    for e in re.finditer(r'\{name = "[^"]*".*?\}', body, re.S):
        f = {m.group(1): m.group(2) for m in
             re.finditer(r'(\w+) = ("(?:[^"\\]|\\.)*"|true|false|-?\d+)', e.group(0))}
        d = f.get('default', '""')
        d = {'true': 'yes', 'false': 'no'}.get(d, d).strip('"')
        if f['name'] == '"direction"':
            # sinkd's own key, of which a sink gives only the default
            print('\t'.join(['direction', d, 'enum', 'widest']))
            continue
        print('\t'.join([f['name'].strip('"'), d, types[f.get('type', '"string"').strip('"')],
                         f.get('merge', '"agree"').strip('"')]))
else:
    for e in re.finditer(r'\{"([a-z0-9-]+)",\s*SINKD_KEY_([A-Z]+),\s*"([^"]*)",\s*"(?:[^"\\]|\\.)*",\s*SINKD_MERGE_([A-Z]+)\}', src):
        print('\t'.join([e.group(1), e.group(3), types[e.group(2).lower()], e.group(4).lower()]))
PY
}
for f in "$TOP"/etc/sinks/*.lua "$TOP"/etc/sinks/*.c; do
	name=${f##*/}
	name=${name%.*}
	sec=$(section "$SINKS7" "THE ${name^^} SINK")
	[ -n "$sec" ] || { ok 1 "sinkd-sinks.7 has a section THE ${name^^} SINK"; continue; }
	sink_entries=$(entries <(printf '%s\n' "$sec"))
	keys=$(declared "$f")
	[ -n "$keys" ] || { ok 1 "$name declares keys t/man.t can read"; continue; }
	while IFS=$'\037' read -r key def type merge; do
		line=$(printf '%s\n' "$sink_entries" | awk -F'\t' -v k="$key" '$1 == k' | head -1)
		want="$key"$'\t'"$def"$'\t'"Type \\fI$type\\fR; merge \\fI$merge\\fR."
		is "$line" "$want" "[$name] $key is documented in sinkd-sinks.7 with its default, type and merge"
	done < <(printf '%s\n' "$keys" | tr '\t' '\037')
	extra=$(documented <(printf '%s\n' "$sec") | while read -r k; do
		printf '%s\n' "$keys" | cut -f1 | grep -qx -- "$k" || echo "$k"
	done)
	is "$extra" "" "every key sinkd-sinks.7 documents for $name is one it declares"
done
if command -v groff > /dev/null && command -v man > /dev/null; then
	is "$(LC_ALL=C.UTF-8 groff -man -ww -z "$SINKS7" 2>&1)" "" "groff -man -ww: no warnings for sinkd-sinks.7"
	is "$(MANWIDTH=80 man --warnings -l "$SINKS7" 2>&1 > /dev/null)" "" "man --warnings: no warnings for sinkd-sinks.7"
	is "$(MANWIDTH=80 man -l "$SINKS7" 2>/dev/null | grep -nE '[[:alnum:]] +[,;:.]( |$)|\( |^ *[,;:.] ')" "" \
		"sinkd-sinks.7 as rendered: no punctuation standing apart"
fi
# sinkd-list(8): the list sink's keys (lists/sink.c) under THE SINK'S
# KEYS, the same way; every command of sinkd-list's usage is documented
LIST8=$MANDIR/sinkd-list.8
[ -f "$LIST8" ] || bail_out "no $LIST8"
sec=$(section "$LIST8" "THE SINK'S KEYS")
list_entries=$(entries <(printf '%s\n' "$sec"))
keys=$(declared "$TOP/lists/sink.c")
[ "$(printf '%s\n' "$keys" | wc -l)" -ge 6 ]; ok $? "t/man.t reads the list sink's keys"
while IFS=$'\037' read -r key def type merge; do
	line=$(printf '%s\n' "$list_entries" | awk -F'\t' -v k="$key" '$1 == k' | head -1)
	is "$line" "$key"$'\t'"$def"$'\t'"Type \\fI$type\\fR; merge \\fI$merge\\fR." \
		"[lists] $key is documented in sinkd-list.8 with its default, type and merge"
done < <(printf '%s\n' "$keys" | tr '\t' '\037')
extra=$(documented <(printf '%s\n' "$sec") | while read -r k; do
	printf '%s\n' "$keys" | cut -f1 | grep -qx -- "$k" || echo "$k"
done)
is "$extra" "" "every key sinkd-list.8 documents is one the list sink declares"
if [ -x "$TOP/tools/sinkd-list" ]; then
	missing=$("$TOP/tools/sinkd-list" -h 2>&1 | sed -n 's/^  \([a-z]*\) .*/\1/p' | while read -r w; do
		grep -q "^\.BI\? $w\b" "$LIST8" || echo "$w"
	done)
	is "$missing" "" "sinkd-list(8) documents every command of sinkd-list -h"
else
	ok 1 "tools/sinkd-list is built (make tests)"
fi
if command -v groff > /dev/null && command -v man > /dev/null; then
	is "$(LC_ALL=C.UTF-8 groff -man -ww -z "$LIST8" 2>&1)" "" "groff -man -ww: no warnings for sinkd-list.8"
	is "$(MANWIDTH=80 man --warnings -l "$LIST8" 2>&1 > /dev/null)" "" "man --warnings: no warnings for sinkd-list.8"
	is "$(MANWIDTH=80 man -l "$LIST8" 2>/dev/null | grep -nE '[[:alnum:]] +[,;:.]( |$)|\( |^ *[,;:.] ')" "" \
		"sinkd-list.8 as rendered: no punctuation standing apart"
fi
# sinkd-sink-protocol(7) and the pool keys of co-process sinks: each key
# of pool_keys[] in src/sink_proc.c (sinkd -d shows no worker's keys) has
# an entry in sinkd-policy(5)'s CO-PROCESS SINKS with its default, and
# every entry there is one of them; the page formats without a warning.
PROTO7=$MANDIR/sinkd-sink-protocol.7
[ -f "$PROTO7" ] || bail_out "no $PROTO7"
pool_keys=$(awk '/^static const struct sinkd_key pool_keys\[\]/ { on = 1; next }
	on && /^};/ { on = 0 }
	on && /^[ \t]*\{"[a-z-]+", SINKD_KEY_/ {
		split($0, f, "\"")
		print f[2] "\t" f[4]
	}' "$TOP/src/sink_proc.c")
[ -n "$pool_keys" ] || bail_out "no pool_keys in src/sink_proc.c"
pool_entries=$(entries <(section "$POLICY5" "CO-PROCESS SINKS"))
while IFS=$'\t' read -r key def; do
	mdef=$(printf '%s\n' "$pool_entries" | awk -F'\t' -v k="$key" '$1 == k { print $2 }')
	is "$mdef" "$def" "[sink:NAME] (command, socket) $key is documented in sinkd-policy.5 with its default"
done <<<"$pool_keys"
extra=$(documented <(section "$POLICY5" "CO-PROCESS SINKS") | while read -r k; do
	printf '%s\n' "$pool_keys" | awk -F'\t' -v k="$k" '$1 == k { f = 1 } END { exit !f }' || echo "$k"
done)
is "$extra" "" "every key CO-PROCESS SINKS documents is one sinkd gives co-process sinks"
if command -v groff > /dev/null && command -v man > /dev/null; then
	is "$(LC_ALL=C.UTF-8 groff -man -ww -z "$PROTO7" 2>&1)" "" "groff -man -ww: no warnings for sinkd-sink-protocol.7"
	is "$(MANWIDTH=80 man --warnings -l "$PROTO7" 2>&1 > /dev/null)" "" "man --warnings: no warnings for sinkd-sink-protocol.7"
	is "$(MANWIDTH=80 man -l "$PROTO7" 2>/dev/null | grep -nE '[[:alnum:]] +[,;:.]( |$)|\( |^ *[,;:.] ')" "" \
		"sinkd-sink-protocol.7 as rendered: no punctuation standing apart"
fi
done_testing
