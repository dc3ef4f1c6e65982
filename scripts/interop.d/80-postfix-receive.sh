#!/usr/bin/env bash
# Interop: a real Postfix sends to `deliverdoctor receive` over STARTTLS.
#
# A private Postfix instance (smtpd on 127.0.0.1) relays everything to
# `receive --mimic gmail` with smtp_tls_security_level = encrypt, so every
# message crosses a real MTA's SMTP client and STARTTLS. The messages:
#   1 signed   DKIM-signed by dkimpy (RSA 2048, d=example.com), aligned
#   2 unsigned no signature (DMARC passes through SPF alone)
#   3 broken   signed, then the body changed
#   4 bulk     signed, List-Unsubscribe mailto: only (no RFC 8058 one-click)
#   5 reject   From: strict.example (p=reject), unsigned, SPF -all
# receive judges them as sent from 192.0.2.25 (--client-ip: Postfix connects
# from 127.0.0.1) with the DNS from a zone file (--offline).
#
# Asserts: each JSON report says what the case expects (DKIM per signature,
# DMARC, TLS used, the bulk finding, Gmail's verdict), and Postfix's log
# shows Gmail's 550 5.7.26 for message 5. The received messages are kept in
# $DD_RECEIVE_KEEP (if set) for 85-mailauth-differential.sh.
set -euo pipefail
source scripts/interop-lib.sh

need_postfix
need_pkgs python3-dkim python3-dnspython openssl
PY=/usr/bin/python3  # Debian's, where python3-dkim is

single_postfix 80-postfix-receive
rport=25251
receive_pid=""
trap '[ -n "$receive_pid" ] && kill "$receive_pid" 2>/dev/null; [ -n "$started" ] && postfix_stop "$work/etc"; [ -z "${DD_DEBUG:-}" ] && rm -rf "$work"' EXIT

# The DKIM key and the DNS of the two sending domains.
openssl genrsa -traditional -out "$work/dkim.key" 2048 >/dev/null 2>&1 || fail "openssl genrsa"
pub=$(openssl rsa -in "$work/dkim.key" -pubout -outform DER 2>/dev/null | base64 -w0)
python3 - "$pub" >"$work/dns.zone" <<'PY'
import sys
p = sys.argv[1]
rec = "v=DKIM1; k=rsa; p=" + p
chunks = " ".join('"%s"' % rec[i:i+250] for i in range(0, len(rec), 250))
print('''$TTL 300
example.com.              IN TXT "v=spf1 ip4:192.0.2.0/26 -all"
_dmarc.example.com.       IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
s1._domainkey.example.com. IN TXT %s
mail.example.com.         IN A   192.0.2.25
25.2.0.192.in-addr.arpa.  IN PTR mail.example.com.
strict.example.           IN TXT "v=spf1 -all"
_dmarc.strict.example.    IN TXT "v=DMARC1; p=reject"''' % chunks)
PY

# receive: Gmail's answers, JSON reports and the messages under $work/out.
mkdir -p "$work/out"
"$DD" receive --listen "127.0.0.1:$rport" --hostname mx.test.example --mimic gmail \
  --client-ip 192.0.2.25 --zone "$work/dns.zone" --offline --dnsbl ip:bl.test \
  --output "$work/out" --keep --format jsonl >"$work/reports.jsonl" 2>"$work/receive.log" &
receive_pid=$!
for _ in $(seq 1 100); do
  python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$rport),timeout=1)" 2>/dev/null && break
  sleep 0.1
done

{
  postfix_main_cf_base "$work"
  cat <<EOF
myhostname = mail.example.com
smtp_helo_name = mail.example.com
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$rport
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
smtpd_error_sleep_time = 0s
maillog_file_prefixes = $work
# The bounce of message 5 goes back to receive once (null sender); no retries.
notify_classes =
bounce_queue_lifetime = 0
maximal_queue_lifetime = 0
EOF
} >"$work/etc/main.cf"
{
  postfix_master_cf 25252 tls
  echo "smtp      unix  -       -       n       -       -       smtp"
  echo "relay     unix  -       -       n       -       -       smtp"
} >"$work/etc/master.cf"
started=1
postfix_start "$work/etc" 25252 || fail "postfix did not start on 127.0.0.1:25252"

# Compose, sign (dkimpy) and submit the five messages to Postfix.
"$PY" - "$work/dkim.key" 25252 <<'PY' || fail "submitting the messages"
import dkim, smtplib, sys, email.utils, time
key = open(sys.argv[1], "rb").read()
port = int(sys.argv[2])
def msg(case, frm, extra=""):
    return ("From: Ada <%s>\r\nTo: grace@mx.test.example\r\nSubject: case-%s\r\n"
            "Date: %s\r\nMessage-ID: <%s-%d@example.com>\r\n%sMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "The engine weaves algebraic patterns.\r\n" % (frm, case, email.utils.formatdate(), case, time.time_ns(), extra)).encode()
def sign(m):
    h = [b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe"]
    return dkim.sign(m, b"s1", b"example.com", key, include_headers=h,
                     canonicalize=(b"relaxed", b"relaxed")) + m
cases = [
    ("bounce@example.com", sign(msg("signed", "ada@example.com"))),
    ("bounce@example.com", msg("unsigned", "ada@example.com")),
    ("bounce@example.com", sign(msg("broken", "ada@example.com")).replace(b"algebraic", b"arithmetic")),
    ("bounce@example.com", sign(msg("bulk", "ada@example.com", "List-Unsubscribe: <mailto:unsub@example.com>\r\n"))),
    ("bounce@strict.example", msg("reject", "ada@strict.example")),
]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("submit.example.com")
for sender, m in cases:
    s.sendmail(sender, ["grace@mx.test.example"], m)
s.quit()
PY

# Wait (bounded) for five reports and the reject in Postfix's log.
for _ in $(seq 1 300); do
  [ "$(wc -l <"$work/reports.jsonl")" -ge 5 ] && grep -q "5.7.26" "$work/maillog" 2>/dev/null && break
  sleep 0.1
done
[ "$(wc -l <"$work/reports.jsonl")" -ge 5 ] || { cat "$work/receive.log" >&2; fail "expected 5 reports, got $(wc -l <"$work/reports.jsonl")"; }
grep -q "said: 550[- ]5.7.26" "$work/maillog" || { cat "$work/receive.log" >&2; fail "Postfix did not log Gmail's 550 5.7.26 reject"; }

python3 - "$work/reports.jsonl" <<'PY' || fail "report contents"
import json, sys
reps = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["envelope"]["mail_from"] == "":
        # Postfix's own bounce of message 5 (null sender); judged too.
        print("%-9s (Postfix's bounce of case-reject) gmail=%s" % ("<>", [v["outcome"] for v in r["verdicts"]][0]))
        continue
    reps[r["message"]["subject"].removeprefix("case-")] = r
def check(r, name):
    return next((c for c in r["checks"] if c["name"] == name), None)
def sigs(r):
    return [s["result"] for s in check(r, "dkim")["data"]["computed"]["signatures"]]
def dmarc(r):
    return check(r, "dmarc")["data"]["computed"]["verdict"]["result"]
def gmail(r):
    v = next(v for v in r["verdicts"] if v["provider"] == "gmail")
    return v["outcome"], v["codes"]
ids = lambda r: {f["id"] for f in r["findings"]}
problems = []
def want(cond, what):
    if not cond:
        problems.append(what)
for case, r in sorted(reps.items()):
    want(r["schema"] == "deliverdoctor.report/v1" and r["kind"] == "message", case + ": schema/kind")
    e = r["envelope"]
    want(e["tls"]["used"] and e["tls"]["version"].startswith("TLS 1."), case + ": not over TLS: %s" % e["tls"])
    want(e["client_ip"] == "192.0.2.25" and e["connected_ip"] == "127.0.0.1" and e["helo"] == "mail.example.com", case + ": envelope %s" % e)
    print("%-9s spf=%-5s dkim=%-12s dmarc=%-5s gmail=%s %s" % (case, check(r, "spf")["data"]["computed"]["result"], ",".join(sigs(r)) or "none", dmarc(r), *gmail(r)))
want(set(reps) == {"signed", "unsigned", "broken", "bulk", "reject"}, "cases %s" % sorted(reps))
want(sigs(reps["signed"]) == ["pass"] and dmarc(reps["signed"]) == "pass" and gmail(reps["signed"])[0] == "accept", "signed")
want(sigs(reps["unsigned"]) == [] and "dkim.unsigned" in ids(reps["unsigned"]) and dmarc(reps["unsigned"]) == "pass", "unsigned")
want(sigs(reps["broken"]) == ["fail"] and dmarc(reps["broken"]) == "pass", "broken: %s" % sigs(reps["broken"]))
want(sigs(reps["bulk"]) == ["pass"] and "bulk.no-one-click" in ids(reps["bulk"]) and gmail(reps["bulk"])[0] == "spam", "bulk")
want(dmarc(reps["reject"]) == "fail" and gmail(reps["reject"]) == ("reject", ["5.7.26"]), "reject: %s" % (gmail(reps["reject"]),))
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
PY

if [ -n "${DD_RECEIVE_KEEP:-}" ]; then
  mkdir -p "$DD_RECEIVE_KEEP" && cp "$work"/out/*.eml "$work"/out/*.json "$work/dns.zone" "$DD_RECEIVE_KEEP/"
fi
echo "$name: ok: 5 messages from Postfix over STARTTLS judged as expected; Postfix logged Gmail's 550 5.7.26 for the DMARC failure"
