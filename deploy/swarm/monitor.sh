#!/usr/bin/env bash
# Usage: deploy/swarm/monitor.sh [--once] [--interval S] [--help]
#
# Watches the stack: its services and replicas, then the cluster and the workers as the master sees them (aictl
# cluster show and aictl workers, through the published web port with the admin token), refreshed every S seconds
# [5]. --once prints one view and exits (non-zero when the master cannot be reached). Ctrl+C stops.
# Environment: STACK [aisystem], WEB_PORT [8888], MASTER_URL [https://localhost:$WEB_PORT], AICTL_CA_FILE [the
# stack's CA, $SECRETS_DIR/tls/ca.crt], ADMIN_TOKEN [the
# generated one in $SECRETS_DIR], AICTL [a command to run aictl; default: the copy build.sh published].
source "$(dirname "$0")/lib.sh"
if wants_help "$@"; then usage; exit 0; fi
once=false interval=5
while [ $# -gt 0 ]; do
  case "$1" in
    --once) once=true ;;
    --interval) shift; [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] || die "--interval needs a number of seconds"; interval="$1" ;;
    *) die "unexpected argument '$1' (see --help)" ;;
  esac
  shift
done
need_swarm
master="${MASTER_URL:-https://localhost:$WEB_PORT}"
# The master serves HTTPS with the stack's certificate: aictl checks it against the stack's CA.
[ -z "${AICTL_CA_FILE:-}" ] && [ -s "$TLS_DIR/ca.crt" ] && export AICTL_CA_FILE="$TLS_DIR/ca.crt"
# The token goes to aictl through its environment (AICTL_TOKEN), never its argv: ps shows every process's arguments.
token="$(admin_token)"
[ -n "$token" ] && export AICTL_TOKEN="$token"
unset token
view() {
  local rc=0
  echo "AiSystem stack '$STACK' — $(date '+%Y-%m-%d %H:%M:%S')"
  echo
  docker stack services "$STACK" --format 'table {{.Name}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}'
  echo
  aictl cluster show --master "$master" || rc=1
  echo
  aictl workers --master "$master" || rc=1
  return $rc
}
if $once; then view; exit; fi
while :; do
  out="$(view 2>&1 || true)"
  clear 2>/dev/null || printf '\033[2J\033[H'
  echo "$out"
  sleep "$interval"
done
