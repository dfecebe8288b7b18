#!/usr/bin/env bash
# The API contract test. Starts the service on a throw-away in-memory embedded database, validates its OpenAPI
# document, then runs schemathesis with every check against every documented operation, once with an admin's token
# and once with a plain user's. Exits non-zero on an invalid document or on any schemathesis failure or error.
#
#   scripts/contract/run.sh
#   CONTRACT_EXAMPLES=200 CONTRACT_SEED=1234 scripts/contract/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

contract=scripts/contract
venv=.contract/venv
examples=${CONTRACT_EXAMPLES:-100}
work=$(mktemp -d)
pids=()

# The service first, then the database it uses.
stop_everything() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop_everything EXIT

fail() {
  echo "contract: $*" >&2
  for log in "$work"/*.log; do
    [ -s "$log" ] && { echo "--- $log" >&2; tail -n 40 "$log" >&2; }
  done
  exit 1
}

# Waits up to 60 s for a command to succeed, as long as the process it waits on ($1) lives.
wait_for() {
  local pid=$1
  shift
  for _ in $(seq 600); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || fail "process $pid exited before: $*"
    sleep 0.1
  done
  fail "timed out waiting for: $*"
}

echo "contract: Python tools in $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$contract/requirements.txt"

npm run build --silent

node dist/scripts/embedded-db.js --memory >"$work/db.out" 2>"$work/db.log" &
pids+=($!)
wait_for "${pids[0]}" grep -q '^MONGODB_URI=' "$work/db.out"

random() { node -e "process.stdout.write(require('node:crypto').randomBytes($1).toString('base64url'))"; }
MONGODB_URI=$(sed -n 's/^MONGODB_URI=//p' "$work/db.out")
JWT_SECRET=$(random 48)
METRICS_TOKEN=$(random 24)
PORT=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export NODE_ENV=test LOG_LEVEL=warn DOCS_ENABLED=true MONGODB_URI JWT_SECRET METRICS_TOKEN PORT
export HYPOTHESIS_STORAGE_DIRECTORY=.contract/hypothesis
base=http://127.0.0.1:$PORT

node dist/src/main.js >"$work/service.log" 2>&1 &
pids+=($!)

admin=contract-admin@contract.test
user=contract-user@contract.test
cli() { node dist/src/cli.js "$@" >>"$work/cli.log" 2>&1 || fail "cli $* failed"; }
cli users create "$admin" --tier premium --admin
cli users create "$user" --tier premium
# A member with a ledger and grants (one expiring, spent first), so the user's credit and ledger operations answer
# more than empty defaults: an active grant with `expires_at` and one without, and a `next_expiry` that is not null.
cli beta enroll "$user" --credits 300
cli beta grant "$user" 25 --reason "contract goodwill"
cli beta grant "$user" 40 --reason "contract expiring" --expires 30d --priority 0
cli beta adjust "$user" 10 --reason "contract adjustment"
# Channels, one of them offline, so the channel list answers more than an empty page.
cli channels create contract-news --name "Contract News" --languages en,es --source he
cli channels create contract-sports --name "Contract Sports" --languages en --source es
cli channels create contract-offline --name "Contract Offline" --languages en --offline
admin_token=$(node dist/src/cli.js auth token "$admin" --ttl 1h)
user_token=$(node dist/src/cli.js auth token "$user" --ttl 1h)

fetch_document() { "$venv/bin/python" -c 'import sys, urllib.request; open(sys.argv[2], "wb").write(urllib.request.urlopen(sys.argv[1], timeout=5).read())' "$base/docs-json" "$work/openapi.json" 2>/dev/null; }
wait_for "${pids[1]}" fetch_document
echo "contract: openapi-spec-validator"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

# Each run's report goes to its own file, and only its count of test cases to the terminal (the whole report when
# it fails): the report ends in a pytest-style line that log readers could take for the end of the project's tests.
reports=test-results/contract
mkdir -p "$reports"
status=0
for who in admin user; do
  token_variable=${who}_token
  report="$reports/schemathesis-$who.txt"
  echo "contract: schemathesis as the $who ($examples examples per operation), report in $report"
  if CONTRACT_TOKEN=${!token_variable} "$venv/bin/schemathesis" --config-file "$contract/schemathesis.toml" run "$base/docs-json" \
    --checks all --max-examples "$examples" ${CONTRACT_SEED:+--seed "$CONTRACT_SEED"} >"$report" 2>&1; then
    echo "contract: as the $who: $(grep -A1 '^Test cases:' "$report" | tail -n 1 | sed 's/^ *//')"
  else
    cat "$report"
    status=1
  fi
done
[ "$status" -eq 0 ] || fail "schemathesis found failures (above)"
echo "contract: passed"
