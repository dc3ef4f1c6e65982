#!/usr/bin/env bash
# Interop: deliverdoctor relay against two private Postfix instances on
# 127.0.0.1, one configured as an open relay and one closed, each with its own
# config, queue and data directories and its own port, independent of any
# system Postfix and of other interop scripts.
#
# Asserts: the open instance gets verdict "open" (exit 1), the closed one
# "closed" (exit 0), both through the JSON contract; and, from each instance's
# log and queue, that no message was ever received (no DATA): no cleanup
# "message-id=" line, no qmgr "from=" line, no queue file, an empty
# `postqueue -p`.
set -euo pipefail
source scripts/interop-lib.sh

need_postfix

work=$(mktemp -d /tmp/dd-relay-postfix.XXXXXX)
chmod 755 "$work"
instances=()

cleanup() {
  for inst in "${instances[@]}"; do
    postfix_stop "$work/$inst/etc"
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "30-postfix-relay: FAIL: $*" >&2; exit 1; }

# start_instance NAME PORT MYNETWORKS
start_instance() {
  local name=$1 port=$2 nets=$3
  local d="$work/$name"
  postfix_dirs "$d"
  {
    postfix_main_cf_base "$d"
    cat <<EOF
myhostname = $name.relay.test
mydomain = relay.test
myorigin = \$myhostname
mydestination = \$myhostname, localhost
mynetworks = $nets
mynetworks_style = host
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_banner = \$myhostname ESMTP deliverdoctor-interop
smtputf8_enable = no
maillog_file_prefixes = $work
# Nothing should ever be queued; if something were, it stays deferred
# here (never sent anywhere) and the queue check below catches it.
relayhost = [127.0.0.1]:9
defer_transports = smtp, relay, local
EOF
  } >"$d/etc/main.cf"
  # A minimal master.cf: the smtpd listener on our port only, no chroot.
  postfix_master_cf "$port" >"$d/etc/master.cf"
  instances+=("$name")
  postfix_start "$d/etc" "$port" || { cat "$d/maillog" >&2 || true; fail "postfix $name did not start or does not answer on 127.0.0.1:$port"; }
}

open_port=$(free_port)
start_instance open "$open_port" "0.0.0.0/0"
closed_port=$(free_port)
# The probe connects from 127.0.0.1; only 127.0.0.2 is trusted, so the
# probe is a stranger and Postfix's default relay restrictions apply.
start_instance closed "$closed_port" "127.0.0.2/32"

# probe NAME PORT WANT_VERDICT WANT_EXIT
probe() {
  local name=$1 port=$2 want=$3 want_exit=$4
  local out="$work/$name.json" rc=0
  timeout 120 "$DD" relay "127.0.0.1:$port" --format json --all-variants --probe-timeout 10s >"$out" 2>"$work/$name.err" || rc=$?
  python3 - "$out" "$want" <<'PY' || { cat "$out" "$work/$name.err" >&2; fail "$name: JSON contract or verdict"; }
import json, sys
doc = json.load(open(sys.argv[1]))
for k in ("host", "verdict", "attempts"):
    assert k in doc, "missing " + k
assert doc["verdict"] == sys.argv[2], "verdict %s, want %s (%s)" % (doc["verdict"], sys.argv[2], doc.get("reason"))
assert doc["attempts"], "no attempts"
for a in doc["attempts"]:
    for k in ("mail_from", "rcpt_to", "code", "enhanced_code", "text", "accepted"):
        assert k in a, "attempt lacks " + k
if sys.argv[2] == "open":
    assert any(a["accepted"] and a["kind"] == "foreign" for a in doc["attempts"]), "no accepted foreign RCPT"
    # Postfix trusts mynetworks with routing syntax too (allow_untrusted_routing
    # only guards strangers), and refuses the nonexistent control recipient:
    # the probe must call those tricks relayed, not ambiguous.
    tricks = [a for a in doc["attempts"] if a["kind"] == "trick"]
    assert tricks and all(a["outcome"] == "relayed" for a in tricks), "tricks not all relayed"
    assert all(a["outcome"] == "refused" for a in doc["attempts"] if a["kind"] == "control"), "a control was accepted"
else:
    assert not any(a["accepted"] for a in doc["attempts"] if a["kind"] == "foreign"), "a foreign RCPT was accepted"
    assert any(a["code"] == 554 and a["enhanced_code"] == "5.7.1" for a in doc["attempts"]), "no 554 5.7.1 Relay access denied"
PY
  [ "$rc" -eq "$want_exit" ] || { cat "$out" "$work/$name.err" >&2; fail "$name: exit $rc, want $want_exit"; }
}

probe open "$open_port" open 1
probe closed "$closed_port" closed 0
# Without --all-variants the probe stops at the first relayed variant.
n=$(timeout 60 "$DD" relay "127.0.0.1:$open_port" --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["attempts"]))' || true)
[ "$n" = 1 ] || fail "open: $n attempts without --all-variants, want 1"

# No DATA ever: nothing reached cleanup as a message, nothing was queued.
for inst in open closed; do
  d="$work/$inst"
  for i in $(seq 1 20); do grep -q "disconnect from" "$d/maillog" 2>/dev/null && break; sleep 0.1; done
  grep -q "connect from" "$d/maillog" || fail "$inst: the probe left no trace in the log"
  if grep -E "message-id=|qmgr\[[0-9]+\]: [0-9A-F]+: from=" "$d/maillog"; then fail "$inst: a message was received"; fi
  # smtpd's disconnect line counts every command: "ehlo=1 mail=18 rcpt=0/18 rset=17 quit=1".
  grep -q "disconnect from .* rcpt=" "$d/maillog" || fail "$inst: no per-command counts in the log"
  if grep -E "disconnect from .*( data=| bdat=)" "$d/maillog"; then fail "$inst: DATA/BDAT reached smtpd"; fi
  files=$(find "$d/spool/incoming" "$d/spool/active" "$d/spool/deferred" "$d/spool/hold" "$d/spool/maildrop" -type f 2>/dev/null | wc -l)
  [ "$files" -eq 0 ] || fail "$inst: $files queue file(s)"
  q=$(timeout 10 postqueue -c "$d/etc" -p 2>&1 || true)
  echo "$q" | grep -q "Mail queue is empty" || fail "$inst: postqueue -p: $q"
done

for inst in open closed; do
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("  %s: %s" % (sys.argv[2], " ".join("%s=%s" % (a["variant"], a["outcome"]) for a in d["attempts"])))' "$work/$inst.json" "$inst"
done
opened=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for a in d["attempts"] if a["outcome"]=="relayed"))' "$work/open.json")
refused=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for a in d["attempts"] if a["outcome"]=="refused"))' "$work/closed.json")
echo "30-postfix-relay: ok: open instance relayed $opened variants (verdict open), closed instance refused $refused (verdict closed); no message queued"
