#!/usr/bin/env bash
# The Cloud Firestore emulator (Google's, from the preinstalled Debian package
# google-cloud-cli-firestore-emulator), run directly with Java so stopping its process group
# stops the server (gcloud's wrapper would leave java running).
set -euo pipefail
# shellcheck source=_lib.sh
source "$(dirname "$0")/_lib.sh"

PORT=8234
HOST=127.0.0.1

find_jar() {
  if ! dpkg -L google-cloud-cli-firestore-emulator >/dev/null 2>&1; then
    echo "services: the Firestore emulator is not installed (Debian package" \
      "google-cloud-cli-firestore-emulator); install it, or run the suite without" \
      "LEXIGRAM_NOSQL_REQUIRE_SERVICES to skip the firestore backend" >&2
    return 1
  fi
  local jar
  jar=$(dpkg -L google-cloud-cli-firestore-emulator | grep '/cloud-firestore-emulator\.jar$' | head -n 1)
  if [ -z "$jar" ] || [ ! -f "$jar" ]; then
    echo "services: package google-cloud-cli-firestore-emulator lists no" \
      "cloud-firestore-emulator.jar; reinstall the package" >&2
    return 1
  fi
  echo "$jar"
}

up() {
  local jar
  jar=$(find_jar)
  if ! command -v java >/dev/null 2>&1; then
    echo "services: java (17 or newer) is needed to run the Firestore emulator" >&2
    return 1
  fi
  start_group firestore java -cp "$jar" \
    com.google.cloud.datastore.emulator.firestore.CloudFirestore \
    start --host="$HOST" --port="$PORT"
  # The emulator answers "Ok" on / once it serves requests.
  for _ in $(seq 1 600); do
    if [ "$(curl -s "http://$HOST:$PORT/" 2>/dev/null)" = "Ok" ]; then
      write_env firestore "LEXIGRAM_NOSQL_TEST_FIRESTORE_EMULATOR_HOST=$HOST:$PORT"
      return 0
    fi
    if ! is_running firestore; then
      echo "services: firestore exited during start; its log:" >&2
      tail -n 40 "$SERVICES_DIR/firestore.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "services: firestore not ready at http://$HOST:$PORT/ after 60s; its log:" >&2
  tail -n 40 "$SERVICES_DIR/firestore.log" >&2
  return 1
}

case "${1:-up}" in
  up) up ;;
  *) echo "usage: $0 up" >&2; exit 2 ;;
esac
