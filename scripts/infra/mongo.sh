#!/usr/bin/env bash
# MongoDB stand-in for development and CI: mongo-java-server (Java) with an oplog of our own, so that change
# streams work (see mongo/MongoStandIn.java for what it emulates and its settings).
#
#   mongo.sh install   fetch the jars (Maven) and compile the launcher into the cache
#   mongo.sh up        install if needed, start in the background, wait until a ping is answered
#   mongo.sh down      stop (SIGTERM: the data file is written and closed)
#   mongo.sh status    print running/stopped; exit 0 when running, 3 when not
#   mongo.sh url       print the connection string
#   mongo.sh reset     stop and delete the data (data file and oplog)
#
# Environment: MONGO_PORT (27017), MONGO_BACKEND (h2 | memory, default h2), MONGO_DATA_FILE (default
# .run/mongo/data.mv.db), MONGO_REPLICA_SET (rs0), MONGO_OPLOG_MAX_ENTRIES (0 = unlimited), MONGO_JAVA_OPTS,
# and the other MONGO_* settings that MongoStandIn.java lists.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

NAME=mongo
SRC_DIR="$ROOT_DIR/scripts/infra/mongo"
BUILD_DIR="$CACHE_DIR/mongo-standin"
MONGO_PORT="${MONGO_PORT:-27017}"
MONGO_REPLICA_SET="${MONGO_REPLICA_SET-rs0}"
export MONGO_REPLICA_SET

classpath() { printf '%s' "$BUILD_DIR/classes:$BUILD_DIR/lib/*"; }

# The build is keyed by the pom and the Java sources: a change to either rebuilds.
source_hash() {
  cat "$SRC_DIR/pom.xml" "$SRC_DIR"/*.java | sha256sum | cut -d' ' -f1
}

install() { one_install_at_a_time mongo install_now; }

install_now() {
  command -v java >/dev/null || die "java is not installed (Java 17 or newer is needed)"
  command -v javac >/dev/null || die "javac is not installed (a JDK 17 or newer is needed)"
  local hash; hash="$(source_hash)"
  if [[ -f "$BUILD_DIR/stamp" && "$(cat "$BUILD_DIR/stamp")" == "$hash" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn is not installed (Maven fetches the stand-in's jars)"
  log "installing the MongoDB stand-in into $BUILD_DIR"
  rm -rf "$BUILD_DIR"
  mkdir -p "$BUILD_DIR"
  local out
  if ! out="$(mvn -B -q -f "$SRC_DIR/pom.xml" -Dmaven.repo.local="$CACHE_DIR/m2" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$BUILD_DIR/lib" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "Maven could not fetch the stand-in's jars"
  fi
  verify_checksums "$SRC_DIR/jars.sha256" "$BUILD_DIR/lib" || { rm -rf "$BUILD_DIR"; die "the stand-in's jars are not installed"; }
  javac -encoding UTF-8 -nowarn -d "$BUILD_DIR/classes" -cp "$BUILD_DIR/lib/*" "$SRC_DIR"/*.java
  printf '%s\n' "$hash" >"$BUILD_DIR/stamp"
}

ping_ok() {
  java -cp "$(classpath)" MongoStandIn ping "$INFRA_HOST" "$MONGO_PORT" 2>/dev/null
}

url() {
  local query="directConnection=true"
  [[ -n "$MONGO_REPLICA_SET" ]] && query="replicaSet=$MONGO_REPLICA_SET"
  printf 'mongodb://%s:%s/?%s\n' "$INFRA_HOST" "$MONGO_PORT" "$query"
}

up() {
  install
  if is_running "$NAME"; then
    ping_ok || die "$NAME is running but does not answer on port $MONGO_PORT (log: $RUN_DIR/$NAME/$NAME.log)"
    log "$NAME already running on port $MONGO_PORT"
    return 0
  fi
  local dir; dir="$(component_dir "$NAME")"
  local data_file="${MONGO_DATA_FILE:-$dir/data.mv.db}"
  [[ "${MONGO_BACKEND:-h2}" == "memory" ]] && data_file=""
  local java_opts=()
  # shellcheck disable=SC2206 # word splitting of the options is wanted
  java_opts=(${MONGO_JAVA_OPTS:-})
  log "starting $NAME on $INFRA_HOST:$MONGO_PORT (backend ${MONGO_BACKEND:-h2}${data_file:+, data in $data_file})"
  start_bg "$NAME" java "${java_opts[@]}" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    -cp "$(classpath)" MongoStandIn "$INFRA_HOST" "$MONGO_PORT" "$data_file"
  wait_port "$MONGO_PORT" 60 "$NAME"
  local start=$SECONDS
  until ping_ok; do
    is_running "$NAME" || die "$NAME exited (log: $dir/$NAME.log)"
    (( SECONDS - start > 60 )) && die "$NAME does not answer a ping (log: $dir/$NAME.log)"
    sleep 0.2
  done
  log "$NAME ready: $(url)"
}

down() {
  if is_running "$NAME"; then
    log "stopping $NAME"
  fi
  stop_bg "$NAME" TERM
}

status() {
  if is_running "$NAME" && [[ -f "$BUILD_DIR/stamp" ]] && ping_ok; then
    echo "running ($(url))"
    return 0
  fi
  echo "stopped"
  return 3
}

reset() {
  down
  rm -f "${MONGO_DATA_FILE:-$RUN_DIR/$NAME/data.mv.db}"
  log "$NAME data deleted"
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  url) url ;;
  reset) reset ;;
  *) echo "usage: $0 install|up|down|status|url|reset" >&2; exit 2 ;;
esac
