#!/usr/bin/env bash
# CongoDB: a MongoDB wire-protocol server (TypeScript, in memory) from npm
# @push.rocks/smartmongo, on 127.0.0.1:27117. No real mongod can be installed on these machines.
#
# A plain `npm install @push.rocks/smartmongo@2.2.0` fails on the registry (some of its declared
# dependencies cannot be resolved), and CongoDB imports only a few of them. So: `npm ci` the exact
# versions CongoDB imports (scripts/services/congodb/package.json + package-lock.json), then fetch
# the smartmongo tarball with `npm pack`, check its pinned sha512, and unpack it into
# node_modules. Everything lives in .services/congodb (gitignored); a stamp skips reinstalls.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=_lib.sh
source "$here/_lib.sh"

name=congodb
host=127.0.0.1
port=27117
smartmongo=@push.rocks/smartmongo@2.2.0
smartmongo_sha512=ovVCNoJ3D0aBuKtoKaQWWQKvBngaGJq9fAPQigzji1EHsS1XyGpXWCpe5nq/ptGvBROOcpqZcOFEGAcrnb+OjA==
install_dir="$SERVICES_DIR/$name"

install() {
  local stamp="$install_dir/.installed" want
  want="$smartmongo $smartmongo_sha512 $(cat "$here/congodb/package-lock.json" "$here/congodb/start.mjs" | cksum)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  command -v npm >/dev/null || { echo "services: $name needs node and npm on PATH" >&2; return 1; }
  echo "services: installing $name ($smartmongo) into $install_dir"
  rm -rf "$install_dir"
  mkdir -p "$install_dir"
  cp "$here/congodb/package.json" "$here/congodb/package-lock.json" "$here/congodb/start.mjs" \
    "$install_dir/"
  (cd "$install_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  local tarball
  tarball=$(cd "$install_dir" && npm pack "$smartmongo" --silent)
  local actual
  actual=$(node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$install_dir/$tarball")
  if [ "$actual" != "$smartmongo_sha512" ]; then
    echo "services: $smartmongo tarball sha512 is $actual, expected $smartmongo_sha512" >&2
    return 1
  fi
  mkdir -p "$install_dir/node_modules/@push.rocks/smartmongo"
  tar -xzf "$install_dir/$tarball" -C "$install_dir/node_modules/@push.rocks/smartmongo" \
    --strip-components=1
  rm -f "$install_dir/$tarball"
  echo "$want" >"$stamp"
}

up() {
  install
  start_group "$name" env CONGODB_HOST="$host" CONGODB_PORT="$port" \
    node "$install_dir/start.mjs"
  wait_tcp "$name" "$port" 30
  # CongoDB answers PyMongo's awaitable hello at once instead of holding it for
  # maxAwaitTimeMS, so a streaming monitor spins (thousands of heartbeats a second per
  # client, on both sides of the wire): clients of this server poll instead.
  write_env "$name" "LEXIGRAM_NOSQL_TEST_CONGODB_URI=mongodb://$host:$port/?serverMonitoringMode=poll"
  echo "services: $name ready on $host:$port"
}

case "${1:-}" in
  up) up ;;
  install) install ;;
  *) echo "usage: scripts/services/congodb.sh up|install" >&2; exit 2 ;;
esac
