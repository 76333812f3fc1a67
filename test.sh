#!/usr/bin/env bash
# End-to-end check of a running pipeline: inserts one order into MongoDB, waits until it is in the BigQuery
# current-state table, then saves one log file per service of this project under logs/<timestamp>/.
# Exit code 0 = the order arrived in time, 1 = it did not (or a step failed).
#
#   ./test.sh [--local | --compose] [--timeout SECONDS] [FILE]
#
#   FILE       an order in MongoDB Extended JSON (default data-samples/order-2.json); it is inserted with a new
#              _id each run, so the test can be repeated
#   --compose  the docker compose deployment (./deploy.sh): mongosh inside the mongo container, the query through
#              the analysis-tool container
#   --local    the local process stack (./deploy.sh --local, scripts/stack.sh): node and the mongodb driver,
#              the analysis tool as a process
#   neither    whichever is running (compose first)
#   --timeout  how long to wait for the order in BigQuery (default 180 s, or TEST_TIMEOUT)
# The collection is the first of CDC_COLLECTIONS; the table BQ_CURRENT_TABLE of BQ_DATASET (.env / .env.example).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/dotenv.sh
source "$ROOT_DIR/scripts/lib/dotenv.sh"
# shellcheck source=scripts/lib/compose.sh
source "$ROOT_DIR/scripts/lib/compose.sh"
# shellcheck source=scripts/lib/node.sh
source "$ROOT_DIR/scripts/lib/node.sh"

mode=""; timeout="${TEST_TIMEOUT:-180}"; file="$ROOT_DIR/data-samples/order-2.json"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --local) mode=local ;;
    --compose) mode=compose ;;
    --timeout) timeout="${2:?--timeout needs a value}"; shift ;;
    --timeout=*) timeout="${1#*=}" ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) file="$1" ;;
  esac
  shift
done
[[ -f "$file" ]] || { echo "no such file: $file" >&2; exit 2; }
[[ "$timeout" =~ ^[0-9]+$ ]] || { echo "--timeout must be a number of seconds" >&2; exit 2; }

say() { printf '[test] %s\n' "$*" >&2; }
fail() { printf '[test] FAIL: %s\n' "$*" >&2; }

dotenv_load "$ROOT_DIR/.env.example"
dotenv_load "$ROOT_DIR/.env"
compose_init

if [[ -z "$mode" ]]; then
  if compose_running; then mode=compose
  elif bash "$ROOT_DIR/scripts/stack.sh" status >/dev/null 2>&1; then mode=local
  else
    echo "no running pipeline found: start one with ./deploy.sh (docker compose) or ./deploy.sh --local" >&2
    exit 1
  fi
fi

namespace="$(dotenv_get CDC_COLLECTIONS shop.orders)"; namespace="${namespace%%,*}"; namespace="${namespace// /}"
db="${namespace%%.*}"; coll="${namespace#*.}"
dataset="$(dotenv_get BQ_DATASET cdc)"; table="$(dotenv_get BQ_CURRENT_TABLE orders_current)"
if [[ "$mode" == local ]]; then project="${BIGQUERY_PROJECT:-local-project}"
elif [[ "$GCP_TARGET" == emulators ]]; then project="$GCP_PROJECT"
else project="$(dotenv_get GCP_PROJECT)"; fi
# a fresh ObjectId: 4 bytes of seconds, 8 random bytes
id="$(printf '%08x' "$(date +%s)")$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')"
sql="SELECT document_id, op, cluster_time FROM \`$project.$dataset.$table\` WHERE document_id LIKE '%$id%'"

if [[ "$mode" == compose ]]; then console_host="$(dotenv_get BIND_ADDRESS 127.0.0.1)"; else console_host=127.0.0.1; fi
console_url="http://$console_host:$(dotenv_get CONSOLE_HTTP_PORT 8084)/"
# the collection's line of the console's state (phase, freshness, events published, rows written)
console_collection() {
  curl -fsS --max-time 5 "${console_url}api/state" 2>/dev/null | grep -o "\"name\":\"$db\.$coll\"[^}]*" || true
}

say "mode $mode: inserting $(basename "$file") into $db.$coll with _id $id (watch it on the console: $console_url)"
console_before="$(console_collection)"
started=$SECONDS
insert_js="
const doc = EJSON.parse(require('fs').readFileSync(FILE, 'utf8'), { relaxed: false });
doc._id = new ObjectId('$id');
const result = db.getSiblingDB('$db').getCollection('$coll').insertOne(doc);
print('inserted ' + result.insertedId);"

insert_compose() {
  compose exec -T mongo sh -c 'cat > /tmp/cdc-test-order.json' <"$file"
  # credentials and replica-set name come from the container's own environment, never from a command line:
  # the script authenticates inside --eval (mongosh -u/-p would show the password in ps)
  # shellcheck disable=SC2016 # expanded by the container's shell
  compose exec -T mongo sh -c 'exec mongosh --quiet --norc "mongodb://localhost:27017/?replicaSet=${MONGO_REPLICA_SET:-rs0}" --eval "$1"' \
    mongosh "const user = process.env.MONGO_INITDB_ROOT_USERNAME;
if (user) db.getSiblingDB('admin').auth(user, process.env.MONGO_INITDB_ROOT_PASSWORD);
const FILE = '/tmp/cdc-test-order.json';$insert_js"
}

insert_local() {
  use_project_node
  local uri; uri="$(bash "$ROOT_DIR/scripts/infra/mongo.sh" url)"
  # shellcheck disable=SC2016 # JavaScript
  (cd "$ROOT_DIR" && node -e '
    const [uri, file, id, dbName, collName] = process.argv.slice(1);
    const { MongoClient, ObjectId } = require("mongodb");
    const { EJSON } = require("bson");
    (async () => {
      const doc = EJSON.parse(require("fs").readFileSync(file, "utf8"), { relaxed: false });
      doc._id = new ObjectId(id);
      const client = new MongoClient(uri, { serverSelectionTimeoutMS: 15000 });
      try {
        const result = await client.db(dbName).collection(collName).insertOne(doc);
        console.log(`inserted ${result.insertedId}`);
      } finally {
        await client.close();
      }
    })().catch((error) => { console.error(error.message); process.exit(1); });
  ' "$uri" "$file" "$id" "$db" "$coll")
}

analysis() {
  if [[ "$mode" == compose ]]; then
    local flags=(--json)
    [[ "$GCP_TARGET" == emulators ]] || flags+=(--gcp)
    compose run --rm --no-deps -T analysis-tool "${flags[@]}" "$@"
  else
    bash "$ROOT_DIR/scripts/stack.sh" run analysis-tool --json "$@"
  fi
}
query() { analysis --query "$sql"; }
# the order through the collection's typed view (the loader extends it right after the MERGE)
typed_order() { analysis --collection "$coll" --query "\\order $id"; }

save_logs() {
  local dir; dir="$ROOT_DIR/logs/$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$dir"
  if [[ "$mode" == compose ]]; then
    local service
    while IFS= read -r service; do
      [[ -n "$service" ]] || continue
      compose logs --no-color --timestamps "$service" >"$dir/$service.log" 2>&1 || true
    done < <(compose ps -a --services 2>/dev/null)
  else
    local f
    for f in "${CDC_RUN_DIR:-$ROOT_DIR/.run}"/stack/*.log; do
      [[ -f "$f" ]] && cp "$f" "$dir/"
    done
  fi
  say "logs: ${dir#"$ROOT_DIR"/} ($(find "$dir" -type f | wc -l) files)"
}

result=1
if ! out="$(if [[ "$mode" == compose ]]; then insert_compose; else insert_local; fi 2>&1)"; then
  printf '%s\n' "$out" >&2
  fail "could not insert the order into MongoDB"
else
  say "$out; waiting up to ${timeout}s for it in $project.$dataset.$table"
  last=""
  while (( SECONDS - started <= timeout )); do
    if last="$(query 2>&1)" && [[ "$last" == *"$id"* ]]; then
      result=0
      break
    fi
    sleep 3
  done
  if (( result == 0 )); then
    say "PASS: order $id is in $project.$dataset.$table after $((SECONDS - started))s (console: $console_url)"
    result=1
    while (( SECONDS - started <= timeout )); do
      if last="$(typed_order 2>&1)" && [[ "$last" == *"\"_id\": \"$id\""* ]]; then
        result=0
        break
      fi
      sleep 3
    done
    if (( result == 0 )); then
      say "PASS: typed view of $coll: $(printf '%s' "$last" | tr -s ' \n' ' ' | cut -c1-400)"
      # the console reads the services every CONSOLE_POLL_INTERVAL_MS: the collection's rows written grow there
      # and its freshness is known
      rows_written() { grep -o '"rowsWritten":[0-9]*' <<<"$1" || true; }
      console_shows() {
        [[ -n "$console_after" && "$(rows_written "$console_after")" != "$(rows_written "$console_before")" \
          && "$console_after" == *'"freshnessSeconds":'[0-9]* ]]
      }
      console_after="$(console_collection)"
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        console_shows && break
        sleep 2; console_after="$(console_collection)"
      done
      if console_shows; then
        say "console $console_url shows the change: $console_after"
      else
        say "WARNING: the console at $console_url did not show a change of $db.$coll (is it running?)"
      fi
    else
      printf '%s\n' "$last" | tail -n 20 >&2
      fail "order $id not in the typed view of $coll within ${timeout}s (last output above)"
    fi
  else
    printf '%s\n' "$last" | tail -n 20 >&2
    fail "order $id not in $project.$dataset.$table within ${timeout}s (last query output above)"
  fi
fi
save_logs
exit "$result"
