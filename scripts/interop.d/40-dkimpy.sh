#!/usr/bin/env bash
# Interop: DKIM against dkimpy (Debian python3-dkim, the reference Python
# implementation), on the same messages, both directions:
#   - dkimpy signs (RSA 2048/1024, Ed25519; relaxed and simple; mutated
#     afterwards); `deliverdoctor dkim verify` and dkimpy verify each one and
#     must agree signature by signature (pass / not pass);
#   - go-msgauth (what deliverdoctor verifies with) signs; dkimpy verifies;
#   - `deliverdoctor dkim DOMAIN --selector ...` judges the published keys.
# The keys are served by a tiny DNS server on 127.0.0.1 (python, stdlib only)
# that deliverdoctor queries with --resolver; dkimpy gets the same records
# through its dnsfunc hook. One documented divergence is asserted: a
# signature with l= verifies in dkimpy, deliverdoctor reports "policy".
set -euo pipefail
source scripts/interop-lib.sh
need_pkgs python3-dkim python3-nacl openssl

PY=/usr/bin/python3
dir=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

# --- keys ---------------------------------------------------------------
openssl genrsa -traditional -out "$dir/rsa2048.pem" 2048 2>/dev/null
openssl genrsa -traditional -out "$dir/rsa1024.pem" 1024 2>/dev/null
pub() { openssl rsa -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0; }

cat >"$dir/dk.py" <<'EOF'
import base64, json, socket, struct, sys
import dkim, nacl.signing, nacl.encoding

D = sys.argv[2]
DOMAIN = b"example.com"

def records():
    with open(D + "/records.json") as f:
        return json.load(f)

def lookup(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    txt = records().get(name.rstrip(".").lower())
    return txt.encode() if txt is not None else None

def edkey():
    sk = nacl.signing.SigningKey.generate()
    with open(D + "/ed.key", "w") as f:
        f.write(sk.encode(nacl.encoding.Base64Encoder).decode())
    print(sk.verify_key.encode(nacl.encoding.Base64Encoder).decode())

def sign(inp, out, selector, keyfile, alg, canon, length):
    msg = open(inp, "rb").read()
    key = open(keyfile, "rb").read()
    c = canon.encode().split(b"/")
    h = dkim.sign(msg, selector.encode(), DOMAIN, key, canonicalize=(c[0], c[1]),
                  signature_algorithm=alg.encode(), length=(length == "l"),
                  include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    open(out, "wb").write(h + msg)

def verify(inp):
    msg = open(inp, "rb").read()
    n = sum(1 for line in msg.split(b"\n") if line.lower().startswith(b"dkim-signature:"))
    res = []
    for i in range(n):
        try:
            ok = dkim.DKIM(msg, minkey=1024).verify(idx=i, dnsfunc=lookup)
        except dkim.DKIMException:
            ok = False
        res.append("pass" if ok else "fail")
    print(" ".join(res))

def serve(port):
    # A DNS server for TXT questions: names in records.json get their record
    # (split in 255-byte strings), other names NXDOMAIN.
    recs = {k.lower(): v for k, v in records().items()}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(port)))
    while True:
        q, addr = s.recvfrom(4096)
        if len(q) < 12:
            continue
        qid, flags = struct.unpack(">HH", q[:4])
        i, labels = 12, []
        while i < len(q) and q[i] != 0:
            labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
            i += 1 + q[i]
        qtype, = struct.unpack(">H", q[i + 1:i + 3])
        question = q[12:i + 5]
        name = ".".join(labels).lower()
        rcode, answers = 0, b""
        if name not in recs:
            rcode = 3
        elif qtype == 16:
            data = recs[name].encode()
            rdata = b"".join(bytes([len(data[j:j + 255])]) + data[j:j + 255] for j in range(0, max(len(data), 1), 255))
            answers = b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 300, len(rdata)) + rdata
        hdr = struct.pack(">HHHHHH", qid, 0x8400 | (flags & 0x0100) | 0x0080 | rcode, 1, 1 if answers else 0, 0, 0)
        s.sendto(hdr + question + answers, addr)

cmd = sys.argv[1]
if cmd == "edkey":
    edkey()
elif cmd == "sign":
    sign(*sys.argv[3:10])
elif cmd == "verify":
    verify(sys.argv[3])
elif cmd == "serve":
    serve(sys.argv[3])
EOF

edpub=$($PY "$dir/dk.py" edkey "$dir")
$PY - "$dir" "$(pub "$dir/rsa2048.pem")" "$(pub "$dir/rsa1024.pem")" "$edpub" <<'EOF'
import json, sys
d, r2048, r1024, ed = sys.argv[1:]
json.dump({
    "rsa2048._domainkey.example.com": "v=DKIM1; k=rsa; p=" + r2048,
    "rsa1024._domainkey.example.com": "v=DKIM1; k=rsa; p=" + r1024,
    "ed._domainkey.example.com": "v=DKIM1; k=ed25519; p=" + ed,
    "revoked._domainkey.example.com": "v=DKIM1; k=rsa; p=",
    "example.com": "v=spf1 -all",
}, open(d + "/records.json", "w"))
EOF

port=$(free_port)
$PY "$dir/dk.py" serve "$dir" "$port" &
pid=$!
for _ in $(seq 50); do
  if $DD dkim example.com --resolver "127.0.0.1:$port" --selector rsa2048 --timeout 200ms >/dev/null 2>&1; then break; fi
  sleep 0.1
done

# --- messages -----------------------------------------------------------
printf 'From: Ada Lovelace <ada@example.com>\r\nTo: Grace Hopper <grace@example.org>\r\nSubject: Analytical engine\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <engine-1@example.com>\r\n\r\nThe engine weaves algebraic patterns\r\nas the loom weaves flowers.  \r\n\r\n\r\n' >"$dir/plain.eml"

sign() { # out selector keyfile alg canon [l]
  $PY "$dir/dk.py" sign "$dir" "$dir/plain.eml" "$dir/$1.eml" "$2" "$3" "$4" "$5" "${6:--}"
}
sign rsa2048-relaxed rsa2048 "$dir/rsa2048.pem" rsa-sha256 relaxed/relaxed
sign rsa2048-simple rsa2048 "$dir/rsa2048.pem" rsa-sha256 simple/simple
sign rsa1024-relaxed rsa1024 "$dir/rsa1024.pem" rsa-sha256 relaxed/relaxed
sign ed-relaxed ed "$dir/ed.key" ed25519-sha256 relaxed/relaxed
sign ed-simple ed "$dir/ed.key" ed25519-sha256 simple/simple
sign revoked revoked "$dir/rsa2048.pem" rsa-sha256 relaxed/relaxed
sign nosuch nosuch "$dir/rsa2048.pem" rsa-sha256 relaxed/relaxed
sign length rsa2048 "$dir/rsa2048.pem" rsa-sha256 relaxed/relaxed l
sed 's/algebraic/algebraical/' "$dir/rsa2048-relaxed.eml" >"$dir/body-changed.eml"
sed 's/^Subject: Analytical/Subject: [list] Analytical/' "$dir/ed-relaxed.eml" >"$dir/subject-changed.eml"
sed 's/  \r$/\r/' "$dir/rsa2048-relaxed.eml" >"$dir/relaxed-whitespace.eml"  # relaxed tolerates this
sed 's/  \r$/\r/' "$dir/rsa2048-simple.eml" >"$dir/simple-whitespace.eml"    # simple does not
tr -d '\r' <"$dir/ed-relaxed.eml" >"$dir/lf-endings.eml"
cp "$dir/plain.eml" "$dir/plain-in.eml"
$PY "$dir/dk.py" sign "$dir" "$dir/ed-relaxed.eml" "$dir/double.eml" rsa2048 "$dir/rsa2048.pem" rsa-sha256 relaxed/relaxed -

# go-msgauth signs (a throwaway module, built from the repository's module
# versions), dkimpy must verify.
gomod="$dir/gosign"
mkdir -p "$gomod"
cat >"$gomod/main.go" <<'EOF'
package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// gosign KEYFILE SELECTOR < message > signed message
func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var signer crypto.Signer
	if b, _ := pem.Decode(raw); b != nil {
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			panic(err)
		}
		signer = k
	} else {
		seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
		if err != nil {
			panic(err)
		}
		signer = ed25519.NewKeyFromSeed(seed)
	}
	if err := dkim.Sign(os.Stdout, os.Stdin, &dkim.SignOptions{Domain: "example.com", Selector: os.Args[2], Signer: signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}}); err != nil {
		panic(err)
	}
}
EOF
msgauth=$(go list -m -f '{{.Version}}' github.com/emersion/go-msgauth)
xcrypto=$(go list -m -f '{{.Version}}' golang.org/x/crypto)
printf 'module gosign\n\ngo 1.26.0\n\nrequire (\n\tgithub.com/emersion/go-msgauth %s\n\tgolang.org/x/crypto %s\n)\n' "$msgauth" "$xcrypto" >"$gomod/go.mod"
cp go.sum "$gomod/go.sum"
(cd "$gomod" && GOFLAGS=-mod=mod go build -o gosign .)
"$gomod/gosign" "$dir/rsa2048.pem" rsa2048 <"$dir/plain.eml" >"$dir/go-rsa.eml"
"$gomod/gosign" "$dir/ed.key" ed <"$dir/plain.eml" >"$dir/go-ed.eml"

# --- cross-check ----------------------------------------------------------
dd_results() { # deliverdoctor's per-signature results, pass/fail
  $DD dkim verify "$1" --resolver "127.0.0.1:$port" --timeout 1s --format json 2>/dev/null | $PY -c '
import json, sys
rep = json.load(sys.stdin)
sigs = rep["checks"][0]["data"]["signatures"]
print(" ".join(s["result"] for s in sigs))' || true
}
norm() { sed -E 's/(fail|permerror|temperror|neutral|policy|not-checked)/fail/g'; }

failures=0
checked=0
expect() { # message expected-results (both verifiers must give these)
  local m=$1 want=$2 dd py
  dd=$(dd_results "$dir/$m.eml")
  py=$($PY "$dir/dk.py" verify "$dir" "$dir/$m.eml")
  checked=$((checked + 1))
  if [ "$(echo "$dd" | norm)" != "$want" ] || [ "$py" != "$want" ]; then
    echo "MISMATCH $m: want [$want], deliverdoctor [$dd], dkimpy [$py]"
    failures=$((failures + 1))
  fi
}
expect rsa2048-relaxed pass
expect rsa2048-simple pass
expect rsa1024-relaxed pass
expect ed-relaxed pass
expect ed-simple pass
expect double "pass pass"
expect lf-endings pass
expect relaxed-whitespace pass
expect simple-whitespace fail
expect body-changed fail
expect subject-changed fail
expect revoked fail
expect nosuch fail
expect go-rsa pass
expect go-ed pass
expect plain-in ""

# l=: dkimpy accepts it, deliverdoctor refuses it by policy (documented).
dd=$(dd_results "$dir/length.eml")
py=$($PY "$dir/dk.py" verify "$dir" "$dir/length.eml")
checked=$((checked + 1))
if [ "$dd" != "policy" ] || [ "$py" != "pass" ]; then
  echo "MISMATCH length: want deliverdoctor [policy] dkimpy [pass], got [$dd] [$py]"
  failures=$((failures + 1))
fi

# The key records as `deliverdoctor dkim` judges them.
out=$($DD dkim example.com --resolver "127.0.0.1:$port" --timeout 1s --format json \
  --selector rsa2048 --selector rsa1024 --selector ed --selector revoked --selector nosuch || true)
got=$(echo "$out" | $PY -c '
import json, sys
rep = json.load(sys.stdin)
keys = {k["selector"]: k["status"] for k in rep["checks"][0]["data"]["keys"]}
ids = sorted(set(f["id"] for f in rep["findings"] if f["severity"] in ("fail", "warn")))
print(rep["status"], ",".join(f"{k}={keys[k]}" for k in sorted(keys)), ",".join(ids))')
want="fail ed=ok,nosuch=missing,revoked=revoked,rsa1024=ok,rsa2048=ok dkim.no-key,dkim.revoked,dkim.short-key"
checked=$((checked + 1))
if [ "$got" != "$want" ]; then
  echo "MISMATCH dkim example.com: want [$want] got [$got]"
  failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
  echo "dkimpy interop: $failures of $checked checks disagree"
  exit 1
fi
echo "dkimpy interop: $checked checks agree (dkimpy $($PY -c 'import dkim, importlib.metadata as m; print(m.version("dkimpy"))' 2>/dev/null || echo '?'))"
