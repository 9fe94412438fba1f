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

# flowctl cron next: fire times computed locally, one UTC instant per line (answers from the
# Berlin 2026 rules: 02:30 does not exist on 29 March, so it fires at 03:00 CEST = 01:00Z).
"$bin/flowctl" cron next '30 2 * * *' --timezone Europe/Berlin --from 2026-03-28T12:00:00Z \
  -n 3 >"$tmp/out" 2>&1
check "cron next exits 0" 0 $?
printf '2026-03-29T01:00:00Z\n2026-03-30T00:30:00Z\n2026-03-31T00:30:00Z\n' >"$tmp/expected"
if cmp -s "$tmp/out" "$tmp/expected"; then echo "ok: cron next across the spring gap"; else
  echo "FAIL: cron next across the spring gap:"; cat "$tmp/out"; fails=$((fails + 1)); fi
"$bin/flowctl" cron next '@daily' --from 2026-01-01T00:00:00+01:00 >"$tmp/out" 2>&1
check "cron next in UTC by default" 0 $?
[ "$(wc -l <"$tmp/out")" = 5 ] && echo "ok: five fire times by default" ||
  { echo "FAIL: five fire times by default:"; cat "$tmp/out"; fails=$((fails + 1)); }
contains "the first is the next UTC midnight" "$tmp/out" "2026-01-01T00:00:00Z"
"$bin/flowctl" cron next '0 0 32 * *' >"$tmp/out" 2>&1
check "cron next: bad expression exits 2" 2 $?
contains "the field and the problem" "$tmp/out" "day-of-month: 32 is out of range 1-31"
"$bin/flowctl" cron next '0 0 * * *' --timezone Mars/Base >"$tmp/out" 2>&1
check "cron next: unknown zone exits 2" 2 $?
contains "the zone is named" "$tmp/out" "unknown time zone 'Mars/Base'"
"$bin/flowctl" cron next '0 0 * * *' --from yesterday >"$tmp/out" 2>&1
check "cron next: bad --from exits 2" 2 $?
contains "--from explained" "$tmp/out" "is not an RFC 3339 time"
"$bin/flowctl" cron next '0 0 * * *' -n 0 >"$tmp/out" 2>&1
check "cron next: -n 0 is bad usage" 2 $?

cat >"$tmp/bad-cron.yaml" <<'YAML'
apiVersion: flowd/v1
kind: Workflow
metadata: {name: bad-cron, version: 1}
spec:
  steps: []
  triggers:
    - cron: {schedule: "0 0 * * FUNDAY", timezone: Europe/Berlin}
    - cron: {schedule: "@daily", timezone: Mars/Base}
YAML
"$bin/flowctl" validate "$tmp/bad-cron.yaml" >"$tmp/out" 2>&1
check "validate refuses a bad cron trigger" 1 $?
contains "bad expression: file, line, column, field" "$tmp/out" \
  "bad-cron.yaml:7:24: spec.triggers[0].cron.schedule: day-of-week: unknown name 'FUNDAY'"
contains "bad zone named" "$tmp/out" \
  "spec.triggers[1].cron.timezone: unknown time zone 'Mars/Base'"

exit $fails
