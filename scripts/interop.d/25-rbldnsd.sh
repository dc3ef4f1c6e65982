#!/usr/bin/env bash
# Interop: deliverdoctor rbl against a real rbldnsd (the DNSBL server many
# lists run) on 127.0.0.1. rbldnsd serves an ip4set, an ip6trie and a dnset
# under the zone names of the real lists (zen.spamhaus.org, dbl.spamhaus.org)
# so the catalogue's meanings are exercised; nothing leaves this machine:
# every question goes to the local rbldnsd (--resolver) or a --zone file.
# Asserts listed / clean / refused verdicts for IPv4, IPv6 and domains, the
# MX and SPF addresses of a domain, --health and --offline.
set -euo pipefail
source scripts/interop-lib.sh
need_pkgs rbldnsd python3

dir=$(mktemp -d)
chmod 755 "$dir"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/ip4" <<'EOF'
:127.0.0.2:Listed by SBL, see https://check.spamhaus.org/query/ip/$
127.0.0.2
192.0.2.1
192.0.2.4 :127.0.0.4:Listed by XBL: $ is infected
192.0.2.3 :127.255.255.254:Error: open resolver
EOF
cat >"$dir/ip6" <<'EOF'
:127.0.0.3:Listed by CSS: $
::ffff:7f00:2
2001:db8::25
EOF
cat >"$dir/dom" <<'EOF'
:127.0.1.2:Listed in the DBL: $
test
dbltest.com
listed.example
EOF
chmod 644 "$dir"/ip4 "$dir"/ip6 "$dir"/dom
# The domains' own records come from a zone file, the way an admin checks
# records before publishing them; rbldnsd answers only its blocklist zones.
# The file is laid over the resolver (rbldnsd, which knows only the lists), so
# it must answer every question the check asks about these domains: the MX
# hosts get AAAA records too (unlisted addresses), or their AAAA lookup would
# go to rbldnsd, be refused, and rightly make the check an error.
cat >"$dir/domains.zone" <<'EOF'
$ORIGIN example.
$TTL 300
@             IN SOA ns.example. hostmaster.example. 1 3600 600 86400 300
@             IN NS  ns.example.
listed        IN MX  10 mx.listed
listed        IN TXT "v=spf1 ip4:192.0.2.2 -all"
mx.listed     IN A   192.0.2.4
mx.listed     IN AAAA 2001:db8::4
clean         IN MX  10 mx.clean
clean         IN TXT "v=spf1 ip4:192.0.2.2 ip4:198.51.100.0/24 -all"
mx.clean      IN A   192.0.2.2
mx.clean      IN AAAA 2001:db8::2
EOF

port=$(free_port)
user_opt=()
if id rbldns >/dev/null 2>&1; then user_opt=(-u rbldns); fi
rbldnsd -n "${user_opt[@]}" -b "127.0.0.1/$port" -w "$dir" \
  zen.spamhaus.org:ip4set:ip4 zen.spamhaus.org:ip6trie:ip6 dbl.spamhaus.org:dnset:dom \
  >"$dir/rbldnsd.log" 2>&1 &
pid=$!

R=(--resolver "127.0.0.1:$port" --timeout 1s)
ZEN=(--dnsbl zen.spamhaus.org)
DBL=(--dnsbl dbl.spamhaus.org)

# Wait (bounded) until rbldnsd answers its own test entry.
ready=0
for _ in $(seq 1 50); do
  rc=0
  timeout 5 "$DD" rbl 127.0.0.2 "${R[@]}" "${ZEN[@]}" --format json >/dev/null 2>&1 || rc=$?
  if [ "$rc" = 1 ]; then ready=1; break; fi # exit 1: listed, rbldnsd is answering
  if ! kill -0 "$pid" 2>/dev/null; then echo "rbldnsd died:"; cat "$dir/rbldnsd.log"; exit 1; fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then echo "rbldnsd did not answer on 127.0.0.1:$port"; cat "$dir/rbldnsd.log"; exit 1; fi

fails=0
# check NAME WANT_EXIT PY_ASSERT -- ARGS...: run $DD rbl, check its exit code
# and a Python expression over the JSON document `d`.
check() {
  local name=$1 want=$2 expr=$3
  shift 4
  local out rc=0
  out=$(timeout 30 "$DD" rbl "$@" --format json 2>"$dir/err") || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL $name: exit $rc, want $want"; cat "$dir/err"; echo "$out" | head -40
    fails=$((fails + 1)); return
  fi
  if ! printf '%s' "$out" | python3 -c "
import json, sys
d = json.load(sys.stdin)
r = {(x['checked'], x['zone']): x for x in d['results']}
ok = $expr
if not ok:
    print(json.dumps(d, indent=1)[:3000]); sys.exit(1)
"; then
    echo "FAIL $name: $expr"; fails=$((fails + 1)); return
  fi
  echo "ok   $name"
}

check "ipv4 listed (SBL, TXT)" 1 \
  "d['status'] == 'fail' and r[('192.0.2.1','zen.spamhaus.org')]['status'] == 'listed' and 'SBL' in r[('192.0.2.1','zen.spamhaus.org')]['meanings'][0] and '192.0.2.1' in r[('192.0.2.1','zen.spamhaus.org')]['txt'][0] and d['findings'][0]['id'] == 'rbl.listed'" \
  -- 192.0.2.1 "${R[@]}" "${ZEN[@]}"
check "ipv4 clean" 0 \
  "d['status'] == 'pass' and r[('192.0.2.2','zen.spamhaus.org')]['status'] == 'clean'" \
  -- 192.0.2.2 "${R[@]}" "${ZEN[@]}"
check "ipv4 refused code is an error" 3 \
  "d['status'] == 'error' and r[('192.0.2.3','zen.spamhaus.org')]['error_kind'] == 'refused' and d['findings'][0]['id'] == 'rbl.query-refused'" \
  -- 192.0.2.3 "${R[@]}" "${ZEN[@]}"
check "ipv6 listed (nibbles)" 1 \
  "r[('2001:db8::25','zen.spamhaus.org')]['status'] == 'listed' and 'CSS' in r[('2001:db8::25','zen.spamhaus.org')]['meanings'][0]" \
  -- 2001:db8::25 "${R[@]}" "${ZEN[@]}"
check "ipv6 clean" 0 \
  "r[('2001:db8::26','zen.spamhaus.org')]['status'] == 'clean'" \
  -- 2001:db8::26 "${R[@]}" "${ZEN[@]}"
check "domain listed, MX address listed, SPF address clean" 1 \
  "r[('listed.example','dbl.spamhaus.org')]['status'] == 'listed' and r[('192.0.2.4','zen.spamhaus.org')]['status'] == 'listed' and 'XBL' in r[('192.0.2.4','zen.spamhaus.org')]['meanings'][0] and r[('192.0.2.2','zen.spamhaus.org')]['status'] == 'clean' and {c['value']: c['sources'] for c in d['checked']}['192.0.2.4'] == ['MX mx.listed.example (preference 10)'] and {c['value']: c['sources'] for c in d['checked']}['192.0.2.2'] == ['SPF ip4:192.0.2.2']" \
  -- listed.example "${R[@]}" "${ZEN[@]}" "${DBL[@]}" --zone "$dir/domains.zone"
check "domain clean" 0 \
  "d['status'] == 'pass' and r[('clean.example','dbl.spamhaus.org')]['status'] == 'clean' and r[('192.0.2.2','zen.spamhaus.org')]['status'] == 'clean'" \
  -- clean.example "${R[@]}" "${ZEN[@]}" "${DBL[@]}" --zone "$dir/domains.zone"
check "--health: test entries answered" 0 \
  "all(h['status'] == 'ok' for h in d['health']) and len(d['health']) == 2" \
  -- 192.0.2.2 "${R[@]}" "${ZEN[@]}" "${DBL[@]}" --health
check "--offline is skip, never clean" 0 \
  "d['status'] == 'skip' and all(x['status'] == 'skip' for x in d['results'])" \
  -- 127.0.0.2 --offline "${ZEN[@]}"

if [ "$fails" -ne 0 ]; then
  echo "rbldnsd interop: $fails failed"
  exit 1
fi
echo "rbldnsd interop: 9 passed, 0 failed"
