#!/usr/bin/env bash
# A small `capillary credit train`: its last-line contract, AUC >= 0.75 on the held-out users, and
# the model it writes scores a user and rescores a population; a damaged model is refused clearly.
set -euo pipefail
capillary=$1
dir=$(mktemp -d "${TMPDIR:-/tmp}/capillary-credit-smoke.XXXXXX")
trap 'rm -rf "$dir"' EXIT

last=$("$capillary" credit train --users 40000 --seed 5 --out "$dir/m.model" 2>/dev/null | tail -n 1)
echo "$last"
[[ $last =~ ^auc=([0-9.]+)\ ks=([0-9.]+)\ users=40000\ model=$dir/m.model$ ]] ||
  { echo "unexpected last line: $last" >&2; exit 1; }
auc=${BASH_REMATCH[1]}
python3 -c "import sys; sys.exit(0 if float('$auc') >= 0.75 else 1)" ||
  { echo "auc $auc below 0.75" >&2; exit 1; }

json=$("$capillary" credit score --model "$dir/m.model" --user 3 --seed 5 --json)
echo "$json"
python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert 350 <= j["score"] <= 950, j
assert set(j["dimensions"]) == {"history", "behaviour", "capacity", "identity", "relationships"}, j
assert j["deposit_waiver"] == (j["score"] >= 650) and j["privileged"] == (j["score"] >= 700), j
' "$json"

last=$("$capillary" credit rescore --model "$dir/m.model" --users 20000 2>/dev/null | tail -n 1)
echo "$last"
[[ $last =~ ^rescored=20000\ users_per_s=[0-9]+\ score_p50=[0-9]+\ waiver_pct=[0-9.]+\ privileged_pct=[0-9.]+\ model= ]] ||
  { echo "unexpected last line: $last" >&2; exit 1; }

# A truncated model file is refused with exit 1 and a message naming the problem.
head -n 20 "$dir/m.model" > "$dir/bad.model"
if "$capillary" credit score --model "$dir/bad.model" --user 1 2>"$dir/err"; then
  echo "a truncated model was accepted" >&2
  exit 1
fi
grep -q "unexpected end of file" "$dir/err" || { cat "$dir/err" >&2; exit 1; }
