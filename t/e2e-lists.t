#!/bin/bash
# e2e-lists.t - the list service (lists/lists.so, sinkd-list) through a
# real Postfix
#
# Real SMTP into a private Postfix whose milter is the real sinkd with
# the chain protocol, sink:lists; the store is an SQLite file of the
# test's own, managed with tools/sinkd-list run as root (it becomes the
# store's owner), and the list's replies go back into the same Postfix
# (submit), so that what people get is what Postfix delivered.  Checked:
# subscribe by mail with its confirmation (the token reply, a welcome),
# a forged and an expired token refused at RCPT TO, a member's post
# delivered to every member exactly once with the List-* fields, the
# subject prefix (never doubled), Precedence and the envelope sender
# LIST-bounces@; a post sharing its transaction deferred (452); a loop
# refused; a non-member's post held, the moderator asked, approved (by
# mail) and delivered to the members of that moment; another refused by
# sinkd-list and the poster told; the footer in both alternatives of a
# post; a p=reject author munged, and wrapped (DMARC policies from a DNS
# server of the test's); DSNs counted and a member suspended, then enabled
# again; unsubscribe with confirmation; help
# and info; LIST-owner@ reaching the owners; hostile commands (a huge
# body, thousands of command lines) bounded; no sanitizer report.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$TOP/t/lib/tap.sh"
. "$TOP/t/lib/mail.sh"
. "$TOP/t/lib/postfix.sh"
. "$TOP/t/lib/sinkd.sh"

e2e_workdir e2e-lists
mkdir -p "$W/pf" "$W/sk" "$W/store"
PORT=$(pf_free_port)
pf_setup "$W/pf" "$PORT" "unix:$W/sk/sinkd.sock" >/dev/null || bail_out "pf_setup"
pf_start || bail_out "pf_start"
sk_init "$W/sk" "unix:$W/sk/sinkd.sock"
chown postfix "$W/store"
# the authors' DMARC policies: a DNS server of the test's own
printf '%s\n' '_dmarc.strict.example TXT v=DMARC1; p=reject' \
	'_dmarc.loose.example TXT v=DMARC1; p=none' >"$W/zone"
python3 "$TOP/t/lib/dnsanswer.py" -l "$W/queries" "$W/zone" </dev/null >"$W/dnsport" 2>"$W/dnserr" &
DNSPID=$!
trap '_e2e_cleanup; kill $DNSPID 2>/dev/null' EXIT
for i in $(seq 1 100); do grep -q ' ' "$W/dnsport" 2>/dev/null && break; sleep 0.1; done
DNSPORT=$(cut -d' ' -f1 "$W/dnsport")
[ -n "$DNSPORT" ] || bail_out "the test DNS server did not start: $(cat "$W/dnserr")"
sed -i 's/^\[sinkd\]$/[sinkd]\nchain = protocol, sink:lists/' "$W/sk/conf/sinkd.conf"
sk_conf "state-dir = $W/sk/state" \
	'[sink:lists]' "module = $TOP/lists/lists.so" "store = sqlite:$W/store/lists.db" \
	"submit = 127.0.0.1:$PORT" 'max-commands = 5' "dns-server = 127.0.0.1:$DNSPORT" \
	'dmarc-timeout = 3s' 'expire-interval = 1s' "templates = $W/templates"
# the templates: info replaced, the others built in
mkdir -p "$W/templates"
printf 'Subject: About ${list}\n\nThe list ${list} (${description}); its owners: ${owner}.\n' \
	>"$W/templates/info.txt"

# sinkd -n: what is wrong with the sink's keys, at their file:line
C=$W/sk/conf/sinkd.conf
badconf() { sed "s|^$1 = .*|$1 = $2|" "$C" >"$W/bad.conf"; "$SINKD" -n -c "$W/bad.conf" 2>&1; }
like "$(badconf store 'bogus:x')" "^$W/bad.conf:[0-9]+: store: bogus:x: neither sqlite:PATH" \
	"sinkd -n: a store that is none: file:line: store: what is wrong"
line=$(grep -n '^templates = ' "$C" | cut -d: -f1)
like "$(badconf templates "$W/none")" "^$W/bad.conf:$line: templates: $W/none: no such directory" \
	"  a templates directory that does not exist, at its line"
mkdir -p "$W/badtmpl" && printf 'Hello ${nosuch}\n' >"$W/badtmpl/help.txt"
like "$(badconf templates "$W/badtmpl")" "^$W/bad.conf:$line: templates: $W/badtmpl/help.txt: no Subject: line" \
	"  a template without its Subject: line"
"$SINKD" -n -c "$W/bad.conf" >/dev/null 2>&1
is $? 1 "  and sinkd -n exits 1"

sk_start || bail_out "sinkd did not start"

L="$TOP/tools/sinkd-list -c $W/sk/conf/sinkd.conf"
LIST=dev@example.org

# wait_for RCPT N: N messages delivered to RCPT (diag on timeout)
wait_for() { pf_wait_delivered "$1" "$2" 30 || diag "$1: $(pf_delivered_count "$1") of $2 delivered"; }
# token FILE: the 32-hex token of a confirm / moderate message
token() { grep -oE '\+(confirm|approve)-[0-9a-f]{32}@' "$1" | head -1 | grep -oE '[0-9a-f]{32}'; }
send() { OUT=$(pf_swaks "$@"); }
# newest RCPT SUBJECT-ERE: wait (30 s) for a message to RCPT whose Subject
# matches, and print the newest such message's path
newest() {
	local box i f
	box=$(pf_mailbox "$1")
	for i in $(seq 1 300); do
		f=$(grep -lE "^Subject: .*$2" "$box"/* 2>/dev/null | xargs -r ls -t | head -1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.1
	done
	diag "$1: no message whose Subject matches $2"
	return 1
}
# cmd FROM TO SUBJECT: a message with an empty body
cmd() {
	printf 'From: %s\nTo: %s\nSubject: %s\n\n' "$1" "$2" "$3" >"$W/cmd.eml"
	send --from "$1" --to "$2" --data "$W/cmd.eml"
}

$L create $LIST owner@example.org >/dev/null; ok $? "sinkd-list create, with an owner"
$L add $LIST alice@example.com bob@example.net >/dev/null; ok $? "two members added"
$L add -r moderator $LIST mod@example.org >/dev/null; ok $? "a moderator added"
$L set $LIST subject-prefix '[dev]' && $L set $LIST description 'Developers'
ok $? "settings: subject prefix, description"
is "$(stat -c %U "$W/store/lists.db")" postfix "sinkd-list, run as root, made the store as its directory's owner"

# --- subscribe with confirmation ----------------------------------------
send --from carol@example.com --to dev+subscribe@example.org --header 'Subject: hi' --body 'x'
like "$(smtp_reply "$OUT" .)" '^250 ' "a message to LIST+subscribe@ is accepted"
wait_for carol@example.com 1
F=$(pf_last_message carol@example.com)
TOK=$(token "$F")
like "$TOK" '^[0-9a-f]{32}$' "carol gets a confirmation with a token"
is "$(header "$F" From)" "dev-request@example.org" "  from the list's -request address"
is "$(header "$F" Auto-Submitted)" "auto-replied" "  marked auto-replied (RFC 3834)"
is "$(pf_delivered_count dev+subscribe@example.org)" 0 "  the command address itself gets nothing"
is "$($L members $LIST | grep -c carol)" 0 "  carol is not a member before confirming"

send --from mallory@example.com --to "dev+confirm-0123456789abcdef0123456789abcdef@example.org" --body x
is "$(smtp_reply "$OUT" 'RCPT TO:<dev+confirm-0123456789abcdef0123456789abcdef@example.org>' | cut -c1-9)" \
	"550 5.7.1" "a forged confirmation token is refused at RCPT TO"
send --from mallory@example.com --to "dev+confirm-$TOK@example.com" --body x
like "$(smtp_reply "$OUT" .)" '^(250|550)' "  the token at another list's domain is no confirmation"

send --from carol@example.com --to "dev+confirm-$TOK@example.org" --body 'yes'
like "$(smtp_reply "$OUT" .)" '^250 ' "the confirmation is accepted"
wait_for carol@example.com 2
is "$($L members $LIST | grep -c '^carol@example.com$')" 1 "carol is a member after confirming"
like "$(header "$(pf_last_message carol@example.com)" Subject)" "Welcome to $LIST" "  and is welcomed"
send --from carol@example.com --to "dev+confirm-$TOK@example.org" --body 'again'
like "$(smtp_reply "$OUT" 'RCPT TO:<dev+confirm-'"$TOK"'@example.org>')" '^550 ' "the token is single-use"

# --- a member's post ------------------------------------------------------
send --from alice@example.com --to $LIST --header 'Subject: first post' --body 'Hello list.'
like "$(smtp_reply "$OUT" .)" '^250 ' "a member's post is accepted"
for r in alice@example.com bob@example.net carol@example.com; do wait_for $r 1; done
n=0
for r in alice@example.com bob@example.net; do
	[ "$(pf_delivered_count $r)" -eq 1 ] && n=$((n + 1))
done
[ "$(pf_delivered_count carol@example.com)" -eq 3 ] && n=$((n + 1))
is "$n" 3 "every member gets the post exactly once"
is "$(pf_delivered_count mod@example.org)" 0 "  a moderator who is no member does not"
is "$(pf_delivered_count $LIST)" 0 "  nor the list's own address"
F=$(pf_last_message bob@example.net)
is "$(header "$F" List-Id)" "Developers <dev.example.org>" "List-Id (RFC 2919)"
is "$(header "$F" List-Post)" "<mailto:dev@example.org>" "List-Post (RFC 2369)"
is "$(header "$F" List-Unsubscribe)" "<mailto:dev+unsubscribe@example.org>" "List-Unsubscribe"
is "$(header "$F" List-Help)" "<mailto:dev-request@example.org?subject=help>" "List-Help"
is "$(header "$F" Precedence)" "list" "Precedence: list"
is "$(header "$F" Subject)" "[dev] first post" "the subject prefix"
is "$(header "$F" Return-Path)" "<dev-bounces@example.org>" "the envelope sender is LIST-bounces@"
grep -q 'Hello list.' "$F"; ok $? "  and the body as sent"

send --from bob@example.net --to $LIST --header 'Subject: Re: [dev] first post' --body 'Reply.'
wait_for alice@example.com 2
is "$(header "$(pf_last_message alice@example.com)" Subject)" "Re: [dev] first post" \
	"a reply's subject keeps one prefix"

send --from alice@example.com --to $LIST,bob@example.net --body 'both'
is "$(smtp_reply "$OUT" 'RCPT TO:<bob@example.net>' | cut -c1-9)" "452 4.5.3" \
	"a post shares no transaction: the other recipient is deferred (452)"
wait_for alice@example.com 3
is "$(pf_delivered_count bob@example.net)" 3 "  and the post goes to the list alone"

F=$(pf_last_message bob@example.net)
send --from alice@example.com --to $LIST --data "$F"
is "$(smtp_reply "$OUT" . | cut -c1-9)" "554 5.4.6" "a post that came from the list is refused (loop)"

# --- a non-member's post: held, approved --------------------------------
send --from dave@example.com --to $LIST --header 'Subject: from outside' --body 'Let me in.'
like "$(smtp_reply "$OUT" .)" '^250 ' "a non-member's post is accepted"
wait_for mod@example.org 1
F=$(pf_last_message mod@example.org)
like "$(header "$F" Subject)" "Held for approval: from outside" "the moderator is asked"
wait_for dave@example.com 1
like "$(header "$(pf_last_message dave@example.com)" Subject)" "waits for approval" "  and the poster told"
is "$(pf_delivered_count alice@example.com)" 3 "  the members get nothing yet"
HT=$(token "$F")
like "$($L held $LIST)" "$HT post dave@example.com" "sinkd-list held shows it"
$L add $LIST erin@example.org >/dev/null
send --from mod@example.org --to "dev+approve-$HT@example.org" --body ok
like "$(smtp_reply "$OUT" .)" '^250 ' "the moderator approves by mail"
wait_for erin@example.org 1
wait_for alice@example.com 4
F=$(pf_last_message erin@example.org)
is "$(header "$F" Subject)" "[dev] from outside" "the post reaches a member added after it was held"
is "$(grep -c '^X-Sinkd-List-Approved' "$F")" 0 "  without the approval field"
is "$(header "$F" List-Id)" "Developers <dev.example.org>" "  with the list's fields"
is "$($L held $LIST | wc -l)" 0 "  and nothing is held any more"

send --from dave@example.com --to $LIST --header 'Subject: second try' --body 'Please.'
wait_for mod@example.org 2
HT=$(token "$(pf_last_message mod@example.org)")
like "$($L reject $LIST "$HT")" 'refused' "sinkd-list reject"
wait_for dave@example.com 3
like "$(header "$(pf_last_message dave@example.com)" Subject)" "was refused" "  the poster is told"
send --from mod@example.org --to "dev+approve-$HT@example.org" --body ok
like "$(smtp_reply "$OUT" 'RCPT TO:<dev+approve-'"$HT"'@example.org>')" '^550 ' "  and the refused post's token is gone"
is "$(pf_delivered_count alice@example.com)" 4 "  the members never get it"

# --- the footer, placed as the disclaimer is ----------------------------
$L set $LIST footer "The dev list: https://lists.example.org/dev"
python3 - "$W/alt.eml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: alice@example.com\nTo: dev@example.org\nSubject: with a footer\n"
            "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b1\n\n"
            "--b1\nContent-Type: text/plain; charset=utf-8\n\nPlain words.\n\n"
            "--b1\nContent-Type: text/html; charset=utf-8\n\n"
            "<html><body><p>HTML words.</p></body></html>\n\n--b1--\n")
PY
send --from alice@example.com --to $LIST --data "$W/alt.eml"
wait_for erin@example.org 2
F=$(pf_last_message erin@example.org)
python3 - "$F" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in m.walk()
         if not p.is_multipart()}
plain, html = parts["text/plain"], parts["text/html"]
ok = ("Plain words." in plain and plain.index("Plain words.") < plain.index("The dev list")
      and html.index("HTML words.") < html.index("The dev list") < html.index("</body>"))
sys.exit(0 if ok else 1)
PY
ok $? "the list's footer goes after the text of both alternatives (the disclaimer's placement)"
is "$(grep -c 'The dev list' "$F")" 2 "  once in each"

# --- DMARC: a p=reject author munged ----------------------------------
$L add $LIST rita@strict.example lou@loose.example >/dev/null
send --from rita@strict.example --to $LIST --header 'Subject: strict' \
	--header 'From: Rita Reject <rita@strict.example>' --body 'From a p=reject domain.'
wait_for erin@example.org 3
F=$(pf_last_message erin@example.org)
is "$(header "$F" From)" 'Rita Reject via Developers <dev@example.org>' \
	"a p=reject author's post goes out From the list"
is "$(header "$F" Reply-To)" "Rita Reject <rita@strict.example>" "  replies go to the author"
is "$(header "$F" X-Original-From)" "Rita Reject <rita@strict.example>" "  X-Original-From names the author"
send --from lou@loose.example --to $LIST --header 'Subject: loose' \
	--header 'From: Lou <lou@loose.example>' --body 'From a p=none domain.'
wait_for erin@example.org 4
F=$(pf_last_message erin@example.org)
is "$(header "$F" From)" "Lou <lou@loose.example>" "a p=none author's From is left as it is"
is "$(grep -c '^X-Original-From' "$F")" 0 "  without X-Original-From"
like "$(cat "$W/queries")" "_dmarc.strict.example" "  (the policies came from the test's DNS server)"
# the list set to wrap: the post as it came inside a new message From the list
$L set $LIST dmarc wrap
send --from rita@strict.example --to $LIST --header 'Subject: wrapped whole' \
	--header 'From: Rita Reject <rita@strict.example>' --header 'Message-ID: <wrap-1@strict.example>' \
	--body 'Wrapped, not munged.'
F=$(newest erin@example.org 'wrapped whole')
is "$(header "$F" From)" 'Rita Reject via Developers <dev@example.org>' \
	"dmarc = wrap: the new message goes out From the list"
is "$(header "$F" Reply-To)" "Rita Reject <rita@strict.example>" "  replies go to the author"
is "$(header "$F" Subject)" "[dev] wrapped whole" "  the prefix on the new message"
got=$(python3 - "$F" <<'PY'
import email, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"))
inner = m.get_payload(0).get_payload(0)
print(" ".join(p.get_content_type() for p in m.walk()), "|", inner["From"], "|", inner["Subject"],
      "|", inner["List-Id"], "|", inner.get_payload().strip(), "|", m.get_payload(1).get_payload().strip(),
      "|", m["X-Original-From"], "|", m["List-Id"])
PY
)
is "$got" "multipart/mixed message/rfc822 text/plain text/plain | Rita Reject <rita@strict.example> | wrapped whole | None | Wrapped, not munged. | The dev list: https://lists.example.org/dev | None | Developers <dev.example.org>" \
	"  the post inside as it came (its From, Subject, no list fields), the footer after it"
$L set $LIST dmarc munge

# --- bounces: counted, a member suspended --------------------------------
$L set $LIST bounce-score 2
# dsn ADDR: a delivery status notification saying ADDR failed, to -bounces@
dsn() {
	python3 - "$W/dsn.eml" "$1" <<'PY'
import sys
out, rcpt = sys.argv[1], sys.argv[2]
open(out, "w").write(
    "From: MAILER-DAEMON@mx.example.net\nTo: dev-bounces@example.org\n"
    "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=r\n\n"
    "--r\nContent-Type: text/plain\n\nIt failed.\n\n"
    "--r\nContent-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.net\n\n"
    "Final-Recipient: rfc822; %s\nOriginal-Recipient: rfc822;%s\nAction: failed\n"
    "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user\n\n--r--\n" % (rcpt, rcpt))
PY
	send --from '<>' --to dev-bounces@example.org --data "$W/dsn.eml"
}
dsn erin@example.org
like "$(smtp_reply "$OUT" .)" '^250 ' "a DSN to LIST-bounces@ is accepted"
sleep 1
like "$($L members -a $LIST | grep '^erin@')" 'bounces=1$' "  and counts one failure for the member"
dsn erin@example.org
sleep 1
like "$($L members -a $LIST | grep '^erin@')" 'member bounces=1$' "  a second the same day counts no more"
$L set $LIST bounce-score 1
dsn erin@example.org
F=$(newest erin@example.org 'suspended')
like "$(header "$F" Subject)" "suspended" \
	"at the bounce score the member's delivery is suspended, and the member told"
like "$($L members -a $LIST | grep '^erin@')" 'suspended' "  sinkd-list members -a says so"
N=$(pf_delivered_count erin@example.org)
send --from alice@example.com --to $LIST --header 'Subject: after the suspension' --body 'x'
newest alice@example.com 'after the suspension' >/dev/null
is "$(pf_delivered_count erin@example.org)" "$N" "  and posts no longer reach the member"
$L enable $LIST erin@example.org >/dev/null
send --from alice@example.com --to $LIST --header 'Subject: again' --body 'x'
is "$(header "$(newest erin@example.org 'again')" Subject)" "[dev] again" "sinkd-list enable: posts reach the member again"
is "$(pf_delivered_count dev-bounces@example.org)" 0 "LIST-bounces@ itself gets nothing"

# --- expiry: sinkd removes expired requests itself ------------------------
# rows PATTERN: how many rows of the tokens table hold address PATTERN
rows() {
	python3 - "$W/store/lists.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
if sys.argv[2] == "insert":
    db.execute("INSERT INTO tokens VALUES (?, 'dev@example.org', 'post', 'old@example.com', 1, NULL)",
               ("0" * 32,))
    db.commit()
else:
    print(db.execute("SELECT count(*) FROM tokens WHERE address = ?", (sys.argv[2],)).fetchone()[0])
PY
}
rows insert
is "$(rows old@example.com)" 1 "a held post that expired long ago is in the store"
unlike "$($L held $LIST)" "old@example.com" "  sinkd-list held leaves it out"
# (another message's event may have removed what had expired less than
# the interval before: a message at most every second, until it goes)
for i in $(seq 1 10); do
	cmd alice@example.com nobody@example.org "any mail $i"
	newest nobody@example.org "any mail $i" >/dev/null
	for j in $(seq 1 10); do [ "$(rows old@example.com)" = 0 ] && break 2; sleep 0.2; done
done
is "$(rows old@example.com)" 0 "  after a message is accepted, sinkd removed it (expire-interval)"
like "$(sk_log)" "expired requests and held posts removed" "  and logged it"

# --- unsubscribe, help, info, owner --------------------------------------
cmd bob@example.net dev-request@example.org unsubscribe
F=$(newest bob@example.net 'confirm [0-9a-f]{32}')
TOK=$(token "$F")
like "$TOK" '^[0-9a-f]{32}$' "unsubscribe by the -request address asks for a confirmation"
is "$($L members $LIST | grep -c bob)" 1 "  bob is a member until he confirms"
send --from bob@example.net --to "dev+confirm-$TOK@example.org" --body 'yes'
F=$(newest bob@example.net 'You have left')
like "$(header "$F" Subject)" "You have left" "bob is told he left"
is "$($L members $LIST | grep -c bob)" 0 "  and is gone after confirming"

cmd frank@example.com dev-request@example.org help
wait_for frank@example.com 1
grep -q 'unsubscribe \[ADDRESS\]' "$(pf_last_message frank@example.com)"
ok $? "help: the command list"
cmd frank@example.com dev+info@example.org hello
F=$(newest frank@example.com 'About dev@example.org')
like "$(cat "$F")" 'The list dev@example.org \(Developers\); its owners: dev-owner@example.org\.' \
	"info: what the list is, in the admin's template (templates)"

send --from frank@example.com --to dev-owner@example.org --header 'Subject: question' --body 'Hi owners.'
wait_for owner@example.org 1
is "$(header "$(pf_last_message owner@example.org)" Subject)" "question" "LIST-owner@ reaches the owners"

# --- hostile commands -----------------------------------------------------
python3 - "$W/many.eml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("From: gina@example.com\nTo: dev-request@example.org\nSubject: subscribe\n\n")
    for i in range(5000):
        f.write("subscribe victim%d@example.net\n" % i)
PY
send --from gina@example.com --to dev-request@example.org --data "$W/many.eml"
like "$(smtp_reply "$OUT" .)" '^250 ' "5000 command lines are accepted"
wait_for gina@example.com 1
wait_for victim3@example.net 1
sleep 1
n=$(find "$W/pf/mail/example.net" -maxdepth 1 -name 'victim*' | wc -l)
is "$n" 4 "  but max-commands lines are read (the subject and 4): 4 confirmations sent"
head -c 30000000 /dev/zero | tr '\0' 'a' | fold -w 70 >"$W/huge.txt"
{ printf 'From: hank@example.com\nTo: dev-request@example.org\nSubject: info\n\n'; cat "$W/huge.txt"; } >"$W/huge.eml"
send --from hank@example.com --to dev-request@example.org --data "$W/huge.eml"
like "$(smtp_reply "$OUT" .)" '^250 ' "a 30 MB command body is accepted"
wait_for hank@example.com 1
ok $? "  and answered"

sk_stop
sk_log_clean; ok $? "no sanitizer report"
done_testing
