#!/usr/bin/env bash
# Usage: deploy/swarm/scale.sh <service> <replicas> [--help]
#
# Sets the number of replicas of a service and waits until the swarm has them running, e.g. `scale.sh worker 5`.
# New workers register over MQTT and join the Akka.NET cluster by themselves; removed workers drain first (they
# finish and deliver what they hold), and anything they could not finish is handed to another worker, so scaling
# down loses no question. The master publishes its web port in host mode: one master per node.
# Environment: STACK [aisystem], WAIT [180] seconds to wait for the replicas.
source "$(dirname "$0")/lib.sh"
if wants_help "$@"; then usage; exit 0; fi
[ $# -eq 2 ] || die "usage: scale.sh <service> <replicas> (see --help)"
service="$1" replicas="$2"
is_service "$service" || die "no service '$service'; services: ${SERVICES[*]}"
[[ "$replicas" =~ ^[0-9]+$ ]] || die "replicas must be a whole number, got '$replicas'"
case "$service" in
  mosquitto|postgres) [ "$replicas" -le 1 ] || die "$service runs as a single replica (it holds state on a volume)" ;;
  master) [ "$replicas" -le "$(docker node ls -q 2>/dev/null | wc -l)" ] ||
            die "one master per node (its web port is published in host mode); this swarm has $(docker node ls -q | wc -l) node(s)" ;;
esac
need_swarm
say "scaling ${STACK}_$service to $replicas"
docker service scale --detach "${STACK}_$service=$replicas" >/dev/null
deadline=$((SECONDS + ${WAIT:-180}))
# Converged, and the removed replicas have stopped (they drain first: up to their stop_grace_period).
stopped() { [ "$(docker service ps "${STACK}_$service" --filter desired-state=shutdown --format '{{.CurrentState}}' | grep -c '^Running')" -eq 0 ]; }
until converged "${STACK}_$service" && stopped; do
  [ $SECONDS -lt $deadline ] || die "${STACK}_$service: $(converged "${STACK}_$service" -v) after ${WAIT:-180} s"
  sleep 1
done
say "${STACK}_$service: $replicas running"
