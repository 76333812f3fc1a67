#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, broker+controller in one JVM) on the loopback interface.
#
#   kafka.sh install   resolve the broker jars from Maven Central into the cache (idempotent)
#   kafka.sh up        install if needed, format storage once, start, wait until the broker answers
#   kafka.sh down      stop (SIGTERM, clean shutdown; SIGKILL after KAFKA_STOP_TIMEOUT seconds)
#   kafka.sh status    print running/stopped; exit 0 when running, 3 when stopped
#   kafka.sh add-user NAME   add (or change) a SCRAM-SHA-512 user of the secured listener; password on stdin
#   kafka.sh acl ARGS...     Kafka's ACL tool (kafka-acls.sh) against the broker, e.g. --add --allow-principal ...
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_VERSION, KAFKA_HEAP_OPTS,
# KAFKA_LOG_LEVEL (INFO), KAFKA_START_TIMEOUT (120 s), KAFKA_STOP_TIMEOUT (30 s).
# KAFKA_SASL_SSL_PORT (unset: none): a second listener, SASL_SSL with SCRAM-SHA-512, on that port, with a
# certificate from a CA made on first use (.run/kafka/tls/ca.pem: what clients trust) and ACLs enforced for its
# users (the PLAINTEXT listener is unaffected). Tests of secured connections use it.
# KAFKA_SERVER_PROPERTIES (unset: none): further server.properties lines, appended (they win), e.g. a test broker's
# log.retention.check.interval.ms=1000.
# Data lives in .run/kafka/data and survives down/up (and a killed broker); delete it to start empty
# (also needed before going back to an older KAFKA_VERSION: storage is formatted at the newest
# metadata.version of the release that formatted it).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$SCRIPT_DIR/lib.sh"

NAME=kafka
# Kafka 4.4.0 (newest release when chosen); the services' client (librdkafka) negotiates protocol versions and
# uses the classic consumer-group protocol, which 4.x keeps.
# KAFKA_LOG4J_VERSION is the log4j2 slf4j binding added to the broker jars; as a direct dependency it also
# decides the log4j-api/core versions, so keep it at (or above) what kafka-server itself asks for.
KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_LOG4J_VERSION="${KAFKA_LOG4J_VERSION:-2.25.5}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
KAFKA_LOG_LEVEL="${KAFKA_LOG_LEVEL:-INFO}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-}"

TEMPLATE_DIR="$SCRIPT_DIR/kafka"
INSTALL_DIR="$CACHE_DIR/kafka/$KAFKA_VERSION"
LIB_DIR="$INSTALL_DIR/libs"
CLASSES_DIR="$INSTALL_DIR/classes"
LOG4J_CONFIG="$TEMPLATE_DIR/log4j2.properties"

# What an install depends on: a change to any of these re-runs it.
install_stamp() {
  { printf '%s %s\n' "$KAFKA_VERSION" "$KAFKA_LOG4J_VERSION"
    cat "$TEMPLATE_DIR/pom.xml" "$TEMPLATE_DIR/KafkaReady.java"; } | sha256sum | cut -d' ' -f1
}

require_java() {
  command -v java >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
  local spec
  spec="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  if ! [[ "${spec%%.*}" =~ ^[0-9]+$ ]] || (( ${spec%%.*} < 17 )); then
    die "Kafka $KAFKA_VERSION needs Java 17+, found java.specification.version=${spec:-unknown}"
  fi
}

cmd_install() { one_install_at_a_time kafka install_now; }

install_now() {
  local stamp
  stamp="$(install_stamp)"
  if [[ -f "$INSTALL_DIR/.installed" && "$(cat "$INSTALL_DIR/.installed")" == "$stamp" ]]; then
    return 0
  fi
  require_java
  command -v mvn >/dev/null || die "mvn not found (needed to fetch the Kafka jars)"
  command -v javac >/dev/null || die "javac not found (a JDK is needed for the readiness probe)"
  log "installing Kafka $KAFKA_VERSION jars from Maven Central"
  local tmp="$INSTALL_DIR.tmp.$$" start=$SECONDS
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mvn -q -B -f "$TEMPLATE_DIR/pom.xml" \
    -Dmaven.repo.local="$CACHE_DIR/m2" \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$KAFKA_LOG4J_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp/libs" \
    >"$tmp/mvn.log" 2>&1 || {
      cat "$tmp/mvn.log" >&2
      rm -rf "$tmp"
      die "mvn could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION"
    }
  rm -f "$tmp/mvn.log"
  verify_checksums "$TEMPLATE_DIR/jars-$KAFKA_VERSION.sha256" "$tmp/libs" || { rm -rf "$tmp"; die "Kafka $KAFKA_VERSION jars not installed"; }
  javac -encoding UTF-8 -nowarn -d "$tmp/classes" -cp "$tmp/libs/*" "$TEMPLATE_DIR/KafkaReady.java" \
    || { rm -rf "$tmp"; die "could not compile the readiness probe"; }
  printf '%s\n' "$stamp" >"$tmp/.installed"
  rm -rf "$INSTALL_DIR"
  mv "$tmp" "$INSTALL_DIR"
  log "Kafka $KAFKA_VERSION installed in $((SECONDS - start))s" \
    "($(find "$LIB_DIR" -name '*.jar' | wc -l) jars)"
}

port_open() { (exec 3<>"/dev/tcp/$INFRA_HOST/$1") 2>/dev/null; }

# make_tls DIR: a CA and a broker certificate it signs (for 127.0.0.1 and localhost), made once. Kafka reads the
# unencrypted key and the chain from one PEM file, so no keystore password exists.
make_tls() {
  local tls="$1/tls"
  [[ -f "$tls/broker-keystore.pem" ]] && return 0
  mkdir -p "$tls"
  (
    cd "$tls"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=cdc local test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=$INFRA_HOST" 2>/dev/null
    printf 'subjectAltName=IP:%s,DNS:localhost\n' "$INFRA_HOST" >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -extfile broker.ext \
      -out broker.pem 2>/dev/null
    cat broker.key broker.pem ca.pem >broker-keystore.tmp
    mv broker-keystore.tmp broker-keystore.pem
  ) || die "could not make the TLS certificates in $tls"
  chmod 644 "$tls/ca.pem"
  log "made a test CA and broker certificate in $tls"
}

render_config() {
  local dir="$1" secured=""
  [[ -n "$KAFKA_SASL_SSL_PORT" ]] && secured=",SASL_SSL://$INFRA_HOST:$KAFKA_SASL_SSL_PORT"
  sed -e "s|@HOST@|$INFRA_HOST|g" \
      -e "s|@PORT@|$KAFKA_PORT|g" \
      -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@SASL_SSL_LISTENER@|$secured|g" \
      -e "s|@DATA_DIR@|$dir/data|g" \
      "$TEMPLATE_DIR/server.properties.template" >"$dir/server.properties"
  if [[ -n "$KAFKA_SASL_SSL_PORT" ]]; then
    make_tls "$dir"
    sed -e "s|@TLS_DIR@|$dir/tls|g" "$TEMPLATE_DIR/sasl-ssl.properties.template" >>"$dir/server.properties"
  fi
  if [[ -n "${KAFKA_SERVER_PROPERTIES:-}" ]]; then
    printf '%s\n' "$KAFKA_SERVER_PROPERTIES" >>"$dir/server.properties"
  fi
}

# Format the KRaft storage once; later starts reuse the data (topics, offsets, transactions).
format_storage() {
  local dir="$1"
  [[ -f "$dir/data/meta.properties" ]] && return 0
  local cluster_id
  # a Kafka cluster id is 16 random bytes in URL-safe base64 without padding; one starting with '-' is drawn again
  # (the tool would take it for an option; Kafka's own Uuid.randomUuid does the same)
  cluster_id=-
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  log "formatting Kafka storage in $dir/data (cluster id $cluster_id)"
  mkdir -p "$dir/data"
  java -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.log.level=WARN -cp "$LIB_DIR/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" --ignore-formatted \
    >>"$dir/$NAME.log" 2>&1 || { tail -n 20 "$dir/$NAME.log" >&2; die "kafka storage format failed"; }
}

# probe TIMEOUT_S: the broker answers metadata requests and its coordinators are up.
# Exit status 0 ready, 1 timeout, 2 broker process gone.
probe() {
  local timeout="$1" pid rc=0
  pid="$(cat "$RUN_DIR/$NAME/pid")"
  # only the client jar on the class path (no log4j: slf4j falls back to its no-op logger) and a
  # client-style JIT keep the probe's own start-up around a second on a small machine
  local probe_cp=("$CLASSES_DIR" "$LIB_DIR/kafka-clients-$KAFKA_VERSION.jar" "$LIB_DIR"/slf4j-api-*.jar)
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$(IFS=:; echo "${probe_cp[*]}")" \
    KafkaReady "$INFRA_HOST:$KAFKA_PORT" "$timeout" "$pid" >>"$RUN_DIR/$NAME/ready.log" 2>&1 || rc=$?
  return "$rc"
}

die_with_logs() {
  tail -n 5 "$RUN_DIR/$NAME/ready.log" >&2 || true
  tail -n 30 "$RUN_DIR/$NAME/$NAME.log" >&2 || true
  die "$* (log: $RUN_DIR/$NAME/$NAME.log)"
}

# wait_ready TIMEOUT_S: like probe, but fails the script with the end of the logs.
wait_ready() {
  local rc=0
  probe "$1" || rc=$?
  case "$rc" in
    0) return 0 ;;
    2) die_with_logs "kafka exited during start-up" ;;
    *) die_with_logs "kafka did not become ready within $1s" ;;
  esac
}

cmd_up() {
  cmd_install
  if is_running "$NAME"; then
    local rc=0
    probe "$KAFKA_START_TIMEOUT" || rc=$?
    if (( rc == 0 )); then
      log "kafka already running on $INFRA_HOST:$KAFKA_PORT"
      return 0
    fi
    (( rc == 2 )) || die_with_logs "kafka is running (pid $(cat "$RUN_DIR/$NAME/pid")) but does not answer"
  fi
  # a broker that was just killed may still hold its ports for a moment
  if [[ -f "$RUN_DIR/$NAME/pid" ]]; then
    stop_bg "$NAME" KILL
  fi
  local port
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" $KAFKA_SASL_SSL_PORT; do
    # a killed broker's sockets go with its last thread: give them a moment before calling the port taken
    for _ in $(seq 1 50); do port_open "$port" || break; sleep 0.2; done
    port_open "$port" && die "port $port is already in use by another process"
  done
  local dir start=$SECONDS
  dir="$(component_dir "$NAME")"
  render_config "$dir"
  format_storage "$dir"
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS holds several JVM flags
  start_bg "$NAME" java $KAFKA_HEAP_OPTS \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.log.level="$KAFKA_LOG_LEVEL" \
    -cp "$LIB_DIR/*" kafka.Kafka "$dir/server.properties"
  wait_port "$KAFKA_PORT" "$KAFKA_START_TIMEOUT" "$NAME"
  wait_ready "$KAFKA_START_TIMEOUT"
  log "kafka $KAFKA_VERSION ready on $INFRA_HOST:$KAFKA_PORT${KAFKA_SASL_SSL_PORT:+ (SASL_SSL on $KAFKA_SASL_SSL_PORT)} in $((SECONDS - start))s"
}

cmd_down() {
  local pidfile="$RUN_DIR/$NAME/pid" pid
  if [[ -f "$pidfile" ]]; then
    pid="$(cat "$pidfile")"
    if pid_alive "$pid"; then
      # a clean shutdown flushes and closes the logs, so the next start skips log recovery
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 $((KAFKA_STOP_TIMEOUT * 5))); do pid_alive "$pid" || break; sleep 0.2; done
      pid_alive "$pid" && log "kafka did not stop within ${KAFKA_STOP_TIMEOUT}s, killing it"
    fi
    stop_bg "$NAME" KILL
  fi
  log "kafka stopped"
}

cmd_status() {
  if is_running "$NAME"; then
    echo "kafka: running (pid $(cat "$RUN_DIR/$NAME/pid"), $INFRA_HOST:$KAFKA_PORT, Kafka $KAFKA_VERSION)"
    return 0
  fi
  echo "kafka: stopped"
  return 3
}

# tool CLASS ARGS...: one of Kafka's command-line tools, talking to the PLAINTEXT listener (a super user).
run_tool() {
  is_running "$NAME" || die "kafka is not running"
  local class="$1"; shift
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.log.level=WARN \
    -cp "$LIB_DIR/*" "$class" --bootstrap-server "$INFRA_HOST:$KAFKA_PORT" "$@"
}

# The password comes on stdin and goes to the tool in a file only this user can read: never on a command line.
cmd_add_user() {
  local user="${1:-}" password file
  [[ -n "$user" ]] || die "usage: kafka.sh add-user NAME  (password on stdin)"
  IFS= read -r password || [[ -n "$password" ]] || die "no password on stdin"
  file="$(umask 077; mktemp "$RUN_DIR/$NAME/scram.XXXXXX")"
  # shellcheck disable=SC2064 # the file name is fixed now
  trap "rm -f '$file'" EXIT
  printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$password" >"$file"
  run_tool org.apache.kafka.tools.ConfigCommand --alter --entity-type users --entity-name "$user" --add-config-file "$file" >/dev/null
  log "SCRAM-SHA-512 user $user set"
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  add-user) cmd_add_user "${2:-}" ;;
  acl) shift; run_tool org.apache.kafka.tools.AclCommand "$@" ;;
  *) echo "usage: $0 install|up|down|status|add-user NAME|acl ARGS..." >&2; exit 2 ;;
esac
