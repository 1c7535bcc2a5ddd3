#!/usr/bin/env bash
# Usage: deploy/swarm/deploy.sh [--help]
#
# Deploys the stack (or updates it in place, rolling) on this swarm: creates the Docker secrets that do not exist
# yet, then runs `docker stack deploy`, and waits until every service has its replicas.
#
# Secrets (never in an image, the stack file or the repository):
#   <stack>_gemini_api_key     from $GEMINI_API_KEY, or the file $GEMINI_API_KEY_FILE; without one the workers use
#                              the simulated model (people can still give their own key on the page)
#   <stack>_mqtt_master_password  the broker's master role, from $MQTT_MASTER_PASSWORD, else generated
#   <stack>_mqtt_worker_password  the broker's worker role (for workers elsewhere too), from $MQTT_WORKER_PASSWORD, else generated
#   <stack>_admin_token        from $ADMIN_TOKEN, else generated (aictl and /api need it)
#   <stack>_postgres_password  from $POSTGRES_PASSWORD, else generated
#   <stack>_tls_cert, <stack>_tls_key, <stack>_tls_ca
#                              the certificate (PEM) of every service (HTTPS on the web and gRPC ports, MQTT over TLS,
#                              Akka remoting's mutual TLS), its key, and the CA it is signed by: from $TLS_CERT_FILE,
#                              $TLS_KEY_FILE and $TLS_CA_FILE (all three; the certificate must name the host browsers
#                              use, plus master and mosquitto), else a CA and a certificate made here with openssl (names:
#                              master, mosquitto, localhost, 127.0.0.1, this machine, and $TLS_HOSTNAMES, comma-separated).
#                              Browsers, aictl (--ca-file / AICTL_CA_FILE) and remote workers (Mqtt__CaFile, Tls__CaFile)
#                              trust $SECRETS_DIR/tls/ca.crt; the CA's key stays in $SECRETS_DIR/tls and is never a secret.
# Generated values are kept in $SECRETS_DIR (default deploy/swarm/.secrets, mode 700, not in git) so that
# monitor.sh and aictl can use the admin token and the CA. A secret cannot change while the stack uses it: to change one,
# run stop.sh, `docker secret rm <stack>_<name>`, then deploy.sh again.
#
# Environment (defaults in brackets):
#   STACK [aisystem]  TAG [the last build.sh's, else latest]  REGISTRY [none: images are local to this node]
#   WEB_PORT [8888] (HTTPS)   MQTT_PORT [8883] (MQTT over TLS)   WORKERS [2]   WORKER_CAPACITY [2]   WORKER_SIMULATED_DELAY [00:00:03]
#   GEMINI_MODEL [gemini-2.5-flash]   TASK_TIMEOUT [00:02:00]   MASTER_DRAIN_TIMEOUT [00:00:40]
#   WAIT [300]  seconds to wait for the services to be up (0: do not wait)
source "$(dirname "$0")/lib.sh"
if wants_help "$@"; then usage; exit 0; fi
[ $# -eq 0 ] || die "unexpected argument '$1' (see --help)"
need_swarm

for image in master worker mosquitto postgres; do
  var="$(echo "$image" | tr '[:lower:]' '[:upper:]')_TAG"
  docker image inspect "$IMAGE_PREFIX/$image:${!var}" >/dev/null 2>&1 || [ -n "$REGISTRY" ] ||
    die "image $IMAGE_PREFIX/$image:${!var} is missing; run deploy/swarm/build.sh first"
done

mkdir -p "$SECRETS_DIR"; chmod 700 "$SECRETS_DIR"
secret_exists() { docker secret inspect "${STACK}_$1" >/dev/null 2>&1; }
generated() { # name: the value kept in $SECRETS_DIR, made on first use
  local file="$SECRETS_DIR/$1"
  [ -s "$file" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file")
  cat "$file"
}
create_secret() { # name, value (from stdin)
  docker secret create --label "com.docker.stack.namespace=$STACK" "${STACK}_$1" - >/dev/null
  say "secret ${STACK}_$1 created"
}

if ! secret_exists gemini_api_key; then
  if [ -n "${GEMINI_API_KEY:-}" ]; then printf '%s' "$GEMINI_API_KEY" | create_secret gemini_api_key
  elif [ -n "${GEMINI_API_KEY_FILE:-}" ]; then
    [ -s "$GEMINI_API_KEY_FILE" ] || die "GEMINI_API_KEY_FILE=$GEMINI_API_KEY_FILE is missing or empty"
    create_secret gemini_api_key < "$GEMINI_API_KEY_FILE"
  else
    # An empty setting (the line break is trimmed): workers answer with the simulated model.
    printf '\n' | create_secret gemini_api_key
    say "no GEMINI_API_KEY given: workers use the simulated model unless a question carries its own key"
  fi
fi
for name in mqtt_master_password mqtt_worker_password admin_token postgres_password; do
  secret_exists "$name" && continue
  var="$(echo "$name" | tr '[:lower:]' '[:upper:]')"
  if [ -n "${!var:-}" ]; then (umask 077; printf '%s' "${!var}" > "$SECRETS_DIR/$name"); fi
  generated "$name" | create_secret "$name"
done

# TLS: the operator's certificate, or a CA and a certificate made here (once; kept in $TLS_DIR for the next deploy).
if ! secret_exists tls_cert || ! secret_exists tls_key || ! secret_exists tls_ca; then
  if [ -n "${TLS_CERT_FILE:-}${TLS_KEY_FILE:-}${TLS_CA_FILE:-}" ]; then
    for var in TLS_CERT_FILE TLS_KEY_FILE TLS_CA_FILE; do
      [ -n "${!var:-}" ] || die "$var is not set: give TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE together (or none, for a self-signed CA)"
      [ -s "${!var}" ] || die "$var=${!var} is missing or empty"
    done
    openssl verify -CAfile "$TLS_CA_FILE" "$TLS_CERT_FILE" >/dev/null 2>&1 ||
      die "TLS_CERT_FILE=$TLS_CERT_FILE is not signed by TLS_CA_FILE=$TLS_CA_FILE (openssl verify -CAfile ... fails)"
    mkdir -p "$TLS_DIR"; chmod 700 "$TLS_DIR"
    cp "$TLS_CA_FILE" "$TLS_DIR/ca.crt"; cp "$TLS_CERT_FILE" "$TLS_DIR/tls.crt"; (umask 077; cp "$TLS_KEY_FILE" "$TLS_DIR/tls.key")
    say "TLS: the certificate $TLS_CERT_FILE, signed by $TLS_CA_FILE"
  elif [ ! -s "$TLS_DIR/tls.crt" ] || [ ! -s "$TLS_DIR/tls.key" ] || [ ! -s "$TLS_DIR/ca.crt" ]; then
    command -v openssl >/dev/null || die "openssl is needed to make the stack's certificate (or give TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE)"
    make_stack_certificate
    say "TLS: made a CA ($TLS_DIR/ca.crt: give it to browsers, aictl and remote workers) and the stack's certificate"
  fi
  for pair in tls_cert:tls.crt tls_key:tls.key tls_ca:ca.crt; do
    secret_exists "${pair%%:*}" || create_secret "${pair%%:*}" < "$TLS_DIR/${pair#*:}"
  done
fi

say "deploying stack $STACK (master $MASTER_TAG, worker $WORKER_TAG, mosquitto $MOSQUITTO_TAG, postgres $POSTGRES_TAG)"
resolve=never; [ -n "$REGISTRY" ] && resolve=always
docker stack deploy --resolve-image "$resolve" --prune -c "$SWARM_DIR/stack.yml" "$STACK" 2>&1 |
  grep -v -e '^Since --detach=false' -e '^In a future release, --detach=false' -e '^Updating service' -e '^Creating' || true

wait="${WAIT:-300}"
[ "$wait" -gt 0 ] || exit 0
say "waiting up to ${wait} s for every service to have its replicas"
deadline=$((SECONDS + wait))
for service in "${SERVICES[@]}"; do
  until converged "${STACK}_$service"; do
    [ $SECONDS -lt $deadline ] || die "${STACK}_$service is not up after ${wait} s: $(converged "${STACK}_$service" -v) (see deploy/swarm/logs.sh $service)"
    sleep 1
  done
done
docker stack services "$STACK" --format 'table {{.Name}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}'
say "chat: https://<this node>:$WEB_PORT   dashboard: https://<this node>:$WEB_PORT/dashboard   monitor: deploy/swarm/monitor.sh"
say "the stack's CA (for browsers, aictl --ca-file and remote workers): $TLS_DIR/ca.crt"
