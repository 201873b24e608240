#!/usr/bin/env bash
# A small `capillary bench risk` run: the last-line contract holds, the figures are in range, the
# same seed gives the same catch and false-positive rates, and a bad rules file is a usage error.
set -euo pipefail
capillary=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/capillary-risk-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

pattern='^decisions_per_s=([0-9]+) p99_us=([0-9.]+) catch_rate=([0-9.]+) false_positive_rate=([0-9.]+)$'
first=$("$capillary" bench risk --events 30000 --seed 3 2>/dev/null | tail -n 1)
echo "$first"
[[ $first =~ $pattern ]] || { echo "unexpected last line: $first" >&2; exit 1; }
rates=${first#* p99_us=* }
python3 - "$first" <<'PY'
import sys
fields = dict(kv.split("=") for kv in sys.argv[1].split())
assert int(fields["decisions_per_s"]) > 0, fields
assert 0 < float(fields["p99_us"]), fields
assert 0.0 <= float(fields["false_positive_rate"]) <= 1.0, fields
assert 0.5 <= float(fields["catch_rate"]) <= 1.0, fields
PY
second=$("$capillary" bench risk --events 30000 --seed 3 2>/dev/null | tail -n 1)
[[ ${second#* p99_us=* } == "$rates" ]] ||
  { echo "same seed, different rates: $first / $second" >&2; exit 1; }

printf 'rule broken priority 1 when amount > 5 then deny "x" end\n' > "$work/bad.rules"
if "$capillary" bench risk --events 1000 --rules "$work/bad.rules" 2> "$work/err"; then
  echo "a rules file with a type error was accepted" >&2
  exit 1
fi
grep -q "1:38: type error" "$work/err" || { cat "$work/err" >&2; exit 1; }
