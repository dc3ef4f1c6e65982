#!/usr/bin/env bash
# Differential test of deliverdoctor's SPF evaluation against pyspf (Debian
# python3-spf), both asking the same real DNS servers on 127.0.0.1: every
# case of the openspf RFC 7208 suite (one server per scenario) and 200
# generated records (tools/spfinterop serves them). Each
# disagreement is listed; the test fails on any that
# internal/spf/testdata/interop-allow.txt does not explain.
set -euo pipefail
source scripts/interop-lib.sh
need_pkgs python3-spf python3-dnspython

work=$(mktemp -d)
srvpid=""
cleanup() {
  [ -n "$srvpid" ] && kill "$srvpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/spfinterop" ./tools/spfinterop
mkfifo "$work/hold"
# The server serves until its stdin (the fifo, held open below) closes, or
# for 4 minutes at most.
"$work/spfinterop" -cases "$work/cases.jsonl" -generated 200 -lifetime 4m <"$work/hold" >"$work/ready" 2>"$work/server.err" &
srvpid=$!
exec 9>"$work/hold"
for _ in $(seq 1 100); do
  grep -q READY "$work/ready" 2>/dev/null && break
  kill -0 "$srvpid" 2>/dev/null || { cat "$work/server.err"; exit 1; }
  sleep 0.1
done
grep -q READY "$work/ready" || { echo "spfinterop did not start"; exit 1; }

cat >"$work/compare.py" <<'EOF'
import json, subprocess, sys, warnings
warnings.filterwarnings("ignore")
import spf

cases_file, dd, allow_file = sys.argv[1:4]
allow = {}
for line in open(allow_file):
    line = line.split("#", 1)[0].strip()
    if line:
        name, _, reason = line.partition(" ")
        allow[name] = reason.strip()

if spf.DNSLookup.__name__ == "DNSLookup_dnspython":
    import dns.resolver
    def use_port(port):
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = int(port)
        r.timeout = r.lifetime = 1.0
        dns.resolver.default_resolver = r
else:
    import DNS
    def use_port(port):
        DNS.defaults["server"] = ["127.0.0.1"]
        DNS.defaults["port"] = int(port)

agree = disagree = skipped = explained = 0
ours_suite = py_suite = suite_total = 0
unexplained = []
for line in open(cases_file):
    c = json.loads(line)
    use_port(c["port"])
    try:
        q = spf.query(i=c["ip"], s=c["mailfrom"], h=c["helo"], timeout=1)
        pres, _, pexp = q.check()
    except Exception as e:  # pyspf refused the input
        pres, pexp = "exception:" + type(e).__name__, ""
    args = [dd, "spf", c["domain"], "--ip", c["ip"], "--helo", c["helo"], "--format", "json",
            "--resolver", "127.0.0.1:" + c["port"], "--timeout", "300ms"]
    if c["mailfrom"]:
        args += ["--mail-from", c["mailfrom"]]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if p.returncode == 2:
        skipped += 1
        print("skip  %-40s our CLI refuses the input: %s" % (c["name"], p.stderr.strip()))
        continue
    out = json.loads(p.stdout)
    ours = out["result"]
    if c.get("expected"):
        suite_total += 1
        ours_suite += ours in c["expected"]
        py_suite += pres in c["expected"]
    why = ""
    if ours != pres:
        why = "result: ours %s, pyspf %s" % (ours, pres)
    elif ours == "fail" and out["explanation"] and out["explanation"] != pexp:
        why = "explanation: ours %r, pyspf %r" % (out["explanation"], pexp)
    if not why:
        agree += 1
        continue
    disagree += 1
    detail = "%s (ip %s, from %s%s)" % (why, c["ip"], c["mailfrom"] or "<>", ", record " + c["record"] if c.get("record") else "")
    if c["name"] in allow:
        explained += 1
        print("known %-40s %s\n      why: %s" % (c["name"], detail, allow[c["name"]]))
    else:
        unexplained.append(c["name"])
        print("DIFF  %-40s %s" % (c["name"], detail))

print("suite expectations met: deliverdoctor %d/%d, pyspf %d/%d" % (ours_suite, suite_total, py_suite, suite_total))
print("spf-pyspf: %d agree, %d disagree (%d explained, %d unexplained), %d skipped" % (agree, disagree, explained, len(unexplained), skipped))
if unexplained:
    print("unexplained: " + " ".join(unexplained))
    sys.exit(1)
EOF

status=0
timeout 150 /usr/bin/python3 "$work/compare.py" "$work/cases.jsonl" "$DD" internal/spf/testdata/interop-allow.txt || status=$?
exec 9>&-
wait "$srvpid" 2>/dev/null || true
srvpid=""
if [ "$status" -ne 0 ]; then
  echo "spf-pyspf: FAILED (unexplained disagreements with pyspf, or the comparison did not finish)"
  exit 1
fi
echo "spf-pyspf: ok"
