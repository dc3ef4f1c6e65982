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
