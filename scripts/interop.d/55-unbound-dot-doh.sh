#!/usr/bin/env bash
# Interop: deliverdoctor over DNS over TLS (RFC 7858) and DNS over HTTPS
# (RFC 8484) against a real unbound. The script makes a private CA and a
# certificate for 127.0.0.1 with openssl; unbound serves one closed world
# (local-zone "." static: 500 mail domains, every other name NXDOMAIN, so
# nothing leaves this machine) on three loopback ports: plain DNS, DoT
# (tls-port) and DoH (https-port, HTTP/2 via libnghttp2). deliverdoctor
# checks the same domains over each transport (--resolver-ca for the CA).
# Asserts: the reports agree across transports, an unknown CA is refused
# (error, exit 3, never "no record"), and one connection serves a batch.
# Prints: the raw single-domain time ratios DoT/UDP and DoH/UDP (new
# processes on loopback: handshake CPU, not round trips), the same with a
# warm connection, and batch throughput ratios for 500 domains. Ports 15353-15355 (this script's range 15300-15399).
set -euo pipefail
source scripts/interop-lib.sh
need_pkgs unbound openssl python3

udp_port=15353 dot_port=15354 doh_port=15355
domains=500
dir=$(mktemp -d)
chmod 755 "$dir"
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"

# A private CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj "/CN=deliverdoctor interop CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
  -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null
# A second CA that signed nothing: the client must refuse the server with it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key -out other-ca.pem \
  -days 2 -subj "/CN=some other CA" 2>/dev/null

# The world: d1..dN.interop.test, each with MX, A, SPF and DMARC.
{
  for i in $(seq 1 "$domains"); do
    d="d$i.interop.test"
    echo "  local-data: \"$d. 300 IN MX 10 mx.$d.\""
    echo "  local-data: \"mx.$d. 300 IN A 192.0.2.$((i % 250 + 1))\""
    echo "  local-data: '$d. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"'"
    echo "  local-data: '_dmarc.$d. 300 IN TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@$d\"'"
    echo "d$i.interop.test" >>domains.txt
  done
} >world.conf
cat >unbound.conf <<EOF
server:
  interface: 127.0.0.1@$udp_port
  interface: 127.0.0.1@$dot_port
  interface: 127.0.0.1@$doh_port
  tls-port: $dot_port
  https-port: $doh_port
  tls-service-key: "$dir/server.key"
  tls-service-pem: "$dir/server.pem"
  http-endpoint: "/dns-query"
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: "$dir/unbound.pid"
  use-syslog: no
  logfile: "$dir/unbound.log"
  do-ip6: no
  num-threads: 1
  incoming-num-tcp: 64
  access-control: 127.0.0.0/8 allow
  local-zone: "." static
  include: "$dir/world.conf"
remote-control:
  control-enable: no
EOF
unbound-checkconf unbound.conf >/dev/null
unbound -d -c unbound.conf &
pid=$!
cd - >/dev/null

udp="127.0.0.1:$udp_port"
dot="tls://127.0.0.1:$dot_port"
doh="https://127.0.0.1:$doh_port/dns-query"
ca="$dir/ca.pem"
checks=mx,spf,dmarc

# Wait (bounded) until unbound answers on all three ports.
ready=""
for _ in $(seq 1 50); do
  if "$DD" mx d1.interop.test --resolver "$udp" --format json >/dev/null 2>&1 &&
    "$DD" mx d1.interop.test --resolver "$dot" --resolver-ca "$ca" --format json >/dev/null 2>&1 &&
    "$DD" mx d1.interop.test --resolver "$doh" --resolver-ca "$ca" --format json >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "unbound did not answer on UDP, DoT and DoH in time"
  tail -n 20 "$dir/unbound.log" || true
  exit 1
fi

# summary TRANSPORT-ARGS...: status per check of d1, as one line.
summary() {
  "$DD" check d1.interop.test --checks "$checks" --format json "$@" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ".join(c["name"]+"="+c["status"] for c in r["checks"]))'
}
want=$(summary --resolver "$udp")
for args in "--resolver $dot --resolver-ca $ca" "--resolver $doh --resolver-ca $ca"; do
  # shellcheck disable=SC2086
  got=$(summary $args)
  if [ "$got" != "$want" ]; then
    echo "over $args: $got; over UDP: $want"; exit 1
  fi
done
case "$want" in
*error*) echo "a check errored over UDP: $want"; exit 1 ;;
esac

# A server certificate from an unknown CA is refused: error, exit 3.
code=0
out=$("$DD" check d1.interop.test --checks mx --resolver "$dot" --resolver-ca "$dir/other-ca.pem" --timeout 1s --format json) || code=$?
if [ "$code" != 3 ] || ! printf '%s' "$out" | grep -q certificate; then
  echo "unknown CA over DoT: exit $code, want 3 with a certificate error"; echo "$out"; exit 1
fi

# Single domain, 5 runs, each a new process (so each pays its TCP and TLS
# handshakes): the sum of the reports' own durations and of the processes'
# wall times. On loopback an answer takes about 0.1 ms, so this ratio
# measures the handshake's CPU and the process start-up, not round trips:
# the critical-path ratio against a resolver at a real distance is
# scripts/bench's DoT table (a relay that delays the handshakes too).
single() {
  python3 - "$DD" "$checks" "$@" <<'EOF'
import json, subprocess, sys, time
dd, checks, args = sys.argv[1], sys.argv[2], sys.argv[3:]
dur = wall = 0.0
for _ in range(5):
    t = time.monotonic()
    p = subprocess.run([dd, "check", "d2.interop.test", "--checks", checks, "--format", "json"] + args, capture_output=True, text=True)
    wall += (time.monotonic() - t) * 1000
    dur += json.loads(p.stdout)["duration_ms"]
print(f"{dur:.0f} {wall:.0f}")
EOF
}
# Warm connection: one process checks 50 domains one at a time (-j 1); after
# the first, every question goes over the open connection. The sum of the
# reports' durations is the per-domain cost of DoT once connected.
warm() {
  head -n 50 "$domains_file" | "$DD" check --input - --checks "$checks" --format jsonl -j 1 "$@" 2>/dev/null |
    python3 -c 'import json,sys; print(sum(json.loads(l)["duration_ms"] for l in sys.stdin if l.startswith("{")))'
}
# Batch: wall time of one run over all domains, with the DNS counters.
batch() {
  python3 - "$DD" "$@" <<'EOF'
import subprocess, sys, time
dd, args, targets = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
t = time.monotonic()
p = subprocess.run([dd, "check", "--input", "-", "--checks", "mx,spf,dmarc", "--format", "jsonl", "-j", "64"] + args,
                   stdin=open(targets), capture_output=True, text=True)
el = time.monotonic() - t
import json
lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
errors = sum(1 for r in lines if r.get("status") == "error")
print(f"{el:.3f} {len(lines)} {errors}")
EOF
}
domains_file="$dir/domains.txt"
read -r s_udp w_udp <<<"$(single --resolver "$udp")"
read -r s_dot w_dot <<<"$(single --resolver "$dot" --resolver-ca "$ca")"
read -r s_doh w_doh <<<"$(single --resolver "$doh" --resolver-ca "$ca")"
k_udp=$(warm --resolver "$udp")
k_dot=$(warm --resolver "$dot" --resolver-ca "$ca")
k_doh=$(warm --resolver "$doh" --resolver-ca "$ca")
read -r b_udp n_udp e_udp <<<"$(batch --resolver "$udp" "$domains_file")"
read -r b_dot n_dot e_dot <<<"$(batch --resolver "$dot" --resolver-ca "$ca" "$domains_file")"
read -r b_doh n_doh e_doh <<<"$(batch --resolver "$doh" --resolver-ca "$ca" "$domains_file")"
for x in "udp $n_udp $e_udp" "dot $n_dot $e_dot" "doh $n_doh $e_doh"; do
  set -- $x
  if [ "$2" != "$domains" ] || [ "$3" != 0 ]; then
    echo "batch over $1: $2 reports, $3 errors (want $domains, 0)"; exit 1
  fi
done
python3 - "$s_udp" "$s_dot" "$s_doh" "$b_udp" "$b_dot" "$b_doh" "$domains" "$w_udp" "$w_dot" "$w_doh" "$k_udp" "$k_dot" "$k_doh" <<'EOF'
import sys
su, st, sh, bu, bt, bh, n, wu, wt, wh, ku, kt, kh = map(float, sys.argv[1:])
print("single domain, 5 new processes on loopback (about 0.1 ms an answer: handshake CPU and start-up, not round trips):")
print(f"  report durations: udp {su:.0f} ms  dot {st:.0f} ms  doh {sh:.0f} ms  raw ratio dot/udp {st/max(su,1):.2f}  doh/udp {sh/max(su,1):.2f}")
print(f"  process wall:     udp {wu:.0f} ms  dot {wt:.0f} ms  doh {wh:.0f} ms  raw ratio dot/udp {wt/max(wu,1):.2f}  doh/udp {wh/max(wu,1):.2f}")
print(f"warm connection, 50 domains one at a time in one process (report durations): udp {ku:.0f} ms  dot {kt:.0f} ms  doh {kh:.0f} ms  ratio dot/udp {kt/max(ku,1):.2f}  doh/udp {kh/max(ku,1):.2f}")
print(f"batch of {n:.0f} domains: udp {bu:.2f}s ({n/bu:.0f}/s)  dot {bt:.2f}s ({n/bt:.0f}/s)  doh {bh:.2f}s ({n/bh:.0f}/s)")
print(f"batch throughput vs udp: dot {bu/bt*100:.0f}%  doh {bu/bh*100:.0f}%")
EOF
echo "dot/doh interop: same verdicts over UDP, DoT and DoH; unknown CA refused"
