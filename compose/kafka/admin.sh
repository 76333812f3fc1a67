#!/bin/sh
# The admin's side of the compose brokers, run inside a kafka container (compose/storage.yml mounts it read-only):
#   admin.sh health              the broker answers the admin on its ADMIN listener (the healthcheck)
#   admin.sh tool TOOL ARGS...   one of Kafka's tools as the admin, e.g. admin.sh tool kafka-consumer-groups.sh --list
#   admin.sh setup               users, ACLs and topics from a plan on stdin (deploy.sh), one item a line:
#     user NAME PASSWORD                          a SCRAM-SHA-512 user, made or given this password
#     acl USER RESOURCE PATTERN NAME OPERATION    a right of USER (its service's --print-acls); every other ALLOW
#                                                 ACL of a user of the plan is removed: each has what its service
#                                                 does and nothing more
#     topic NAME PARTITIONS REPLICATION CONFIGS   made, or its configs applied (the services' --print-topics)
# All of it is idempotent: deploy.sh runs it on every `up`, on a new data volume or on one of an older deployment.
# The admin is the brokers' one super user. It logs in with PLAIN on the ADMIN listener, whose credentials are the
# broker's own (KAFKA_LISTENER_NAME_ADMIN_PLAIN_SASL_JAAS_CONFIG, in the container's environment): they work on a
# metadata log that holds no SCRAM user yet. Every tool reads them from a file of a private temporary directory,
# removed on exit; passwords come on stdin, never on a command line.
set -eu

bin=/opt/kafka/bin
umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=%s\n' \
  "$KAFKA_LISTENER_NAME_ADMIN_PLAIN_SASL_JAAS_CONFIG" >"$work/admin.properties"
# each tool run is a JVM start: a small heap, a client JIT and the serial collector keep it short
export KAFKA_HEAP_OPTS=-Xmx256m KAFKA_JVM_PERFORMANCE_OPTS="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

# admin TOOL ARGS...: the tool as the admin (stdin closed: the plan is read from files here)
admin() {
  tool="$1"; shift
  "$bin/$tool" --bootstrap-server localhost:9091 --command-config "$work/admin.properties" "$@" </dev/null
}

set_users() {
  while read -r name password; do
    printf 'SCRAM-SHA-512=iterations=8192,password=%s\n' "$password" >"$work/scram.properties"
    admin kafka-configs.sh --alter --entity-type users --entity-name "$name" --add-config-file "$work/scram.properties" >/dev/null
    rm -f "$work/scram.properties"
    echo "    user $name: SCRAM-SHA-512 password set"
  done <"$work/users"
}

# current_acls: the brokers' ALLOW ACLs of the plan's users, as the plan writes them (USER RESOURCE PATTERN NAME OP)
current_acls() {
  admin kafka-acls.sh --list | awk -v users=" $(cut -d' ' -f1 "$work/users" | tr '\n' ' ')" '
    /^Current ACLs for resource/ {
      type = $0; sub(/.*resourceType=/, "", type); sub(/,.*/, "", type)
      name = $0; sub(/.*, name=/, "", name); sub(/, patternType=.*/, "", name)
      pattern = $0; sub(/.*patternType=/, "", pattern); sub(/\).*/, "", pattern)
      next
    }
    /\(principal=User:.*permissionType=ALLOW/ {
      user = $0; sub(/.*principal=User:/, "", user); sub(/,.*/, "", user)
      op = $0; sub(/.*operation=/, "", op); sub(/,.*/, "", op)
      if (index(users, " " user " ")) print user, type, pattern, name, op
    }'
}

# acl_runs --add|--remove FILE: the ACLs of FILE, one tool run per user, pattern and operation naming all its resources
acl_runs() {
  action="$1" file="$2"
  awk '{ print $1 "/" $3 "/" $5 }' "$file" | sort -u >"$work/runs"
  while read -r key; do
    user="${key%%/*}" rest="${key#*/}"
    set -- "$action" --allow-principal "User:$user" --resource-pattern-type "${rest%%/*}" --operation "${rest#*/}"
    while read -r u resource pattern name op; do
      [ "$u/$pattern/$op" = "$key" ] || continue
      case "$resource" in
        TOPIC) set -- "$@" --topic "$name" ;;
        GROUP) set -- "$@" --group "$name" ;;
        TRANSACTIONAL_ID) set -- "$@" --transactional-id "$name" ;;
        *) echo "unknown ACL resource $resource" >&2; exit 2 ;;
      esac
    done <"$file"
    [ "$action" = --add ] || set -- "$@" --force
    admin kafka-acls.sh "$@" >/dev/null
  done <"$work/runs"
  while read -r u resource pattern name op; do
    echo "    acl User:$u $op $resource $name ($pattern): $([ "$action" = --add ] && echo granted || echo revoked)"
  done <"$file"
}

set_acls() {
  sort -u "$work/acls" >"$work/wanted"
  current_acls | sort -u >"$work/current"
  grep -vxF -f "$work/current" "$work/wanted" >"$work/missing" || true
  grep -vxF -f "$work/wanted" "$work/current" >"$work/extra" || true
  acl_runs --add "$work/missing"
  acl_runs --remove "$work/extra"
  echo "    ACLs: $(wc -l <"$work/wanted") wanted, $(wc -l <"$work/missing") granted, $(wc -l <"$work/extra") revoked"
}

# Existing topics get the configs (partition counts are never changed: adding partitions moves keys).
ensure_topics() {
  existing="$(admin kafka-topics.sh --list)"
  while read -r name partitions rf configs; do
    if printf '%s\n' "$existing" | grep -qxF "$name"; then
      have="$(admin kafka-topics.sh --describe --topic "$name" | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)"
      [ "$have" = "$partitions" ] || echo "    $name: $have partitions, $partitions configured (not changed: adding partitions moves keys)"
      [ "$configs" = - ] || admin kafka-configs.sh --alter --entity-type topics --entity-name "$name" --add-config "$configs" >/dev/null
      echo "    $name: exists ($configs)"
    else
      set -- --create --if-not-exists --topic "$name" --partitions "$partitions" --replication-factor "$rf"
      if [ "$configs" != - ]; then
        old_ifs="$IFS"; IFS=,
        for config in $configs; do set -- "$@" --config "$config"; done
        IFS="$old_ifs"
      fi
      admin kafka-topics.sh "$@" >/dev/null
      echo "    $name: created ($partitions partitions, replication $rf, $configs)"
    fi
  done <"$work/topics"
}

setup() {
  : >"$work/users"; : >"$work/acls"; : >"$work/topics"
  while read -r kind rest; do
    case "$kind" in
      user) printf '%s\n' "$rest" >>"$work/users" ;;
      acl) printf '%s\n' "$rest" >>"$work/acls" ;;
      topic) printf '%s\n' "$rest" >>"$work/topics" ;;
      "") ;;
      *) echo "admin.sh setup: unknown plan line ($kind ...)" >&2; exit 2 ;;
    esac
  done
  set_users
  set_acls
  ensure_topics
}

case "${1:-}" in
  health) export KAFKA_HEAP_OPTS=-Xmx128m; admin kafka-broker-api-versions.sh >/dev/null 2>&1 ;;
  tool) shift; admin "$@" ;;
  setup) setup ;;
  *) echo "usage: admin.sh health | tool TOOL ARGS... | setup  (plan on stdin)" >&2; exit 2 ;;
esac
