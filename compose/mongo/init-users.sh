#!/usr/bin/env bash
# Runs once, inside the mongo container, on the first start of an empty data volume (the image's
# /docker-entrypoint-initdb.d hook: its entrypoint sources this file while a temporary mongod runs without auth).
# Creates the cdc service's own user: read-only on the databases that CDC_COLLECTIONS names (change streams
# and the initial snapshot need only `find` and `changeStream`) and on `local`, where it reads the first and last
# entries of oplog.rs to watch the oplog's window. The root user is created by the image itself.
# Changing MONGO_CDC_* later does not change an existing volume: update the user with mongosh, or start
# from an empty volume (deploy.sh down --volumes).
# Sourced, so no `exit` here and no change of shell options (the entrypoint already runs with -Eeuo pipefail).

init_cdc_user() {
  local user="${MONGO_INITDB_CDC_USERNAME:-}" password="${MONGO_INITDB_CDC_PASSWORD:-}" databases
  if [[ -z "$user" || -z "$password" ]]; then
    echo "init-users: MONGO_CDC_USERNAME/MONGO_CDC_PASSWORD not set, no cdc user created" >&2
    return 0
  fi
  # "shop.orders,shop.customers,crm.leads" -> "shop crm"
  databases="$(printf '%s' "${MONGO_INITDB_CDC_COLLECTIONS:-shop.orders}" | tr ',' '\n' \
    | sed -e 's/^[[:space:]]*//' -e 's/\..*$//' | grep -v '^$' | sort -u | tr '\n' ' ')"

  # The entrypoint defines the `mongo` array (mongosh with the temporary mongod's host and port) before
  # sourcing this file; fall back to a local connection when run some other way.
  local shell=(mongosh --quiet)
  # shellcheck disable=SC2154 # defined by the image's entrypoint
  if declare -p mongo >/dev/null 2>&1; then shell=("${mongo[@]}"); fi

  # shellcheck disable=SC2016 # JavaScript, not shell: mongosh expands the template literal
  CDC_USER="$user" CDC_PASSWORD="$password" CDC_DATABASES="$databases" "${shell[@]}" admin --eval '
    const roles = [...process.env.CDC_DATABASES.trim().split(/\s+/), "local"].map((db) => ({ role: "read", db }));
    db.createUser({ user: process.env.CDC_USER, pwd: process.env.CDC_PASSWORD, roles });
    print(`init-users: created user ${process.env.CDC_USER} with read on ${process.env.CDC_DATABASES} local`);
  '
}

init_cdc_user
