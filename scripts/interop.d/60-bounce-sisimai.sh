#!/usr/bin/env bash
# Differential test of deliverdoctor's bounce parser against Sisimai (Debian
# libsisimai-perl, the reference bounce classifier): Sisimai relabels the
# 138-message corpus now, and deliverdoctor is compared with those fresh
# labels (recipient, enhanced status, hard/soft, category). Every
# disagreement must be listed with its reason in
# internal/bounce/testdata/disagreements.tsv; the agreement figures are
# printed here so that they show in CI logs.
set -euo pipefail
source scripts/interop-lib.sh
need_pkgs libsisimai-perl procps

corpus=internal/bounce/testdata/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/eml"
cp "$corpus"/eml/*.eml "$work/eml/"

timeout 300 sh "$corpus/relabel.sh" "$work" 2>"$work/relabel.err" || { cat "$work/relabel.err"; echo "bounce-sisimai: relabel.sh failed"; exit 1; }
version=$(perl -MSisimai -e 'print $Sisimai::VERSION')
if cmp -s "$work/labels.jsonl" "$corpus/labels.jsonl"; then
  same="identical to the committed labels"
else
  same="DIFFERENT from the committed labels ($(diff "$corpus/labels.jsonl" "$work/labels.jsonl" | grep -c '^>') lines changed)"
fi

# The CLI reads the whole corpus without an error.
timeout 120 "$DD" bounces "$corpus/eml" --format jsonl >"$work/dd.jsonl"
records=$(wc -l <"$work/dd.jsonl")
failures=$(grep -cv '"reason":"\(delivered\|feedback\|vacation\|unparsed\)"' "$work/labels.jsonl" || true)
if [ "$records" -lt "$failures" ]; then
  echo "bounce-sisimai: deliverdoctor reported $records failed recipients, Sisimai labels $failures"
  exit 1
fi

# Agreement with the fresh labels (the test fails on unexplained ones).
set +e
DD_SISIMAI_LABELS="$work/labels.jsonl" timeout 300 go test -count=1 -run 'TestCorpusAgreement$' -v ./internal/bounce >"$work/test.out" 2>&1
rc=$?
set -e
grep -E '^\s+corpus_test.go:[0-9]+: ' "$work/test.out" | sed 's/^\s*corpus_test.go:[0-9]*: /  /'
if [ $rc -ne 0 ]; then
  tail -40 "$work/test.out"
  echo "bounce-sisimai: FAILED against Sisimai $version ($same)"
  exit 1
fi
status=$(grep -oE 'enhanced status: +[0-9/]+ = [0-9.]+%' "$work/test.out" | head -1 | grep -oE '[0-9.]+%$')
hard=$(grep -oE 'hard/soft: +[0-9/]+ = [0-9.]+%' "$work/test.out" | head -1 | grep -oE '[0-9.]+%$')
echo "bounce-sisimai: Sisimai $version relabelled $(ls "$work/eml" | wc -l) messages ($same); deliverdoctor: $records records, status agreement $status, hard/soft $hard raw, every disagreement explained"

# Speed, side by side on the same files in the same run (issue 18): the
# corpus copied 10 times, deliverdoctor (both cores) and Sisimai, each
# timed by wall clock, five rounds alternating the two; each tool's best
# round is printed with the ratio (no assertion: CI machines differ; the
# best of five is the least disturbed by other work on the machine, for
# both tools alike). The
# time to only read the files (cat) is printed as the floor.
speed="$work/speed"
mkdir "$speed"
for i in $(seq 1 10); do
  for f in "$corpus"/eml/*.eml; do cp "$f" "$speed/$i-$(basename "$f")"; done
done
n=$(ls "$speed" | wc -l)
# Timing: no process of this script may run inside a timed window but the
# tool timed. A window is opened and closed with bash's own clock
# ($EPOCHREALTIME, no fork) and the CPU of children is snapshotted with
# the `times` builtin into a file (no fork either); the snapshots are read
# after each round. A hung tool is stopped by one watchdog for all the
# rounds, not by a `timeout` process around each command. (This script
# used to take `date` and `times | tail | awk` inside the windows, and ran
# each tool under `timeout`: about 30 ms of wall and CPU per window on a
# 2-core VM, for both tools alike, which is a quarter of deliverdoctor's
# run and a fortieth of Sisimai's, so the printed ratio was about 20%
# low.) The decimal point of $EPOCHREALTIME follows the locale: C keeps
# it a dot for awk.
export LC_ALL=C
if [ -z "${EPOCHREALTIME:-}" ]; then
  echo "bounce-sisimai: needs bash 5 or later (\$EPOCHREALTIME)"
  exit 1
fi
: >"$work/rounds"
# The watchdog: after 15 minutes (BOUNCE_SPEED_LIMIT seconds) it stops whatever this script is running
# (set -e then ends the script with that failure).
script=$$
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep "${BOUNCE_SPEED_LIMIT:-900}" </dev/null >/dev/null 2>&1 &
  nap=$!
  wait "$nap"
  echo "bounce-sisimai: the timing rounds took over ${BOUNCE_SPEED_LIMIT:-900} s; stopping them"
  pkill -TERM -P "$script"
) &
watchdog=$!
trap 'kill "$watchdog" 2>/dev/null || true; rm -rf "$work"' EXIT
for round in 1 2 3 4 5; do
  times >"$work/c0"; t0=$EPOCHREALTIME
  "$DD" bounces "$speed" --format jsonl >/dev/null
  t1=$EPOCHREALTIME; times >"$work/c1"
  perl -MSisimai -e 'my $v = Sisimai->make($ARGV[0], delivered => 1); print scalar(@{$v || []}), "\n"' "$speed" >/dev/null
  t2=$EPOCHREALTIME; times >"$work/c2"
  # The floor: only reading the same files, one process (cat), so that
  # the share of the run that is the file system's shows.
  find "$speed" -type f -exec cat {} + >/dev/null
  t3=$EPOCHREALTIME; times >"$work/c3"
  # Outside the windows: children's user+system seconds of each snapshot
  # (the second line of `times`).
  for c in c0 c1 c2 c3; do
    tail -1 "$work/$c" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }; print t }' >"$work/$c.s"
  done
  echo "$t0 $t1 $t2 $(cat "$work/c0.s") $(cat "$work/c1.s") $(cat "$work/c2.s") $t3 $(cat "$work/c3.s")" >>"$work/rounds"
done
kill "$watchdog" 2>/dev/null || true
load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
awk -v n="$n" -v loadavg="$load" '{
  dw = $2 - $1; sw = $3 - $2; dc = $5 - $4; sc = $6 - $5
  printf "bounce-sisimai: round %d: deliverdoctor %.3f s (%.3f s CPU), Sisimai %.3f s (%.3f s CPU)\n", NR, dw, dc, sw, sc
  if (NR == 1 || dw < bdw) bdw = dw; if (NR == 1 || sw < bsw) bsw = sw
  if (NR == 1 || dc < bdc) bdc = dc; if (NR == 1 || sc < bsc) bsc = sc
  fw = $7 - $3; fc = $8 - $6
  if (NR == 1 || fw < bfw) bfw = fw; if (NR == 1 || fc < bfc) bfc = fc
} END {
  printf "bounce-sisimai: read floor (cat of the same files, best of 5): %.3f s wall, %.3f s CPU; deliverdoctor takes %.1fx the floor\n", bfw, bfc, bdw / bfw
  printf "bounce-sisimai: speed on %d messages (best of 5, load average %s): deliverdoctor %.0f messages/s, Sisimai %.0f messages/s, ratio %.1fx\n", n, loadavg, n / bdw, n / bsw, bsw / bdw
  if (bdc > 0 && bsc > 0)
    printf "bounce-sisimai: CPU per message (best of 5): deliverdoctor %.3f ms, Sisimai %.3f ms, ratio %.1fx\n", 1000 * bdc / n, 1000 * bsc / n, bsc / bdc }' "$work/rounds"
