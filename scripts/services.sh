#!/usr/bin/env bash
# Start or stop the test servers the suite talks to over the wire.
#
#   scripts/services.sh up   [service ...]   install what is missing, start, wait until ready
#   scripts/services.sh down [service ...]   stop (the whole process group of each server)
#   scripts/services.sh status
#
# Services are the files scripts/services/<name>.sh (default: all of them). Each server runs
# on 127.0.0.1 in its own process group; its connection settings are written to
# .services/env, which the tests read. Installs come only from the package registries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export SERVICES_DIR="$root/.services"
mkdir -p "$SERVICES_DIR"
# shellcheck source=services/_lib.sh
source "$root/scripts/services/_lib.sh"

action=${1:-}
shift || true
if [ $# -eq 0 ]; then
  set -- $(cd "$root/scripts/services" && ls *.sh 2>/dev/null | grep -v '^_' | sed 's/\.sh$//')
fi

case "$action" in
  up)
    for service in "$@"; do
      echo "services: starting $service"
      bash "$root/scripts/services/$service.sh" up
    done
    ;;
  down)
    for service in "$@"; do
      stop_group "$service"
      rm -f "$SERVICES_DIR/$service.env"
    done
    ;;
  status)
    for service in "$@"; do
      if is_running "$service"; then echo "$service: running"; else echo "$service: stopped"; fi
    done
    ;;
  *)
    echo "usage: scripts/services.sh up|down|status [service ...]" >&2
    exit 2
    ;;
esac
# The file the tests read: the union of every running service's settings.
cat "$SERVICES_DIR"/*.env 2>/dev/null > "$SERVICES_DIR/env" || true
