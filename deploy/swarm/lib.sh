# Shared by the deploy/swarm scripts (sourced, not run).
set -euo pipefail

SWARM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SWARM_DIR/../.." && pwd)"
STACK="${STACK:-aisystem}"
# The image tags of the last build.sh (each image's content id, so that a deploy restarts only what changed), unless
# TAG names one tag for all.
TAGS_FILE="$REPO_ROOT/artifacts/swarm/tags.env"
if [ -z "${TAG:-}" ] && [ -s "$TAGS_FILE" ]; then source "$TAGS_FILE"; fi
TAG="${TAG:-latest}"
for _image in MASTER WORKER MOSQUITTO POSTGRES; do
  _var="${_image}_TAG"; [ -n "${!_var:-}" ] || printf -v "$_var" '%s' "$TAG"; export "${_var?}"
done
REGISTRY="${REGISTRY:-}"
IMAGE_PREFIX="${REGISTRY:+$REGISTRY/}aisystem"
SECRETS_DIR="${SECRETS_DIR:-$SWARM_DIR/.secrets}"
WEB_PORT="${WEB_PORT:-8888}"
# The stack's TLS files on this machine: the CA certificate (for browsers, aictl, curl) and, when deploy.sh made
# them, the CA's key and the stack's certificate. Not in git.
TLS_DIR="$SECRETS_DIR/tls"
SERVICES=(mosquitto postgres master worker)
# Every Docker secret of the stack (named <stack>_<name>).
SECRETS=(gemini_api_key mqtt_master_password mqtt_worker_password admin_token postgres_password tls_cert tls_key tls_ca)
export STACK TAG REGISTRY IMAGE_PREFIX WEB_PORT

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
say() { echo "==> $*"; }

# Prints the comment block at the top of the calling script (its usage).
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; }
wants_help() { for a in "$@"; do case "$a" in -h|--help) return 0 ;; esac; done; return 1; }

need_docker() {
  command -v docker >/dev/null || die "docker is not installed"
  docker info >/dev/null 2>&1 || die "cannot reach the Docker engine${DOCKER_HOST:+ at $DOCKER_HOST}; is dockerd running?"
}

need_swarm() {
  need_docker
  [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ] ||
    die "this Docker engine is not part of a swarm; run: docker swarm init --advertise-addr <this machine's address>"
  [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || die "run this on a swarm manager node"
}

is_service() { local s; for s in "${SERVICES[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# The admin token for aictl and the operator API: $ADMIN_TOKEN, else the one deploy.sh generated.
admin_token() {
  if [ -n "${ADMIN_TOKEN:-}" ]; then printf '%s' "$ADMIN_TOKEN"
  elif [ -s "$SECRETS_DIR/admin_token" ]; then cat "$SECRETS_DIR/admin_token"
  fi
}

# Makes a CA and one certificate for the stack's services, signed by it, in $TLS_DIR (ca.crt, ca.key, tls.crt,
# tls.key). Names: master, mosquitto, localhost, 127.0.0.1, this machine's name, and $TLS_HOSTNAMES (comma-separated
# names or IP addresses by which browsers and remote workers reach this node). ECDSA P-256; the certificate serves
# both as a server's and as an Akka node's (client) certificate.
make_stack_certificate() {
  local san="DNS:master,DNS:mosquitto,DNS:localhost,IP:127.0.0.1,DNS:$(hostname)" name
  for name in $(echo "${TLS_HOSTNAMES:-}" | tr ',' ' '); do
    if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san="$san,IP:$name"; else san="$san,DNS:$name"; fi
  done
  mkdir -p "$TLS_DIR"; chmod 700 "$TLS_DIR"
  (
    umask 077; cd "$TLS_DIR"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -days 3650 \
      -subj "/CN=AiSystem $STACK stack CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 \
      -subj "/CN=aisystem-$STACK" -keyout tls.key -out tls.csr 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" > tls.ext
    openssl x509 -req -sha256 -days 825 -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile tls.ext -out tls.crt 2>/dev/null
    rm -f tls.csr tls.ext ca.srl
    chmod 644 ca.crt
  ) || die "openssl could not make the stack's certificate"
}

# Runs aictl: $AICTL if set, else the copy build.sh published, else `dotnet run` from the source.
aictl() {
  if [ -n "${AICTL:-}" ]; then $AICTL "$@"
  elif [ -f "$REPO_ROOT/artifacts/swarm/aictl/AiSystem.Ctl.dll" ]; then dotnet "$REPO_ROOT/artifacts/swarm/aictl/AiSystem.Ctl.dll" "$@"
  else dotnet run --project "$REPO_ROOT/src/Ctl" -v q -- "$@"
  fi
}

# True when a service runs exactly its desired replicas, all on its current image, and no update is in progress.
# With -v, prints what it is waiting for instead.
converged() {
  local service="$1" image desired running stale update
  image="$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$service" 2>/dev/null)" || {
    [ "${2:-}" = -v ] && echo "no such service"; return 1; }
  desired="$(docker service inspect --format '{{if .Spec.Mode.Replicated}}{{.Spec.Mode.Replicated.Replicas}}{{end}}' "$service")"
  update="$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$service")"
  running="$(docker service ps "$service" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running' || true)"
  stale="$(docker service ps "$service" --filter desired-state=running --format '{{.Image}}' | grep -cvx "${image%@*}" || true)"
  if [ "$running" = "$desired" ] && [ "$stale" = 0 ] && [[ "$update" != updating && "$update" != rollback_started ]]; then return 0; fi
  [ "${2:-}" = -v ] && echo "$running of $desired running, $stale on an older image, update: ${update:-none}"
  return 1
}
