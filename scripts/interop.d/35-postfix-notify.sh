#!/usr/bin/env bash
# Interop: the cron path (check --state --only-on-change --mail-to) against a
# private Postfix submission service on 127.0.0.1: STARTTLS with a
# certificate from a private CA (trusted through SSL_CERT_FILE, as a user
# with an internal CA would do), SMTP AUTH against a Cyrus sasldb, and real
# delivery into a Maildir, where the messages are read back and parsed.
#
# Asserts: the first run mails (exit 1); an unchanged run is silent (exit 0,
# no mail); a wrong password fails with exit 3, no mail, and the state file
# untouched; the run after the fix mails the change (exit 1). Each delivered
# message is multipart/alternative with a text/plain and a text/html part,
# the subject names the change, the sender and recipients are right, and
# Postfix logged TLS and the SASL login for every delivered message.
set -euo pipefail
source scripts/interop-lib.sh

need_postfix
need_pkgs openssl sasl2-bin libsasl2-modules libsasl2-modules-db

single_postfix 35-postfix-notify
mkdir -p "$work/etc/sasl" "$work/mail"
chown postfix:postfix "$work/mail"

# A private CA and a certificate for 127.0.0.1 signed by it.
(
  cd "$work/etc"
  timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=deliverdoctor interop CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.pem
  timeout 60 openssl req -newkey rsa:2048 -nodes -subj "/CN=submit.test.example" -keyout key.pem -out req.csr
  printf 'subjectAltName=IP:127.0.0.1,DNS:submit.test.example\nextendedKeyUsage=serverAuth\n' >ext.cnf
  timeout 60 openssl x509 -req -in req.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile ext.cnf -out cert.pem
) >/dev/null 2>&1 || fail "openssl could not make the certificates"
chmod 600 "$work/etc/key.pem" "$work/etc/ca.key"

# The submission account.
password="interop-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$password" | saslpasswd2 -p -c -f "$work/etc/sasldb2" -u test.example reports || fail "saslpasswd2"
chown postfix:postfix "$work/etc/sasldb2"
chmod 600 "$work/etc/sasldb2"
cat >"$work/etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $work/etc/sasldb2
EOF
printf '%s\n' "$password" >"$work/pass"
printf 'not-the-password\n' >"$work/wrong-pass"

{
  postfix_main_cf_base "$work"
  cat <<EOF
myhostname = submit.test.example
mydomain = test.example
myorigin = \$mydomain
mydestination =
# The loopback client is a stranger: it may send only after AUTH.
mynetworks = 127.0.0.2/32
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtpd_tls_cert_file = $work/etc/cert.pem
smtpd_tls_key_file = $work/etc/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $work/etc/sasl
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
# The two recipients get a Maildir each.
virtual_mailbox_domains = test.example
virtual_mailbox_base = $work/mail
virtual_mailbox_maps = inline:{ admin@test.example=admin/, ops@test.example=ops/ }
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
virtual_transport = virtual
maillog_file_prefixes = $work
relayhost = [127.0.0.1]:9
defer_transports = smtp, relay
smtpd_error_sleep_time = 0s
EOF
} >"$work/etc/main.cf"
{
  postfix_master_cf "$port" tls
  echo "virtual   unix  -       n       n       -       -       virtual"
} >"$work/etc/master.cf"

started=1
postfix_start "$work/etc" "$port" || fail "postfix did not start or does not answer on 127.0.0.1:$port"

# Version 1 of the domain: MX and SPF fine, no DMARC record.
zone1='$ORIGIN test.example.
$TTL 300
@    IN SOA ns hostmaster 1 7200 3600 1209600 300
@    IN NS  ns
@    IN MX  10 mx
@    IN TXT "v=spf1 mx -all"
ns   IN A   192.0.2.53
mx   IN A   192.0.2.25'
printf '%s\n' "$zone1" >"$work/v1.zone"
# Version 2: DMARC published.
printf '%s\n_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@test.example"\n' "$zone1" >"$work/v2.zone"

state="$work/state.json"
delivered() { find "$work/mail/${1:-admin}/new" -type f 2>/dev/null | wc -l; }
wait_delivered() { # wait_delivered N
  for _ in $(seq 1 100); do
    [ "$(delivered)" -ge "$1" ] && return 0
    sleep 0.1
  done
  fail "expected $1 delivered message(s), found $(delivered)"
}
dd_cron() { # dd_cron ZONE PASSFILE WANT_EXIT
  local rc=0
  SSL_CERT_FILE="$work/etc/ca.pem" timeout 120 "$DD" check test.example --zone "$work/$1" --offline \
    --checks mx,spf,dmarc --state "$state" --only-on-change \
    --mail-to admin@test.example,ops@test.example --smtp-server "127.0.0.1:$port" \
    --smtp-user reports@test.example --smtp-password-file "$work/$2" >"$work/out.txt" 2>"$work/err.txt" || rc=$?
  [ "$rc" -eq "$3" ] || { cat "$work/out.txt" "$work/err.txt" >&2; fail "run with $1/$2 exited $rc, want $3"; }
}

# 1. First run: the findings are new, so they are printed and mailed.
dd_cron v1.zone pass 1
wait_delivered 1
grep -q "test.example changed" "$work/out.txt" || fail "first run printed no change"

# 2. Nothing changed: silent, no mail.
dd_cron v1.zone pass 0
[ ! -s "$work/out.txt" ] || fail "unchanged run printed: $(cat "$work/out.txt")"
cp "$state" "$work/state-before-3.json"

# 3. The domain changes but the password is wrong: an error, no mail, and
#    the state is left as it was so the change is not lost.
dd_cron v2.zone wrong-pass 3
grep -q "mailing the report" "$work/err.txt" || fail "no mail error on stderr: $(cat "$work/err.txt")"
grep -q "state file was not updated" "$work/err.txt" || fail "the error does not say the state was kept"
cmp -s "$state" "$work/state-before-3.json" || fail "state file changed although the mail failed"

# 4. With the right password the change is mailed.
dd_cron v2.zone pass 1
wait_delivered 2
grep -q "resolved" "$work/out.txt" || fail "fix not printed: $(cat "$work/out.txt")"
sleep 0.5
[ "$(delivered)" -eq 2 ] || fail "expected exactly 2 messages for admin@, found $(delivered)"
[ "$(delivered ops)" -eq 2 ] || fail "expected exactly 2 messages for ops@, found $(delivered ops)"

python3 - "$work/mail/admin/new" <<'PY' || fail "delivered messages"
import email, email.policy, os, re, sys
d = sys.argv[1]
# Maildir names start with the delivery time: seconds, then M<microseconds>
# (the Date headers of two runs can fall in the same second).
def delivered_at(name):
    sec, rest = name.split(".", 2)[:2]
    usec = re.search(r"M(\d+)", rest)
    return (int(sec), int(usec.group(1)) if usec else 0)
msgs = []
for f in sorted(os.listdir(d), key=delivered_at):
    with open(os.path.join(d, f), "rb") as fh:
        msgs.append(email.message_from_binary_file(fh, policy=email.policy.default))
subjects = [str(m["Subject"]) for m in msgs]
assert re.fullmatch(r"deliverdoctor: test.example changed: [1-9]\d* new, 0 resolved", subjects[0]), subjects
assert re.fullmatch(r"deliverdoctor: test.example changed: \d+ new, [1-9]\d* resolved", subjects[1]), subjects
for m in msgs:
    assert str(m["From"]) == "reports@test.example", m["From"]
    to = {a.addr_spec for a in m["To"].addresses}
    assert to == {"admin@test.example", "ops@test.example"}, to
    assert m.get_content_type() == "multipart/alternative", m.get_content_type()
    parts = [p.get_content_type() for p in m.iter_parts()]
    assert parts == ["text/plain", "text/html"], parts
    text = m.get_body(("plain",)).get_content()
    html = m.get_body(("html",)).get_content()
    assert "test.example" in text and "<html" in html.lower(), (text[:200], html[:200])
    assert "<script" not in html.lower()
first = msgs[0].get_body(("plain",)).get_content()
second = msgs[1].get_body(("plain",)).get_content()
assert "dmarc" in first.lower(), first[:2000]
assert "resolved" in second, second[:2000]
PY

# Postfix's view: TLS and a SASL login for each delivered message, and the
# wrong password refused.
logins=$(grep -c "sasl_method=\(PLAIN\|LOGIN\), sasl_username=reports@test.example" "$work/maillog" || true)
[ "$logins" -eq 2 ] || fail "expected 2 SASL logins in the log, found $logins"
grep -q "authentication failed" "$work/maillog" || fail "the wrong password was not refused by Postfix"
grep -q "TLS connection established from localhost\[127.0.0.1\]" "$work/maillog" || fail "Postfix logged no TLS session"

echo "$name: ok: first run mailed, unchanged run silent, wrong password refused with the state kept, the fix mailed; 2 messages delivered over STARTTLS with SASL, multipart text+HTML"
