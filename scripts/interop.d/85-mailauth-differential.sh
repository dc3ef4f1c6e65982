#!/usr/bin/env bash
# Differential: the same received messages judged by `deliverdoctor receive`
# and by two independent implementations — mailauth (npm, Node; `mailauth
# report` with the same client IP, HELO and MAIL FROM) and dkimpy (Debian
# python3-dkim: dkim.verify per signature, dkim.arc_verify) — on SPF, DKIM,
# DMARC and ARC. All three read the same DNS: a zone file for receive, the
# same records as mailauth's --dns-cache JSON and as dkimpy's dnsfunc.
#
# Messages (sent to receive over STARTTLS with smtplib): DKIM-signed and
# aligned, unsigned, a broken signature, bulk, a DMARC failure, one
# ARC-sealed by mailauth (`mailauth seal`, a forwarder's hop) and the same
# sealed message changed after sealing. Prints one line per message and
# implementation; any disagreement is listed with what the RFC says, and an
# unexplained one fails the script.
set -euo pipefail
source scripts/interop-lib.sh

need_pkgs python3-dkim python3-dnspython openssl ca-certificates
command -v npm >/dev/null 2>&1 || need_pkgs nodejs npm
PY=/usr/bin/python3 # Debian's, where python3-dkim is

name=85-mailauth-differential
work=$(mktemp -d "/tmp/dd-$name.XXXXXX")
rport=25253
receive_pid=""
trap '[ -n "$receive_pid" ] && kill "$receive_pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() {
  echo "$name: FAIL: $*" >&2
  [ -f "$work/receive.log" ] && tail -n 20 "$work/receive.log" >&2
  exit 1
}

# mailauth into a private directory (a pinned major version).
mkdir -p "$work/npm"
timeout 150 npm install --prefix "$work/npm" --no-audit --no-fund --silent mailauth@4 >"$work/npm.log" 2>&1 ||
  { cat "$work/npm.log" >&2; fail "npm install mailauth"; }
MA="$work/npm/node_modules/.bin/mailauth"
ma_version=$(node -e "console.log(require('$work/npm/node_modules/mailauth/package.json').version)")

# Keys: the author's DKIM key (example.com, s1) and a forwarder's ARC key
# (forwarder.example, arc1).
for k in dkim arc; do
  openssl genrsa -traditional -out "$work/$k.key" 2048 >/dev/null 2>&1 || fail "openssl genrsa"
  openssl rsa -in "$work/$k.key" -pubout -outform DER 2>/dev/null | base64 -w0 >"$work/$k.pub"
done

# One set of records, written as a zone (receive), a DNS cache (mailauth)
# and a map for dkimpy.
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
dk = open(w + "/dkim.pub").read().strip()
ak = open(w + "/arc.pub").read().strip()
txt = {
    "example.com": "v=spf1 ip4:192.0.2.0/26 -all",
    "_dmarc.example.com": "v=DMARC1; p=reject; rua=mailto:dmarc@example.com",
    "s1._domainkey.example.com": "v=DKIM1; k=rsa; p=" + dk,
    "arc1._domainkey.forwarder.example": "v=DKIM1; k=rsa; p=" + ak,
    "strict.example": "v=spf1 -all",
    "_dmarc.strict.example": "v=DMARC1; p=reject",
    "forwarder.example": "v=spf1 ip4:192.0.2.0/26 -all",
}
split = lambda s: [s[i:i+250] for i in range(0, len(s), 250)]
with open(w + "/dns.zone", "w") as z:
    z.write("$TTL 300\n")
    for n, v in txt.items():
        z.write("%s. IN TXT %s\n" % (n, " ".join('"%s"' % c for c in split(v))))
    z.write("mail.example.com. IN A 192.0.2.25\n25.2.0.192.in-addr.arpa. IN PTR mail.example.com.\n")
cache = {n: {"TXT": [split(v)]} for n, v in txt.items()}
cache.setdefault("mail.example.com", {})["A"] = ["192.0.2.25"]
cache["25.2.0.192.in-addr.arpa"] = {"PTR": ["mail.example.com"]}
json.dump(cache, open(w + "/dns.json", "w"), indent=1)
json.dump(txt, open(w + "/txt.json", "w"))
PY

# The messages. dkimpy signs; mailauth seals (ARC) a copy of the signed one.
mkdir -p "$work/msgs"
"$PY" - "$work" <<'PY' || fail "composing the messages"
import dkim, email.utils, sys, time
w = sys.argv[1]
key = open(w + "/dkim.key", "rb").read()
def msg(case, frm, extra=""):
    return ("From: Ada <%s>\r\nTo: grace@mx.test.example\r\nSubject: case-%s\r\n"
            "Date: %s\r\nMessage-ID: <%s-%d@example.com>\r\n%sMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "The engine weaves algebraic patterns.\r\n" % (frm, case, email.utils.formatdate(), case, time.time_ns(), extra)).encode()
def sign(m):
    return dkim.sign(m, b"s1", b"example.com", key, include_headers=[b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe"],
                     canonicalize=(b"relaxed", b"relaxed")) + m
cases = {
    "signed": sign(msg("signed", "ada@example.com")),
    "unsigned": msg("unsigned", "ada@example.com"),
    "broken": sign(msg("broken", "ada@example.com")).replace(b"algebraic", b"arithmetic"),
    "bulk": sign(msg("bulk", "ada@example.com", "List-Unsubscribe: <mailto:unsub@example.com>\r\n")),
    "reject": msg("reject", "ada@strict.example"),
    "arc": sign(msg("arc", "ada@example.com")),
}
for c, m in cases.items():
    open("%s/msgs/%s.eml" % (w, c), "wb").write(m)
PY
"$MA" seal "$work/msgs/arc.eml" -k "$work/arc.key" -d forwarder.example -s arc1 -i 192.0.2.25 -e mail.example.com \
  -f bounce@example.com -m forwarder.example -n "$work/dns.json" >"$work/msgs/arc.sealed" 2>"$work/seal.log" ||
  { cat "$work/seal.log" >&2; fail "mailauth seal"; }
grep -q "^ARC-Seal:" "$work/msgs/arc.sealed" || fail "mailauth seal wrote no ARC-Seal"
mv "$work/msgs/arc.sealed" "$work/msgs/arc.eml"
sed 's/algebraic/arithmetic/; s/Subject: case-arc/Subject: case-arc-broken/' "$work/msgs/arc.eml" >"$work/msgs/arc-broken.eml"

mkdir -p "$work/out"
"$DD" receive --listen "127.0.0.1:$rport" --hostname mx.test.example --client-ip 192.0.2.25 \
  --zone "$work/dns.zone" --offline --dnsbl ip:bl.test --output "$work/out" --keep --format jsonl \
  >"$work/reports.jsonl" 2>"$work/receive.log" &
receive_pid=$!

python3 - "$work" "$rport" <<'PY' || fail "sending to receive"
import glob, os, smtplib, socket, ssl, sys, time
w, port = sys.argv[1], int(sys.argv[2])
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
ctx = ssl._create_unverified_context()
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
s.ehlo("mail.example.com")
s.starttls(context=ctx)
s.ehlo("mail.example.com")
for f in sorted(glob.glob(w + "/msgs/*.eml")):
    case = os.path.basename(f)[:-4]
    sender = "bounce@strict.example" if case == "reject" else "bounce@example.com"
    s.sendmail(sender, ["grace@mx.test.example"], open(f, "rb").read())
s.quit()
PY
for _ in $(seq 1 200); do
  [ "$(wc -l <"$work/reports.jsonl")" -ge 7 ] && break
  sleep 0.1
done
[ "$(wc -l <"$work/reports.jsonl")" -ge 7 ] || fail "expected 7 reports, got $(wc -l <"$work/reports.jsonl")"

"$PY" - "$work" "$MA" "$ma_version" <<'PY' || fail "the implementations disagree (see above)"
import dkim, json, subprocess, sys
w, ma, ma_version = sys.argv[1:4]
txt = json.load(open(w + "/txt.json"))
def dnsfunc(name, timeout=5):
    v = txt.get(name.decode().rstrip(".") if isinstance(name, bytes) else name.rstrip("."))
    return v.encode() if v else None

def check(r, n):
    return next((c for c in r["checks"] if c["name"] == n), None)

rows, disagreements, labels = [], [], []
for line in open(w + "/reports.jsonl"):
    r = json.loads(line)
    case = r["message"]["subject"].removeprefix("case-")
    eml = "%s/out/%s.eml" % (w, r["id"])
    raw = open(eml, "rb").read()
    ours = {
        "spf": check(r, "spf")["data"]["computed"]["result"],
        "dkim": ",".join(s["result"] for s in check(r, "dkim")["data"]["computed"]["signatures"]) or "none",
        "dmarc": check(r, "dmarc")["data"]["computed"]["verdict"]["result"],
        "arc": (check(r, "arc") or {"data": {"result": "none"}})["data"]["result"],
    }
    e = r["envelope"]
    out = subprocess.run([ma, "report", eml, "-i", e["client_ip"], "-e", e["helo"], "-f", e["mail_from"], "-m", "mx.test.example",
                          "-n", w + "/dns.json"], capture_output=True, timeout=60)
    m = json.loads(out.stdout)
    mres = [x["status"]["result"] for x in m["dkim"]["results"] if x["status"]["result"] != "none"]
    theirs = {
        "spf": m["spf"]["status"]["result"],
        "dkim": ",".join(mres) or "none",
        "dmarc": m["dmarc"]["status"]["result"] if m.get("dmarc") else "none",
        "arc": m["arc"]["status"]["result"] if m.get("arc") else "none",
    }
    # dkimpy: every DKIM-Signature in header order (topmost first), and ARC.
    d = dkim.DKIM(raw)
    n = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
    py = []
    for i in range(n):
        try:
            py.append("pass" if dkim.DKIM(raw).verify(idx=i, dnsfunc=dnsfunc) else "fail")
        except dkim.ValidationError as e:
            # RFC 6376 6.1.3: a body hash mismatch is PERMFAIL (body hash
            # did not verify), "fail" in RFC 8601 2.7.1; dkimpy raises it.
            py.append("fail" if "body hash mismatch" in str(e) else "permerror")
        except dkim.DKIMException:
            py.append("permerror")
    cv, _, why = dkim.arc_verify(raw, dnsfunc=dnsfunc)
    pyres = {"dkim": ",".join(py) or "none", "arc": cv.decode()}
    for k in ("spf", "dkim", "dmarc", "arc"):
        rows.append((case, k, ours[k], theirs[k], pyres.get(k, "-")))
        others = [theirs[k]] + ([pyres[k]] if k in pyres else [])
        # A body hash mismatch: RFC 6376 6.1.3 makes it PERMFAIL, which
        # RFC 8601 2.7.1 records as dkim=fail (what deliverdoctor and
        # dkimpy say); mailauth labels it "neutral". Same verdict (the
        # signature does not verify), another label: counted as agreement
        # and reported below.
        norm = lambda s: ",".join("fail" if x in ("neutral", "fail", "policy") else x for x in s.split(","))
        if k == "dkim" and theirs[k] != ours[k] and norm(theirs[k]) == norm(ours[k]):
            labels.append("%s: mailauth says %s where deliverdoctor and dkimpy say %s (body hash mismatch; RFC 6376 6.1.3 + RFC 8601 2.7.1: fail)" % (case, theirs[k], ours[k]))
        if any(norm(o) != norm(ours[k]) for o in others):
            disagreements.append((case, k, ours[k], theirs[k], pyres.get(k, "-")))

print("%-11s %-6s %-14s %-14s %-14s" % ("message", "method", "deliverdoctor", "mailauth " + ma_version, "dkimpy"))
for row in sorted(rows):
    print("%-11s %-6s %-14s %-14s %-14s" % row)
expected = {
    ("signed", "dmarc"): "pass", ("unsigned", "dkim"): "none", ("broken", "dkim"): "fail",
    ("reject", "dmarc"): "fail", ("arc", "arc"): "pass", ("arc-broken", "arc"): "fail",
}
bad = False
for (case, k), want in expected.items():
    got = next(r[2] for r in rows if r[0] == case and r[1] == k)
    if got != want:
        print("deliverdoctor: %s %s = %s, want %s" % (case, k, got, want), file=sys.stderr)
        bad = True
for l in labels:
    print("label difference: " + l)
if disagreements:
    print("\nDisagreements:")
    for d in disagreements:
        print("  %s %s: deliverdoctor %s, mailauth %s, dkimpy %s" % d)
    bad = True
else:
    print("\nagreement: %d of %d verdicts agree across the three implementations (%d label differences above)" % (len(rows), len(rows), len(labels)))
sys.exit(1 if bad else 0)
PY
echo "$name: ok: SPF, DKIM, DMARC and ARC agree with mailauth $ma_version and dkimpy on 7 messages"
