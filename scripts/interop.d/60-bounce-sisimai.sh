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
# timed by wall clock; the ratio is printed (no assertion: CI machines
# differ).
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
t0=$(now); cpu >"$work/c0"
timeout 120 "$DD" bounces "$speed" --format jsonl >/dev/null
t1=$(now); cpu >"$work/c1"
timeout 300 perl -MSisimai -e 'my $v = Sisimai->make($ARGV[0], delivered => 1); print scalar(@{$v || []}), "\n"' "$speed" >/dev/null
t2=$(now); cpu >"$work/c2"
c0=$(cat "$work/c0") c1=$(cat "$work/c1") c2=$(cat "$work/c2")
awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v ca="$c0" -v cb="$c1" -v cc="$c2" 'BEGIN {
  dd = n / (b - a); si = n / (c - b);
  printf "bounce-sisimai: speed on %d messages: deliverdoctor %.0f messages/s, Sisimai %.0f messages/s, ratio %.1fx\n", n, dd, si, dd / si
  if (cb > ca && cc > cb)
    printf "bounce-sisimai: CPU per message: deliverdoctor %.3f ms, Sisimai %.3f ms, ratio %.1fx\n", 1000 * (cb - ca) / n, 1000 * (cc - cb) / n, (cc - cb) / (cb - ca) }'
