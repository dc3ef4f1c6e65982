#!/usr/bin/env bash
# Interop: the dnssec and dane checks against real DNSSEC. ldns-signzone signs
# two zones (dnssec.test, and bogus.test with signatures that expired in
# 2020), nsd serves them with an unsigned child (plain.dnssec.test) on
# 127.0.0.1, and unbound validates them with the test trust anchors (the
# zones' DS records); deliverdoctor asks unbound (--resolver). Nothing leaves
# this machine: unbound knows only the stub zones, no root hints are used.
# Asserts: a validated domain and TLSA (AD bit) pass; an unsigned delegation
# below a signed parent is "not signed"; broken signatures give SERVFAIL and
# the check says "error" (exit 3), never "no record"; the same signed zone
# asked straight from nsd (no validation, no AD) is "signed, not validated".
set -euo pipefail
source scripts/interop-lib.sh
need_pkgs nsd unbound ldnsutils python3

dir=$(mktemp -d)
chmod 755 "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # nsd and unbound shut down on SIGTERM (nsd stops its xfrd child too);
  # wait for them, bounded, before removing their files.
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

cd "$dir"
cat >dnssec.test.zone <<'EOF'
$ORIGIN dnssec.test.
$TTL 300
@              IN SOA ns hostmaster 1 3600 600 86400 300
@              IN NS  ns
ns             IN A   127.0.0.1
sec            IN MX  10 mx.sec
sec            IN TXT "v=spf1 -all"
_dmarc.sec     IN TXT "v=DMARC1; p=reject"
mx.sec         IN A   192.0.2.25
_25._tcp.mx.sec IN TLSA 3 1 1 8f8e98c66606f21bf456deb3a36e882d476c1c8e617ddc78abb139481ead011e
plain          IN NS  ns
EOF
cat >plain.zone <<'EOF'
$ORIGIN plain.dnssec.test.
$TTL 300
@              IN SOA ns.dnssec.test. hostmaster.dnssec.test. 1 3600 600 86400 300
@              IN NS  ns.dnssec.test.
@              IN MX  10 mx
mx             IN A   192.0.2.26
EOF
cat >bogus.test.zone <<'EOF'
$ORIGIN bogus.test.
$TTL 300
@              IN SOA ns.dnssec.test. hostmaster.dnssec.test. 1 3600 600 86400 300
@              IN NS  ns.dnssec.test.
@              IN MX  10 mx
mx             IN A   192.0.2.27
EOF

sign() { # zone name, extra ldns-signzone options...
  local z=$1; shift
  local ksk zsk
  ksk=$(ldns-keygen -a ECDSAP256SHA256 -k "$z")
  zsk=$(ldns-keygen -a ECDSAP256SHA256 "$z")
  ldns-signzone "$@" -f "$z.zone.signed" "$z.zone" "$zsk" "$ksk"
  cat "$ksk.ds" >>anchors
}
: >anchors
sign dnssec.test
sign bogus.test -i 20190101000000 -e 20200101000000
chmod 644 ./*

nsd_port=$(free_port)
cat >nsd.conf <<EOF
server:
  ip-address: 127.0.0.1@$nsd_port
  username: ""
  chroot: ""
  zonesdir: "$dir"
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  xfrdir: "$dir"
  database: ""
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: dnssec.test
  zonefile: dnssec.test.zone.signed
zone:
  name: plain.dnssec.test
  zonefile: plain.zone
zone:
  name: bogus.test
  zonefile: bogus.test.zone.signed
EOF
nsd -d -c nsd.conf &
pids+=($!)

ub_port=$(free_port)
cat >unbound.conf <<EOF
server:
  interface: 127.0.0.1
  port: $ub_port
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: "$dir/unbound.pid"
  use-syslog: no
  logfile: "$dir/unbound.log"
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "$dir/anchors"
  local-zone: "test." nodefault
  val-log-level: 2
remote-control:
  control-enable: no
stub-zone:
  name: "dnssec.test"
  stub-addr: 127.0.0.1@$nsd_port
stub-zone:
  name: "plain.dnssec.test"
  stub-addr: 127.0.0.1@$nsd_port
stub-zone:
  name: "bogus.test"
  stub-addr: 127.0.0.1@$nsd_port
EOF
unbound -d -c unbound.conf &
pids+=($!)
cd - >/dev/null

# Wait (bounded) until unbound answers a validated question.
ok=""
for _ in $(seq 1 50); do
  if "$DD" check sec.dnssec.test --resolver "127.0.0.1:$ub_port" --checks dnssec --format json 2>/dev/null |
    python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r["checks"][0]["data"]["validated"] else 1)' 2>/dev/null; then
    ok=1
    break
  fi
  sleep 0.2
done
if [ -z "$ok" ]; then
  echo "unbound did not validate sec.dnssec.test in time"
  tail -n 20 "$dir/unbound.log" "$dir/nsd.log" || true
  exit 1
fi

# check DOMAIN RESOLVER EXPECTED-EXIT PYTHON-ASSERTION (on the report as r, checks by name as c)
assert() {
  local domain=$1 resolver=$2 want=$3 cond=$4 out code=0
  out=$("$DD" check "$domain" --resolver "$resolver" --checks dnssec,dane --format json) || code=$?
  if [ "$code" != "$want" ]; then
    echo "check $domain via $resolver: exit $code, want $want"; echo "$out"; exit 1
  fi
  if ! printf '%s' "$out" | python3 -c "
import json,sys
r=json.load(sys.stdin); c={x['name']: x for x in r['checks']}
ids=[f['id'] for f in r['findings']]
assert $cond, (c, ids)
"; then
    echo "check $domain via $resolver: assertion failed: $cond"; echo "$out"; exit 1
  fi
}
ub="127.0.0.1:$ub_port"
assert sec.dnssec.test "$ub" 0 "c['dnssec']['status']=='pass' and c['dnssec']['data']['validated'] and c['dane']['status']=='pass' and c['dane']['data']['hosts'][0]['ad'] and c['dane']['data']['mx_validated']"
assert plain.dnssec.test "$ub" 0 "c['dnssec']['status']=='pass' and 'dnssec.unsigned' in ids and not c['dnssec']['data']['validated']"
assert bogus.test "$ub" 3 "c['dnssec']['status']=='error' and 'dnssec.dns-error' in ids and c['dane']['status']=='error'"
# Straight from the authoritative server: signed, but nothing is validated.
assert sec.dnssec.test "127.0.0.1:$nsd_port" 0 "c['dnssec']['status']=='warn' and 'dnssec.not-validated' in ids and c['dane']['status']=='warn' and 'dane.tlsa-not-validated' in ids"
echo "dnssec interop: validated, unsigned, bogus (SERVFAIL -> error) and unvalidated cases as expected"
