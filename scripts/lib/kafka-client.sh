#!/usr/bin/env bash
# The Kafka client (@confluentinc/kafka-javascript) is a native addon over librdkafka. Where npm cannot download
# a prebuilt binary it builds librdkafka from the source it ships, linked against the system's libraries
# (CKJS_LINKING=dynamic, set by use_project_node): a C/C++ toolchain and these Debian packages are needed then.
#   source scripts/lib/kafka-client.sh; ensure_kafka_client_build_deps
# shellcheck disable=SC2034  # read by the callers

KAFKA_CLIENT_BUILD_PACKAGES=(g++ make python3 zlib1g-dev libssl-dev libzstd-dev libcurl4-openssl-dev libsasl2-dev liblz4-dev)

# Installs the missing ones (apt-get update first); nothing happens when all are there.
ensure_kafka_client_build_deps() {
  local missing=() package
  for package in "${KAFKA_CLIENT_BUILD_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  (( ${#missing[@]} == 0 )) && return 0
  if ! command -v apt-get >/dev/null; then
    printf '[kafka-client] to build the Kafka client, install: %s\n' "${missing[*]}" >&2
    return 1
  fi
  local sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  printf '[kafka-client] installing build packages: %s\n' "${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
