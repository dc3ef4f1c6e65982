#!/usr/bin/env bash
# Interop: deliverdoctor's SMTP probe (mx --smtp, check --smtp) and RCPT
# probe (address --smtp) against a private Postfix on 127.0.0.1 with
# STARTTLS, its own config, queue and data directories and its own port,
# independent of any system Postfix and of other interop scripts. DNS comes
# from a --zone file (--offline): test.example's MX resolves to 127.0.0.1.
#
# Asserts: the banner and the EHLO extensions are reported, STARTTLS is
# negotiated (TLS 1.2/1.3) and the self-signed certificate is judged
# untrusted but valid for mx.test.example; the smtp check's status; an
# existing local user is accepted (250 2.1.5), an unknown one refused
# (550 5.1.1), no catch-all; and, from Postfix's own log and queue, that
# no message was ever received: no cleanup "message-id=", no queue file,
# an empty queue, and smtpd's per-session command counts show no DATA/BDAT
# and a RSET and QUIT on every session.
set -euo pipefail
source scripts/interop-lib.sh

need_postfix
command -v openssl >/dev/null 2>&1 || need_pkgs openssl

single_postfix 20-postfix-smtp

# A self-signed certificate for the MX name.
timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mx.test.example" \
  -addext "subjectAltName=DNS:mx.test.example" \
  -keyout "$work/etc/key.pem" -out "$work/etc/cert.pem" >/dev/null 2>&1 || fail "openssl could not make a certificate"
chmod 600 "$work/etc/key.pem"

{
  postfix_main_cf_base "$work"
  cat <<EOF
myhostname = mx.test.example
mydomain = test.example
myorigin = \$mydomain
mydestination = test.example, localhost
mynetworks = 127.0.0.2/32
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP deliverdoctor-interop-smtp
smtpd_tls_cert_file = $work/etc/cert.pem
smtpd_tls_key_file = $work/etc/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
maillog_file_prefixes = $work
# Nothing may be queued; if something were, it stays deferred here and the
# queue checks below catch it.
relayhost = [127.0.0.1]:9
defer_transports = smtp, relay, local
smtpd_error_sleep_time = 0s
EOF
} >"$work/etc/main.cf"
postfix_master_cf "$port" tls >"$work/etc/master.cf"

cat >"$work/test.example.zone" <<'EOF'
$ORIGIN test.example.
$TTL 300
@    IN SOA ns hostmaster 1 7200 3600 1209600 300
@    IN NS  ns
@    IN MX  10 mx
ns   IN A   127.0.0.1
mx   IN A   127.0.0.1
EOF

started=1
postfix_start "$work/etc" "$port" || fail "postfix did not start or does not answer on 127.0.0.1:$port"

dd_run() { # dd_run OUTFILE WANT_EXIT ARGS...
  local out=$1 want=$2 rc=0
  shift 2
  timeout 120 "$DD" "$@" --zone "$work/test.example.zone" --offline --smtp-port "$port" --probe-timeout 10s >"$out" 2>"$out.err" || rc=$?
  [ "$rc" -eq "$want" ] || { cat "$out" "$out.err" >&2; fail "$* exited $rc, want $want"; }
}

# 1. mx --smtp: banner, EHLO, STARTTLS, certificate.
dd_run "$work/mx.json" 0 mx test.example --smtp --format json
python3 - "$work/mx.json" <<'PY' || fail "mx --smtp JSON"
import json, sys
rep = json.load(open(sys.argv[1]))
checks = {c["name"]: c for c in rep["checks"]}
assert set(checks) == {"mx", "ptr", "smtp"}, checks.keys()
smtp = checks["smtp"]
assert smtp["status"] == "warn", smtp
hosts = smtp["data"]["hosts"]
assert len(hosts) == 1 and hosts[0]["name"] == "mx.test.example", hosts
p = hosts[0]["probes"][0]
assert p["connected"] and p["greeting"]["code"] == 220, p
assert "mx.test.example ESMTP deliverdoctor-interop-smtp" in p["greeting"]["lines"][0], p["greeting"]
assert p["ehlo"]["code"] == 250 and not p.get("helo_fallback"), p["ehlo"]
ext = [e.split(" ")[0] for e in p["extensions"]]
for kw in ("PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "8BITMIME"):
    assert kw in ext, (kw, p["extensions"])
assert "STARTTLS" not in ext, "extensions are not the post-TLS ones"
assert p["starttls_offered"], p
tls = p["tls"]
assert tls["version"] in ("TLS 1.2", "TLS 1.3"), tls
assert tls["cipher"] and tls["chain"] and len(tls["chain"][0]["sha256"]) == 64, tls
assert not tls["trusted"] and tls["name_match"] and not tls["expired"] and 28 <= tls["days_left"] <= 30, tls
steps = [s["name"] for s in p["steps"]]
assert steps == ["connect", "greeting", "ehlo", "starttls", "tls", "ehlo-tls", "rset", "quit"], steps
assert not p.get("failure"), p
ids = {f["id"] for f in rep["findings"]}
assert "smtp.cert-untrusted" in ids, ids
for bad in ("smtp.no-starttls", "smtp.starttls-failed", "smtp.cert-name-mismatch", "smtp.unreachable", "smtp.cert-expired"):
    assert bad not in ids, (bad, ids)
PY
dd_run "$work/mx.txt" 0 mx test.example --smtp
grep -q "banner:  220 mx.test.example ESMTP deliverdoctor-interop-smtp" "$work/mx.txt" || { cat "$work/mx.txt" >&2; fail "mx --smtp text: no banner"; }
grep -Eq "STARTTLS: TLS 1\.[23]" "$work/mx.txt" || { cat "$work/mx.txt" >&2; fail "mx --smtp text: no TLS line"; }

# 2. check --smtp: the same probe as a check in the report.
dd_run "$work/check.json" 0 check test.example --smtp --checks smtp --format json
python3 - "$work/check.json" <<'PY' || fail "check --smtp JSON"
import json, sys
rep = json.load(open(sys.argv[1]))
assert [c["name"] for c in rep["checks"]] == ["smtp"], rep["checks"]
assert rep["checks"][0]["status"] == "warn" and "1 of 1 MX host(s) answered" in rep["checks"][0]["summary"], rep["checks"][0]
PY

# 3. address --smtp: a local user is accepted, an unknown one refused.
dd_run "$work/root.json" 0 address root@test.example --smtp --format json
dd_run "$work/nobody.json" 1 address no-such-user-here@test.example --smtp --format json
python3 - "$work/root.json" "$work/nobody.json" <<'PY' || fail "address --smtp JSON"
import json, sys
ok = json.load(open(sys.argv[1]))
for k in ("address", "local", "domain", "syntax_valid", "problems", "mx", "smtp"):
    assert k in ok, k
s = ok["smtp"]
assert s["accepted"] and s["code"] == 250 and s["enhanced_code"] == "2.1.5", s
assert s["catch_all"] is False and s["tls"], s
bad = json.load(open(sys.argv[2]))
s = bad["smtp"]
assert not s["accepted"] and s["code"] == 550 and s["enhanced_code"] == "5.1.1", s
assert "User unknown" in s["text"], s
assert bad["status"] == "fail" and any(f["id"] == "address.rcpt-rejected" for f in bad["findings"]), bad["findings"]
PY

# 4. Postfix's view: sessions happened, no message was received or queued.
for i in $(seq 1 50); do
  [ "$(grep -c 'disconnect from' "$work/maillog" 2>/dev/null || true)" -ge 5 ] && break
  sleep 0.1
done
sessions=$(grep -c "disconnect from localhost\[127.0.0.1\]" "$work/maillog" || true)
[ "$sessions" -ge 5 ] || fail "expected at least 5 probe sessions in the log, found $sessions"
if grep -E "message-id=|qmgr\[[0-9]+\]: [0-9A-F]+: from=" "$work/maillog"; then fail "a message was received"; fi
if grep -E "disconnect from .* (data|bdat)=" "$work/maillog"; then fail "DATA/BDAT reached smtpd"; fi
if grep "disconnect from localhost\[127.0.0.1\]" "$work/maillog" | grep -v "quit=1" >&2; then
  fail "a session ended without QUIT"
fi
grep -q "Anonymous TLS connection established from localhost\[127.0.0.1\]\|TLS connection established from localhost\[127.0.0.1\]" "$work/maillog" ||
  fail "Postfix logged no TLS session"
grep -Eq "disconnect from localhost\[127.0.0.1\] ehlo=2 starttls=1 mail=1 rcpt=1/2 rset=1 quit=1" "$work/maillog" ||
  fail "no session with one accepted and one refused RCPT (the catch-all test)"
files=$(find "$work/spool/incoming" "$work/spool/active" "$work/spool/deferred" "$work/spool/hold" "$work/spool/maildrop" -type f 2>/dev/null | wc -l)
[ "$files" -eq 0 ] || fail "$files queue file(s)"
q=$(timeout 10 postqueue -c "$work/etc" -p 2>&1 || true)
echo "$q" | grep -q "Mail queue is empty" || fail "postqueue -p: $q"

tlsv=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checks"][2]["data"]["hosts"][0]["probes"][0]["tls"]["version"])' "$work/mx.json")
echo "$name: ok: banner, EHLO and $tlsv seen; root@ accepted 250 2.1.5, unknown refused 550 5.1.1, no catch-all; $sessions sessions, no DATA, queue empty"
