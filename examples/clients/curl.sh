#!/usr/bin/env bash
# REST through the Envoy gateway with nothing but curl: create a run, stream its events until
# it ends, print its status, list its artifacts.
#
#   IDEAMINE_TOKEN=$JWT examples/clients/curl.sh [RUN_JSON]
#
# IDEAMINE_TOKEN    bearer JWT with the operator role (required; see docs/operations.md)
# IDEAMINE_GATEWAY  the gateway's base URL (default http://127.0.0.1:8080)
# RUN_JSON          a file with the run as JSON (proto field names, the body of POST /v1/runs);
#                   default: a small idea through the intake phase
#
# Exit codes: 0 the run succeeded · 1 it ended or stopped otherwise · 2 usage · 22 the gateway
# refused a request (its JSON error body is printed on stderr).
set -euo pipefail

: "${IDEAMINE_TOKEN:?set IDEAMINE_TOKEN to a bearer JWT (operator role)}"
GATEWAY="${IDEAMINE_GATEWAY:-http://127.0.0.1:8080}"
if [ $# -gt 1 ]; then
  echo "usage: $0 [RUN_JSON]" >&2
  exit 2
fi

if [ $# -eq 1 ]; then
  body="$(cat "$1")"
else
  body='{
    "title": "Flatmate groceries",
    "idea": "A shared grocery list for flatmates: anyone adds items from their phone, the person at the shop ticks them off, and the app splits the receipt between the people who asked for each item.",
    "constraints": {"budget_usd": 2000, "timeline": "4 weeks", "target_users": ["students sharing a flat"]},
    "requested_phases": ["PHASE_INTAKE"],
    "budget": {"max_usd": 1, "max_tokens": "200000", "max_wall_clock_seconds": "600"},
    "policy": "POLICY_AUTONOMOUS"
  }'
fi

api() {  # api METHOD PATH [curl args...]: one JSON call; the error body is printed on failure
  local method=$1 path=$2
  shift 2
  curl --silent --show-error --fail-with-body -X "$method" \
    -H "authorization: Bearer $IDEAMINE_TOKEN" -H "content-type: application/json" \
    "$@" "$GATEWAY$path"
}

call() {  # call METHOD PATH [curl args...]: api, its body captured; an error body goes to stderr
  local out rc=0
  out="$(api "$@")" || rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '%s\n' "$out" >&2
    return "$rc"
  fi
  printf '%s' "$out"
}

field() {  # field NAME: the first "NAME": "value" of the JSON on stdin
  grep -o "\"$1\": *\"[^\"]*\"" | head -n 1 | sed 's/.*: *"\(.*\)"/\1/'
}

# A request id makes the create idempotent: retrying this POST never makes a second run.
created="$(call POST "/v1/runs?request_id=curl-$(date +%s)-$$" --data "$body")"
run_id="$(printf '%s' "$created" | field id)"
echo "created run $run_id"

# WatchRun is a server stream; the gateway serves it as server-sent events ("data: {...}")
# and ends the response after the run's last event. While a run waits for a person (an
# answer, a waiver, a raised budget, a resume) the stream stays open for whoever acts, so
# the loop also stops at those events.
echo "events:"
exec 3< <(exec curl --silent --show-error --no-buffer -H "authorization: Bearer $IDEAMINE_TOKEN" \
  "$GATEWAY/v1/runs/$run_id:watch")
watcher=$!
while IFS= read -r line <&3; do
  case "$line" in
    "") continue ;;
    "data: "*) echo "  ${line#data: }" ;;
    *) echo "$line" >&2 ;;  # an error body instead of the stream
  esac
  case "$line" in
    *'"type":"run.awaiting_input"'* | *'"type":"run.needs_waiver"'* | \
      *'"type":"run.budget_exhausted"'* | *'"type":"run.paused"'*) break ;;
  esac
done
kill "$watcher" 2>/dev/null || true
exec 3<&-

status="$(call GET "/v1/runs/$run_id" | field status)"
echo "status: ${status#RUN_STATUS_}"

echo "artifacts:"
call GET "/v1/runs/$run_id/artifacts?omit_content=true" \
  | grep -o '"type": *"[^"]*"' | sed 's/.*: *"\(.*\)"/  \1/'

[ "$status" = "RUN_STATUS_SUCCEEDED" ]
