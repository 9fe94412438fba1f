#!/usr/bin/env bash
# flowctl against flowd's HTTP API, as users call it: a test server hosting the API routes, the
# event store and a durable runner (flowd_api_test_server, on a fresh database), flowctl with
# --server / FLOWD_SERVER, tables and --output json, errors (code, message, hint), an unreachable
# server, the bearer token, --database giving the same JSON, and `flowctl trigger` to an
# embedded broker.
set -uo pipefail
bin=$1
root=$2
fails=0
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

check() {  # name expected-exit actual-exit
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: exit $3, expected $2"; cat "$tmp/out" "$tmp/err" 2>/dev/null
    fails=$((fails + 1))
  else
    echo "ok: $1"
  fi
}
contains() {  # name file text
  if grep -qF -- "$3" "$2"; then echo "ok: $1"; else
    echo "FAIL: $1: '$3' not in output:"; cat "$2"; fails=$((fails + 1)); fi
}
json() {  # python expression over `d` (the JSON in $tmp/out); prints its value
  python3 -c "import json,sys; d=json.load(open('$tmp/out')); print($1)"
}
start_server() {  # url-file [args...]
  local file=$1; shift
  "$bin/flowd_api_test_server" --url-file "$file" "$@" >"$tmp/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do [ -s "$file" ] && return 0; sleep 0.1; done
  echo "FAIL: the test server did not start"; cat "$tmp/server.log"; exit 1
}
wait_status() {  # id status
  for _ in $(seq 1 600); do
    "$bin/flowctl" executions get "$1" -o json >"$tmp/out" 2>"$tmp/err"
    [ "$(json "d['status']" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

unset FLOWD_DATABASE_URL FLOWD_TOKEN
start_server "$tmp/url" --database-file "$tmp/db" --broker-file "$tmp/broker"
export FLOWD_SERVER=$(cat "$tmp/url")

cat >"$tmp/greet.yaml" <<'YAML'
apiVersion: flowd/v1
kind: Workflow
metadata: {name: greet, version: 1, description: Says hello}
spec:
  input: {type: object, required: [name], properties: {name: {type: string}}}
  steps:
    - {id: hello, type: transform, with: {greeting: "hello {{ input.name }}"}}
  output: {greeting: "{{ steps.hello.output.greeting }}"}
YAML
cat >"$tmp/slow.yaml" <<'YAML'
apiVersion: flowd/v1
kind: Workflow
metadata: {name: slow, version: 1}
spec:
  steps:
    - {id: wait, type: sleep, with: {duration: 1h}}
YAML

"$bin/flowctl" workflows apply "$tmp/greet.yaml" "$tmp/slow.yaml" >"$tmp/out" 2>"$tmp/err"
check "workflows apply" 0 $?
contains "apply says stored" "$tmp/out" "greet@1 stored"
"$bin/flowctl" workflows apply "$tmp/greet.yaml" >"$tmp/out" 2>"$tmp/err"
contains "apply again is unchanged" "$tmp/out" "greet@1 unchanged"
"$bin/flowctl" workflows list >"$tmp/out" 2>"$tmp/err"
check "workflows list" 0 $?
contains "list has a header" "$tmp/out" "LATEST"
contains "list shows the description" "$tmp/out" "Says hello"
"$bin/flowctl" workflows get greet -o json >"$tmp/out" 2>"$tmp/err"
check "workflows get" 0 $?
[ "$(json "d['versions'][0]['version']")" = 1 ] && echo "ok: get lists versions" ||
  { echo "FAIL: get lists versions"; fails=$((fails + 1)); }

"$bin/flowctl" executions start greet --input '{"name":"ada"}' -o json >"$tmp/out" 2>"$tmp/err"
check "executions start" 0 $?
id=$(json "d['id']")
wait_status "$id" completed; check "execution completes" 0 $?
[ "$(json "d['output']['greeting']")" = "hello ada" ] && echo "ok: output over the API" ||
  { echo "FAIL: output over the API"; fails=$((fails + 1)); }
"$bin/flowctl" executions get "$id" >"$tmp/out" 2>"$tmp/err"
contains "get shows a step table" "$tmp/out" "hello"
contains "get shows the status" "$tmp/out" "completed"
"$bin/flowctl" executions events "$id" >"$tmp/out" 2>"$tmp/err"
check "executions events" 0 $?
contains "events end with completion" "$tmp/out" "ExecutionCompleted"
"$bin/flowctl" executions events "$id" --follow >"$tmp/out" 2>"$tmp/err"
check "events --follow of an ended execution" 0 $?
contains "follow reports the end" "$tmp/out" "execution ended: completed"
"$bin/flowctl" executions list --workflow greet -o json >"$tmp/out" 2>"$tmp/err"
check "executions list" 0 $?
[ "$(json "len(d['items'])")" = 1 ] && echo "ok: list filters by workflow" ||
  { echo "FAIL: list filters by workflow"; fails=$((fails + 1)); }
cp "$tmp/out" "$tmp/list-http.json"
"$bin/flowctl" executions list --workflow greet -o json --database "$(cat "$tmp/db")" \
  >"$tmp/out" 2>"$tmp/err"
check "executions list --database" 0 $?
cmp -s "$tmp/out" "$tmp/list-http.json" && echo "ok: direct mode gives the same JSON" ||
  { echo "FAIL: direct mode JSON differs"; diff "$tmp/out" "$tmp/list-http.json"; fails=$((fails + 1)); }
# A sub-workflow child's id (<parent>.<step>.<attempt>) is longer than a UUID: the table's
# columns still line up (every row's WORKFLOW cell starts under the header's).
cat >"$tmp/parent.yaml" <<'YAML'
apiVersion: flowd/v1
kind: Workflow
metadata: {name: parent, version: 1}
spec:
  steps:
    - {id: call-greet-with-a-long-step-name, type: workflow, with: {ref: greet, input: {name: kid}}}
YAML
"$bin/flowctl" workflows apply "$tmp/parent.yaml" >"$tmp/out" 2>"$tmp/err"
"$bin/flowctl" executions start parent -o json >"$tmp/out" 2>"$tmp/err"
parent_id=$(json "d['id']")
wait_status "$parent_id" completed; check "parent with a child completes" 0 $?
"$bin/flowctl" executions list >"$tmp/table" 2>"$tmp/err"
check "executions list (table)" 0 $?
contains "the child is listed" "$tmp/table" "$parent_id.call-greet-with-a-long-step-name.1"
python3 - "$tmp/table" <<'PY' && echo "ok: list columns line up" || { echo "FAIL: list columns"; cat "$tmp/table"; fails=$((fails + 1)); }
import sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l and not l.startswith("more:")]
col = lines[0].index("WORKFLOW")
sys.exit(0 if all(l[col - 2:col] == "  " and l[col] != " " for l in lines[1:]) else 1)
PY

"$bin/flowctl" executions replay "$id" --at 1 >"$tmp/out" 2>"$tmp/err"
check "replay --at 1" 0 $?
contains "replay shows the timeline" "$tmp/out" "ExecutionStarted"
"$bin/flowctl" executions rerun "$id" >"$tmp/out" 2>"$tmp/err"
check "rerun" 0 $?
contains "rerun links the original" "$tmp/out" "rerun of $id"

# Errors: code, message and hint; exit 2 for bad input, 1 otherwise.
"$bin/flowctl" executions start greet --input '{"nom":"x"}' >"$tmp/out" 2>"$tmp/err"
check "invalid input exits 2" 2 $?
contains "invalid input names the code" "$tmp/err" "INVALID_INPUT"
contains "invalid input has a hint" "$tmp/err" "hint:"
contains "invalid input lists the problem" "$tmp/err" "name"
"$bin/flowctl" executions start nope >"$tmp/out" 2>"$tmp/err"
check "unknown workflow exits 1" 1 $?
contains "unknown workflow is NOT_FOUND" "$tmp/err" "NOT_FOUND"
contains "errors carry the request id" "$tmp/err" "request id:"
"$bin/flowctl" executions get 00000000-0000-4000-8000-000000000000 -o json >"$tmp/out" 2>"$tmp/err"
check "unknown execution exits 1" 1 $?
[ "$(json "d['error']['code']")" = NOT_FOUND ] && echo "ok: json errors on stdout" ||
  { echo "FAIL: json errors on stdout"; fails=$((fails + 1)); }
"$bin/flowctl" workflows list --server http://127.0.0.1:1 >"$tmp/out" 2>"$tmp/err"
check "unreachable server exits 1" 1 $?
contains "unreachable names the URL" "$tmp/err" "cannot reach flowd at http://127.0.0.1:1"

# Control: cancel a running execution, then a second cancel is a conflict.
"$bin/flowctl" executions start slow -o json >"$tmp/out" 2>"$tmp/err"
slow=$(json "d['id']")
wait_status "$slow" running; check "slow execution runs" 0 $?
"$bin/flowctl" executions pause "$slow" --reason test >"$tmp/out" 2>"$tmp/err"
check "pause" 0 $?
contains "pause requested" "$tmp/out" "pause requested for $slow"
"$bin/flowctl" executions cancel "$slow" >"$tmp/out" 2>"$tmp/err"
check "cancel" 0 $?
{ wait_status "$slow" cancelled || wait_status "$slow" failed; }; check "execution ends on cancel" 0 $?
"$bin/flowctl" executions cancel "$slow" >"$tmp/out" 2>"$tmp/err"
check "cancel of an ended execution exits 1" 1 $?
contains "ended execution is a CONFLICT" "$tmp/err" "CONFLICT"
"$bin/flowctl" admin retention --older-than 30d --dry-run >"$tmp/out" 2>"$tmp/err"
check "admin retention --dry-run" 0 $?
contains "retention counts" "$tmp/out" "would remove 0 executions"

# trigger: to the embedded broker found through its address file.
FLOWD_KAFKA_BOOTSTRAP_FILE="$tmp/broker" "$bin/flowctl" trigger greet --input '{"name":"kafka"}' \
  --id evt-1 >"$tmp/out" 2>"$tmp/err"
check "trigger" 0 $?
contains "trigger says where it landed" "$tmp/out" "to flowd.triggers partition"
FLOWD_KAFKA_BOOTSTRAP_FILE="$tmp/broker" "$bin/flowctl" trigger greet --input '{"name":"k"}' \
  -o json >"$tmp/out" 2>"$tmp/err"
[ "$(json "d['offset'] >= 0 and d['envelope']['workflow'] == 'greet'")" = True ] &&
  echo "ok: trigger JSON" || { echo "FAIL: trigger JSON"; cat "$tmp/out"; fails=$((fails + 1)); }
FLOWD_KAFKA_BOOTSTRAP_FILE="$tmp/none" "$bin/flowctl" trigger greet >"$tmp/out" 2>"$tmp/err"
check "trigger without brokers exits 2" 2 $?
contains "trigger says how to name brokers" "$tmp/err" "--brokers"

# Bearer token.
start_server "$tmp/url2" --token s3cret
secured=$(cat "$tmp/url2")
"$bin/flowctl" workflows list --server "$secured" >"$tmp/out" 2>"$tmp/err"
check "no token exits 1" 1 $?
contains "no token is UNAUTHORIZED" "$tmp/err" "UNAUTHORIZED"
FLOWD_TOKEN=s3cret "$bin/flowctl" workflows list --server "$secured" >"$tmp/out" 2>"$tmp/err"
check "FLOWD_TOKEN" 0 $?
"$bin/flowctl" workflows list --server "$secured" --token s3cret >"$tmp/out" 2>"$tmp/err"
check "--token" 0 $?

echo "$fails failure(s)"
[ "$fails" = 0 ]
