#!/usr/bin/env bash
# flowctl end to end as users call it: validate exit codes and messages, run --local with the
# timeline and with --output json, exit codes 0/1/2, and every example validating and running.
set -uo pipefail
bin=$1
root=$2
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() {  # name expected-exit actual-exit
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: exit $3, expected $2"
    fails=$((fails + 1))
  else
    echo "ok: $1"
  fi
}
contains() {  # name file text
  if grep -qF -- "$3" "$2"; then echo "ok: $1"; else
    echo "FAIL: $1: '$3' not in output:"; cat "$2"; fails=$((fails + 1)); fi
}

"$bin/flowctl" validate "$root"/examples/*.yaml >"$tmp/out" 2>&1
check "examples validate" 0 $?

cat >"$tmp/bad.yaml" <<'YAML'
apiVersion: flowd/v1
kind: Workflow
metadata: {name: bad, version: 1}
spec:
  steps:
    - {id: a, type: teleport}
    - {id: a, type: noop, dependsOn: [ghost]}
YAML
"$bin/flowctl" validate "$tmp/bad.yaml" >"$tmp/out" 2>&1
check "invalid definition exits 1" 1 $?
contains "message names file, line and column" "$tmp/out" "bad.yaml:6:"
contains "unknown type reported" "$tmp/out" "teleport"
contains "all problems in one pass" "$tmp/out" "ghost"

"$bin/flowctl" run "$tmp/bad.yaml" --local >"$tmp/out" 2>&1
check "run of an invalid definition exits 2" 2 $?
"$bin/flowctl" run >"$tmp/out" 2>&1
check "bad usage exits 2" 2 $?
"$bin/flowctl" run "$root/examples/flaky-call.yaml" --local --input '{not json' >"$tmp/out" 2>&1
check "bad --input exits 2" 2 $?

"$bin/flowctl" run "$root/examples/order-processing.yaml" --local \
  --input-file "$root/examples/inputs/order.json" >"$tmp/out" 2>&1
check "order-processing completes" 0 $?
contains "timeline shows steps" "$tmp/out" "reserve[0]"
contains "summary shows status" "$tmp/out" "completed"

"$bin/flowctl" run "$root/examples/flaky-call.yaml" --local --output json >"$tmp/out" 2>"$tmp/err"
check "flaky-call completes" 0 $?
python3 - "$tmp/out" <<'PY' || fails=$((fails + 1))
import json, sys
lines = open(sys.argv[1]).read().strip().splitlines()
assert len(lines) == 1, "exactly one JSON document"
doc = json.loads(lines[0])
assert set(doc) <= {"status", "output", "error", "steps"}, doc.keys()
assert doc["status"] == "completed", doc
assert doc["steps"]["quote"]["attempts"] == 3, doc["steps"]["quote"]
assert doc["output"] == {"price": 42, "rate": 1.08, "profile": "failed"}, doc["output"]
print("ok: json output shape")
PY

"$bin/flowctl" run "$root/examples/fan-out.yaml" --local \
  --input-file "$root/examples/inputs/regions.json" --output json >"$tmp/out" 2>&1
check "fan-out completes" 0 $?

cat >"$tmp/fails.yaml" <<'YAML'
apiVersion: flowd/v1
kind: Workflow
metadata: {name: fails, version: 1}
spec:
  steps:
    - {id: boom, type: fail, with: {code: INVALID_INPUT, message: nope}}
YAML
"$bin/flowctl" run "$tmp/fails.yaml" --local --output json >"$tmp/out" 2>&1
check "failed execution exits 1" 1 $?
contains "error in json" "$tmp/out" '"code":"INVALID_INPUT"'

exit $fails
