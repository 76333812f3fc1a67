#!/usr/bin/env bash
# The one list of what the project's scripts run that is not the project's own, and the Debian package that brings
# each. Scripts ask for the groups they need before they start:
#   source scripts/lib/prerequisites.sh; require_prerequisites base java
# Missing ones are installed with apt-get when this user is root (each package named first); otherwise the exact
# command to run is printed and the call fails. `bash scripts/prerequisites.sh` is the same from the command line.
# shellcheck disable=SC2034  # read by the callers

# The groups:
#   base          git (static checks, the pristine copy), curl (readiness probes), ps (is a process running),
#                 setsid (detached services)
#   node          a Node and npm to fetch the project's Node 24 with (scripts/lib/node.sh)
#   java          the Kafka broker and the MongoDB stand-in (mvn fetches their jars; openssl makes the secured
#                 listener's certificate authority)
#   python        the BigQuery emulator, the GCS emulator's wheel and the linters, in venvs
#   kafka-client  the native build of librdkafka
#   lint          shell scripts
#   browser       the console's browser test: headless Chromium (test/e2e/console.test.ts)
#   docker        npm run test:docker: an engine of its own, and the debootstrap root of the stand-in images
# Each line: GROUP PROBE PACKAGE. A PROBE is cmd:NAME (a command on PATH), deb:NAME (a Debian package installed:
# libraries and headers), or py:MODULE (importable by python3).
PREREQUISITES="
base      cmd:git         git
base      cmd:curl        curl
base      cmd:ps          procps
base      cmd:setsid      util-linux
base      deb:ca-certificates ca-certificates
node      cmd:node        nodejs
node      cmd:npm         npm
java      cmd:openssl     openssl
java      cmd:java        openjdk-17-jre-headless
java      cmd:javac       openjdk-17-jdk-headless
java      cmd:mvn         maven
python    cmd:python3     python3
python    py:ensurepip    python3-venv
python    py:pip          python3-pip
kafka-client cmd:python3   python3
kafka-client cmd:g++      g++
kafka-client cmd:make     make
kafka-client deb:zlib1g-dev zlib1g-dev
kafka-client deb:libssl-dev libssl-dev
kafka-client deb:libzstd-dev libzstd-dev
kafka-client deb:libcurl4-openssl-dev libcurl4-openssl-dev
kafka-client deb:libsasl2-dev libsasl2-dev
kafka-client deb:liblz4-dev liblz4-dev
lint      cmd:shellcheck  shellcheck
browser   cmd:chromium    chromium
docker    cmd:docker      docker.io
docker    cmd:dockerd     docker.io
docker    cmd:debootstrap debootstrap
"
# What `npm test` and `./deploy.sh --local` need; `npm run test:docker` adds the docker group.
PREREQUISITE_GROUPS_LOCAL=(base node java python kafka-client lint browser)

prerequisite_present() {
  local probe="$1"
  case "$probe" in
    cmd:*) command -v "${probe#cmd:}" >/dev/null 2>&1 ;;
    deb:*) dpkg-query -W -f='${Status}' "${probe#deb:}" 2>/dev/null | grep -q 'install ok installed' ;;
    py:*) python3 -c "import ${probe#py:}" >/dev/null 2>&1 ;;
    *) printf '[prerequisites] unknown probe %s\n' "$probe" >&2; return 2 ;;
  esac
}

# missing_prerequisites GROUP...: the Debian packages of those groups whose probe fails, one a line, each once.
missing_prerequisites() {
  local group probe package wanted=" $* "
  while read -r group probe package; do
    [[ -n "$group" && "$wanted" == *" $group "* ]] || continue
    prerequisite_present "$probe" || printf '%s\n' "$package"
  done <<<"$PREREQUISITES" | awk '!seen[$0]++'
}

require_prerequisites() {
  local groups=("$@") missing=()
  local group
  for group in "${groups[@]}"; do
    grep -qE "^${group}[[:space:]]" <<<"$PREREQUISITES" || { printf '[prerequisites] unknown group %s\n' "$group" >&2; return 2; }
  done
  mapfile -t missing < <(missing_prerequisites "${groups[@]}")
  (( ${#missing[@]} == 0 )) && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    printf '[prerequisites] missing, install them with your package manager (Debian names): %s\n' "${missing[*]}" >&2
    return 1
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    printf '[prerequisites] missing Debian packages: %s\n' "${missing[*]}" >&2
    printf '[prerequisites] run: sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n' "${missing[*]}" >&2
    return 1
  fi
  # scripts that run side by side (.ci/run: npm test and the container preparation) take turns; the second one
  # finds what the first installed
  (
    flock -w 1800 9 || { printf '[prerequisites] another install held the lock for 30 min\n' >&2; exit 1; }
    mapfile -t missing < <(missing_prerequisites "${groups[@]}")
    (( ${#missing[@]} == 0 )) && exit 0
    printf '[prerequisites] installing Debian packages: %s\n' "${missing[*]}" >&2
    # a machine whose lists are older than its mirror's packages would fail to download them: update first;
    # dpkg's progress goes to stdout, which callers may read (engine.sh up prints its environment there): dropped
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ) 9>>/var/lib/apt/cdc-pipeline-prerequisites.lock || return 1
  local still
  still="$(missing_prerequisites "${groups[@]}" | tr '\n' ' ')"
  [[ -z "$still" ]] || { printf '[prerequisites] still missing after the install: %s\n' "$still" >&2; return 1; }
}
