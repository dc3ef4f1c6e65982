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
need_pkgs libsisimai-perl

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
now() { date +%s.%N; }
# cpu: user+system seconds of all children so far (bash's `times`, second
# line), so a loaded machine's wall clock does not hide the work done.
# `times` must run in this shell, not in $(...).
cpu() { times >"$work/times"; tail -1 "$work/times" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] }; print t }'; }
: >"$work/rounds"
for round in 1 2 3 4 5; do
  t0=$(now); cpu >"$work/c0"
  timeout 120 "$DD" bounces "$speed" --format jsonl >/dev/null
  t1=$(now); cpu >"$work/c1"
  timeout 300 perl -MSisimai -e 'my $v = Sisimai->make($ARGV[0], delivered => 1); print scalar(@{$v || []}), "\n"' "$speed" >/dev/null
  t2=$(now); cpu >"$work/c2"
  # The floor: only reading the same files, one process (cat), so that
  # the share of the run that is the file system's shows.
  find "$speed" -type f -exec cat {} + >/dev/null
  t3=$(now); cpu >"$work/c3"
  echo "$t0 $t1 $t2 $(cat "$work/c0") $(cat "$work/c1") $(cat "$work/c2") $t3 $(cat "$work/c3")" >>"$work/rounds"
done
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
