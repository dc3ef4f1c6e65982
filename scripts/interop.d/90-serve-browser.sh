#!/usr/bin/env bash
# Interop: `deliverdoctor serve` in a real browser (Debian's headless
# chromium) and its metrics through Prometheus's own checker (promtool).
# The server answers from zone files only (--zone ... --offline), on
# 127.0.0.1:18090; nothing leaves this machine. Asserts what a person sees
# on the check page (the results, our own script ran under the CSP), that a
# TXT record carrying <script> shows as text and runs nothing, and that
# /metrics, /probe and `check --format prometheus` pass `promtool check
# metrics`. Screenshots: .interop/serve-check.png, serve-hostile.png,
# serve-explain.png. Needs Go (the browser driver is
# internal/serve/browsertest, built with -tags browser).
set -euo pipefail
source scripts/interop-lib.sh
need_pkgs chromium prometheus curl

port=18090
base="http://127.0.0.1:$port"
out="$(pwd)/.interop"
mkdir -p "$out"
dir=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/good.zone" <<'ZONE'
$ORIGIN example.com.
$TTL 300
@      IN MX 10 mx1
mx1    IN A 198.51.100.25
@      IN TXT "v=spf1 mx -all"
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
ZONE
cat >"$dir/hostile.zone" <<'ZONE'
$ORIGIN hostile.example.
$TTL 300
@      IN MX 10 mx1.example.com.
@      IN TXT "v=spf1 <script>document.title='PWNED'</script> -all"
_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:x@hostile.example\"><img src=x onerror=\"document.title='PWNED2'\">"
ZONE

"$DD" serve --listen "127.0.0.1:$port" --zone "$dir/good.zone" --zone "$dir/hostile.zone" --offline --rate 0 \
  >"$dir/serve.log" 2>&1 &
pid=$!
for i in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null || { cat "$dir/serve.log"; exit 1; }

fail=0
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}

# promtool: the server's metrics, a probe, and the cron file format.
curl -fsS "$base/metrics" >"$dir/metrics.txt"
curl -fsS "$base/probe?target=example.com" >"$dir/probe.txt"
"$DD" check example.com --zone "$dir/good.zone" --offline --format prometheus >"$dir/textfile.prom" || true
for f in metrics.txt probe.txt textfile.prom; do
  check "promtool check metrics $f" sh -c "promtool check metrics <'$dir/$f' 2>&1 | grep -v 'no help text' | grep -q . && { promtool check metrics <'$dir/$f'; exit 1; } || exit 0"
done
check "probe: DMARC policy reject" grep -q 'deliverdoctor_dmarc_policy{policy="reject",target="example.com"} 1' "$dir/probe.txt"
echo "probe series: $(grep -vc '^#' "$dir/probe.txt"), textfile series: $(grep -vc '^#' "$dir/textfile.prom")"

# The browser: a Go program (chromedp) drives headless chromium through the
# form, waits for the streamed results and takes the screenshots.
go run -tags browser ./internal/serve/browsertest -base "$base" -out "$out" -chromium "$(command -v chromium)" || fail=1
ls -l "$out"/serve-*.png

# SIGTERM: the server stops gracefully with a check running.
curl -sS -o /dev/null "$base/check/example.com" &
curlpid=$!
sleep 0.3 # let the request reach the server
kill -TERM "$pid"
start=$(date +%s%N)
if wait "$pid"; then rc=0; else rc=$?; fi
pid=""
wait "$curlpid" 2>/dev/null || true
echo "SIGTERM: serve exited $rc after $(( ($(date +%s%N) - start) / 1000000 )) ms"
# Every command stopped by a signal exits 128+signal (143 for SIGTERM) after
# finishing cleanly; "shutting down" shows the graceful path ran.
check "graceful shutdown (exit 143 after the shutdown path ran)" sh -c "[ $rc -eq 143 ] && grep -q 'shutting down' '$dir/serve.log'"

exit $fail
