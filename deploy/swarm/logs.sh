#!/usr/bin/env bash
# Usage: deploy/swarm/logs.sh [service] [-f|--follow] [--tail N] [--help]
#
# Shows the logs of one service of the stack (mosquitto, postgres, master, worker), all replicas merged with their
# task names, or of every service when none is named. -f follows (one service only); --tail N lines per service
# [200]. The same lines, live and from every process, are also on MQTT: aictl logs -f.
source "$(dirname "$0")/lib.sh"
if wants_help "$@"; then usage; exit 0; fi
service="" follow=() tail=200
while [ $# -gt 0 ]; do
  case "$1" in
    -f|--follow) follow=(--follow) ;;
    --tail) shift; [[ "${1:-}" =~ ^[0-9]+$ ]] || die "--tail needs a number of lines"; tail="$1" ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "$service" ] || die "one service at a time"; is_service "$1" || die "no service '$1'; services: ${SERVICES[*]}"; service="$1" ;;
  esac
  shift
done
need_swarm
if [ -n "$service" ]; then
  exec docker service logs --timestamps --tail "$tail" "${follow[@]}" "${STACK}_$service"
fi
[ ${#follow[@]} -eq 0 ] || die "-f needs a service name"
for s in "${SERVICES[@]}"; do
  echo "===== $s"
  docker service logs --timestamps --tail "$tail" "${STACK}_$s" 2>&1 || true
done
