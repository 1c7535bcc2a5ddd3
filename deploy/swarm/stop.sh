#!/usr/bin/env bash
# Usage: deploy/swarm/stop.sh [--purge] [--help]
#
# Removes the stack and waits until its containers and network are gone. Masters and workers drain first (questions
# in flight are answered; queued ones stay in the journal for the next deploy).
#   --purge   also delete the stack's data and secrets: the journal volume, the Docker secrets, and the generated
#             values in $SECRETS_DIR (passwords, the CA and the certificate). The next deploy starts empty.
# Environment: STACK [aisystem], WAIT [120] seconds to wait for the containers to stop.
source "$(dirname "$0")/lib.sh"
if wants_help "$@"; then usage; exit 0; fi
purge=false
for a in "$@"; do case "$a" in --purge) purge=true ;; *) die "unexpected argument '$a' (see --help)" ;; esac; done
need_swarm

if docker stack ls --format '{{.Name}}' | grep -qx "$STACK"; then
  say "removing stack $STACK"
  docker stack rm "$STACK" >/dev/null
else
  say "stack $STACK is not deployed"
fi
deadline=$((SECONDS + ${WAIT:-120}))
while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] ||
      [ -n "$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK")" ]; do
  [ $SECONDS -lt $deadline ] || die "containers of $STACK still there after ${WAIT:-120} s: docker ps --filter label=com.docker.stack.namespace=$STACK"
  sleep 1
done
say "stack $STACK stopped"

if $purge; then
  # mqtt_password: the single broker user of earlier versions.
  for name in "${SECRETS[@]}" mqtt_password; do
    docker secret rm "${STACK}_$name" >/dev/null 2>&1 && say "secret ${STACK}_$name removed" || true
  done
  # mosquitto-data: the broker's volume of earlier versions (it persisted queued tasks; now nothing is written).
  for volume in mosquitto-data postgres-data; do
    docker volume rm "${STACK}_$volume" >/dev/null 2>&1 && say "volume ${STACK}_$volume removed" || true
  done
  rm -rf "$SECRETS_DIR"
fi
