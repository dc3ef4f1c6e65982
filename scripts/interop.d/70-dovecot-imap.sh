#!/usr/bin/env bash
# deliverdoctor reports --imap against a real dovecot (Debian dovecot-imapd)
# on 127.0.0.1:14393 (IMAPS, a private CA made here), with a Maildir holding
# the sample DMARC/TLS/failure reports and 300 generated aggregate reports.
# 1. A plain fetch returns exactly the reports read from the Maildir on disk.
# 2. Through a TCP proxy on 127.0.0.1:14394 that cuts one connection
#    after 60 kB (mid-fetch), the run reconnects and still returns every
#    report once.
set -euo pipefail
source scripts/interop-lib.sh
need_pkgs dovecot-imapd openssl python3

IMAPS_PORT=14393
PROXY_PORT=14394
user=ddimaptest
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/run/master.pid" ] && kill "$(cat "$work/run/master.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT

# A system user owns the mail (dovecot refuses uid 0 for mail access).
id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
uid=$(id -u "$user")

# Private CA and a server certificate for 127.0.0.1 / localhost.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=deliverdoctor interop CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$work/server.key" -out "$work/server.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/ext.cnf" -out "$work/server.crt" >/dev/null 2>&1

# The Maildir: each sample report attached to a message, the failure
# reports as they came, and 300 generated aggregate reports (so the fetch
# is long enough to be cut in the middle).
maildir="$work/home/$user/Maildir"
mkdir -p "$maildir/cur" "$maildir/new" "$maildir/tmp"
samples=internal/dmarcreport/testdata/dmarc-reports
python3 - "$samples" "$maildir/cur" <<'PY'
import base64, os, sys, glob
samples, out = sys.argv[1], sys.argv[2]
n = 0
def put(data):
    global n
    n += 1
    with open(os.path.join(out, "%d.%d.interop:2,S" % (1700000000 + n, n)), "wb") as f:
        f.write(data)
def wrap(name, data, ctype):
    b64 = base64.encodebytes(data)
    return (b"From: noreply-dmarc@reporter.example\r\nTo: dmarc@example.com\r\nSubject: Report " +
            name.encode() + b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
            b"Content-Type: text/plain\r\n\r\nreport attached\r\n--B\r\nContent-Type: " + ctype.encode() +
            b"\r\nContent-Disposition: attachment; filename=\"" + name.encode() +
            b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64.replace(b"\n", b"\r\n") + b"--B--\r\n")
for p in sorted(glob.glob(samples + "/aggregate/*") + glob.glob(samples + "/smtp_tls/*")):
    data = open(p, "rb").read()
    put(wrap(os.path.basename(p), data, "application/octet-stream"))
for p in sorted(glob.glob(samples + "/failure/*.eml")):
    put(open(p, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
for i in range(300):
    rows = "".join(
        "<record><row><source_ip>198.51.100.%d</source_ip><count>%d</count><policy_evaluated><disposition>none</disposition>"
        "<dkim>%s</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from>"
        "<envelope_from>example.com</envelope_from></identifiers><auth_results><spf><domain>example.com</domain>"
        "<result>pass</result></spf></auth_results></record>" % (j, j + 1, "pass" if j % 3 else "fail") for j in range(20))
    xml = ("<?xml version=\"1.0\"?><feedback><report_metadata><org_name>generated.example</org_name>"
           "<report_id>gen-%d</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
           "</report_metadata><policy_published><domain>example.com</domain><p>none</p></policy_published>%s</feedback>" % (i, rows))
    put(wrap("generated.example!example.com!%d.xml" % i, xml.encode(), "text/xml"))
print(n, "messages")
PY
chown -R "$user:$user" "$work/home"

cat >"$work/users" <<EOF2
$user:{PLAIN}interop-secret::::::
EOF2
mkdir -p "$work/run" "$work/state"
cat >"$work/dovecot.conf" <<EOF2
base_dir = $work/run
state_dir = $work/state
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$work/server.crt
ssl_key = <$work/server.key
log_path = $work/dovecot.log
first_valid_uid = $uid
last_valid_uid = $uid
default_login_user = dovenull
default_internal_user = dovecot
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN $work/users
}
userdb {
  driver = static
  args = uid=$user gid=$user home=$work/home/%u
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0600
  }
}
EOF2
timeout 20 dovecot -c "$work/dovecot.conf" || { cat "$work/dovecot.log" 2>/dev/null; echo "dovecot-imap: dovecot did not start"; exit 1; }
for i in $(seq 1 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $IMAPS_PORT), timeout=1).close()" 2>/dev/null; then break; fi
  sleep 0.1
done

# The reports straight from the Maildir on disk: the expected set.
"$DD" reports "$maildir" --offline --format json >"$work/disk.json" || [ $? -le 1 ]
ids() { python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ids = [r["kind"] + "|" + r["org"] + "|" + r["report_id"] for r in d["reports"]]
assert len(ids) == len(set(ids)), "a report appears twice"
print("\n".join(sorted(ids)))' "$1"; }
ids "$work/disk.json" >"$work/disk.ids"
expected=$(wc -l <"$work/disk.ids")
[ "$expected" -ge 320 ] || { echo "dovecot-imap: only $expected reports on disk"; exit 1; }

export DELIVERDOCTOR_IMAP_PASSWORD=interop-secret
# 1. A plain fetch over IMAPS.
timeout 120 "$DD" reports --imap "imaps://$user@127.0.0.1:$IMAPS_PORT/INBOX" --imap-ca "$work/ca.pem" \
  --offline --format json >"$work/imap.json" 2>"$work/imap.err" || [ $? -le 1 ] || { cat "$work/imap.err"; exit 1; }
ids "$work/imap.json" >"$work/imap.ids"
diff -u "$work/disk.ids" "$work/imap.ids" || { echo "dovecot-imap: IMAP reports differ from the Maildir's"; exit 1; }
echo "dovecot-imap: plain fetch: $(wc -l <"$work/imap.ids") reports, the same as on disk"

# A wrong password is a clear error (exit 2 or 3), not a hang or a retry loop.
set +e
DELIVERDOCTOR_IMAP_PASSWORD=wrong timeout 60 "$DD" reports --imap "imaps://$user@127.0.0.1:$IMAPS_PORT/INBOX" \
  --imap-ca "$work/ca.pem" --offline >/dev/null 2>"$work/bad.err"
rc=$?
set -e
grep -q "login failed" "$work/bad.err" && [ $rc -ge 2 ] || { echo "dovecot-imap: wrong password: exit $rc: $(cat "$work/bad.err")"; exit 1; }

# 2. The proxy cuts the fetching connection after 60 kB from the server.
python3 - "$PROXY_PORT" "$IMAPS_PORT" 60000 >"$work/proxy.log" 2>&1 <<'PY' &
import socket, sys, threading
listen, target, limit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen)); srv.listen(8)
cut = threading.Event()
def pipe(a, b, limit):
    sent = 0
    try:
        while True:
            data = a.recv(16384)
            if not data:
                break
            if limit is not None and not cut.is_set() and sent + len(data) >= limit:
                cut.set()
                b.sendall(data[:limit - sent])
                print("cut connection after", limit, "bytes", flush=True)
                break
            b.sendall(data); sent += len(data)
    except OSError:
        pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
        s.close()
# Only one connection is cut: the first to carry more than limit bytes
# from the server (the readiness probe carries a greeting).
while True:
    c, _ = srv.accept()
    u = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pipe, args=(c, u, None), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, limit), daemon=True).start()
PY
pids+=($!)
for i in $(seq 1 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $PROXY_PORT), timeout=1).close()" 2>/dev/null; then break; fi
  sleep 0.1
done
timeout 120 "$DD" reports --imap "imaps://$user@127.0.0.1:$PROXY_PORT/INBOX" --imap-ca "$work/ca.pem" \
  --offline --format json >"$work/cut.json" 2>"$work/cut.err" || [ $? -le 1 ] || { cat "$work/cut.err"; exit 1; }
grep -q "cut connection" "$work/proxy.log" || { echo "dovecot-imap: the proxy never cut the connection"; exit 1; }
grep -q "reconnected" "$work/cut.err" || { echo "dovecot-imap: no reconnect reported: $(cat "$work/cut.err")"; exit 1; }
ids "$work/cut.json" >"$work/cut.ids"
diff -u "$work/disk.ids" "$work/cut.ids" || { echo "dovecot-imap: after the drop the reports differ"; exit 1; }
echo "dovecot-imap: connection cut mid-fetch ($(grep -c 'cut connection' "$work/proxy.log") cut): $(cat "$work/cut.err")"
echo "dovecot-imap: $(wc -l <"$work/cut.ids") reports, each once, the same as on disk"
