#!/usr/bin/env bash
# The Docker Swarm test: deploys deploy/swarm on a real one-node swarm on this machine and checks it works the way an
# operator uses it. Run by ./test.sh; runs alone too (as root). Steps:
#   engine   install Docker (apt) if missing; start a Docker engine of its own under a scratch folder
#   images   deploy/swarm/build.sh (base image by debootstrap, publish, images)
#   swarm    docker swarm init; deploy/swarm/deploy.sh on free host ports
#   1 ready  every service has its replicas, /healthz/ready answers (over HTTPS, checked against the stack's CA)
#   1 secure the web port answers HTTPS only; the MQTT port refuses plain MQTT, anonymous and wrong passwords; the
#            worker role reads only its own task topic and cannot publish tasks; an oversized publish is dropped;
#            Akka remoting speaks mutual TLS (checked inside the master's container) and every member is akka.ssl.tcp;
#            no password in the services' specs
#   2 ask    10 questions through the published web port (SignalR over HTTPS): all answered; the broker wrote nothing
#            to disk
#   3 scale  scale.sh worker 5: five workers in /api/workers and five worker members in aictl cluster show in 60 s
#   4 down   20 questions in flight, scale.sh worker 1: all 20 answered exactly once
#   5 roll   16 questions queued, `docker service update --force` of the master (its drain cut to 5 s, so the new
#            master takes the rest from the journal): all answered exactly once; sessions resumed
#            afterwards (also those of step 2) still have their history
#   teardown stack, swarm, engine, its network changes and scratch folder, even when a step fails
# Prints the time of each phase, one PASS/FAIL line per check, and ends with "swarm: N passed, N failed".
set -uo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
SWARM="$REPO/deploy/swarm"
CHECK_DLL="$REPO/tests/Swarm/SwarmCheck/bin/Debug/net10.0/AiSystem.SwarmCheck.dll"
passed=0 failed=0 phase_name="" phase_started=0
declare -a phase_report=()

pass() { passed=$((passed + 1)); echo "PASS  $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
phase() { # name: ends the previous phase, starts this one
  [ -n "$phase_name" ] && phase_report+=("$(printf '%-9s %4d s' "$phase_name" $((SECONDS - phase_started)))")
  phase_name="$1" phase_started=$SECONDS
  [ -n "$1" ] && echo "---- phase $1"
}
# Polls a command until it succeeds or the deadline (seconds) passes. Never a fixed sleep for a result.
wait_for() { local limit="$1"; shift; local end=$((SECONDS + limit)); until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 1; done; }
free_port() { local p; while :; do p=$((20000 + RANDOM % 40000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; }

[ "$(id -u)" -eq 0 ] || { echo "tests/Swarm/run.sh needs root (it starts a Docker engine)"; echo "swarm: 0 passed, 1 failed"; exit 1; }

W="$(mktemp -d /tmp/aisystem-swarm.XXXXXX)"
export DOCKER_HOST="unix://$W/docker.sock" SECRETS_DIR="$W/secrets" STACK=aisystem WAIT=300
# A short drain, so that questions are still queued when the old master stops in step 5 and the new one must take
# them from the journal (with the default 40 s the old master would answer them all before it stops).
export MASTER_DRAIN_TIMEOUT=00:00:05
engine_pid=""

# What the engine changes on the host, to put back afterwards.
iptables-save > "$W/iptables.before" 2>/dev/null || true
ip_forward_before="$(cat /proc/sys/net/ipv4/ip_forward)"
links_before="$(ip -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1)"

teardown() {
  phase teardown
  if [ -n "$engine_pid" ] && kill -0 "$engine_pid" 2>/dev/null; then
    docker stack rm "$STACK" >/dev/null 2>&1
    wait_for 90 sh -c '[ -z "$(docker ps -q)" ]' || docker ps -q | xargs -r docker kill >/dev/null 2>&1
    docker swarm leave --force >/dev/null 2>&1
    kill -TERM "$engine_pid" 2>/dev/null
    wait_for 30 sh -c "! kill -0 $engine_pid 2>/dev/null" || kill -KILL "$engine_pid" 2>/dev/null
  fi
  # Anything the engine left mounted under the scratch folder, then the network changes.
  grep -o " $W[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  for link in $(ip -o link show | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
    echo "$links_before" | grep -qx "$link" || ip link delete "$link" 2>/dev/null
  done
  [ -s "$W/iptables.before" ] && iptables-restore < "$W/iptables.before" 2>/dev/null
  echo "$ip_forward_before" > /proc/sys/net/ipv4/ip_forward
  rm -rf "$W"
  phase ""
  echo "---- phase times"
  printf '  %s\n' "${phase_report[@]}"
  echo "swarm: $passed passed, $failed failed"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------------------
phase engine
need=()
for tool in dockerd:docker.io debootstrap:debootstrap jq:jq curl:curl; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi
if ! command -v dockerd >/dev/null; then fail "Docker could not be installed from apt"; exit 1; fi
if (exec 3<>/dev/tcp/127.0.0.1/2377) 2>/dev/null; then
  fail "another swarm manager already listens on port 2377 here; stop that Docker engine and run again"; exit 1
fi
DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 dockerd -H "$DOCKER_HOST" --data-root "$W/data" --exec-root "$W/exec" \
  --pidfile "$W/dockerd.pid" >"$W/dockerd.log" 2>&1 &
engine_pid=$!
if wait_for 60 docker info >/dev/null 2>&1; then pass "a Docker engine of its own runs (pid $engine_pid, $(docker version --format '{{.Server.Version}}'))"
else tail -20 "$W/dockerd.log"; fail "the Docker engine did not start"; exit 1; fi
[ -f "$CHECK_DLL" ] || dotnet build "$REPO/tests/Swarm/SwarmCheck" -v q -nologo >/dev/null

phase images
if "$SWARM/build.sh"; then pass "build.sh built the images"; else fail "build.sh failed"; exit 1; fi

phase swarm
docker swarm init --advertise-addr 127.0.0.1 >/dev/null || { fail "docker swarm init failed"; exit 1; }
export WEB_PORT="$(free_port)" MQTT_PORT="$(free_port)"
URL="https://127.0.0.1:$WEB_PORT"
CA="$SECRETS_DIR/tls/ca.crt" # made by deploy.sh: every client here trusts only it
if "$SWARM/deploy.sh"; then pass "deploy.sh deployed the stack (web port $WEB_PORT, MQTT port $MQTT_PORT)"
else fail "deploy.sh failed"; "$SWARM/logs.sh" --tail 40 2>&1 | tail -80; exit 1; fi
TOKEN="$(cat "$SECRETS_DIR/admin_token")"
aictl() { AICTL_TOKEN="$TOKEN" AICTL_CA_FILE="$CA" dotnet "$REPO/artifacts/swarm/aictl/AiSystem.Ctl.dll" "$@" --master "$URL"; } # the token in the environment, not argv
check() { dotnet "$CHECK_DLL" "$@" --url "$URL" --ca-file "$CA"; }
ready() { curl -fsS --cacert "$CA" -o /dev/null "$URL/healthz/ready"; }
container_of() { docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$1" | head -1; }
workers_up() { # n: the master lists n live workers and the cluster has n worker members up
  local live members
  live="$(aictl workers --json 2>/dev/null | jq '[.[] | select(.status == "idle" or .status == "busy")] | length')"
  members="$(aictl cluster show --json 2>/dev/null | jq '[.members[] | select((.roles | index("worker")) and .status == "up")] | length')"
  [ "$live" = "$1" ] && [ "$members" = "$1" ]
}

# ---------------------------------------------------------------------------------------------------------------
phase ready
if wait_for 120 ready; then pass "1. every service has its replicas and /healthz/ready answers"
else fail "1. /healthz/ready did not answer 200 within 120 s"; "$SWARM/logs.sh" master --tail 60; fi
"$SWARM/monitor.sh" --once || fail "monitor.sh --once could not show the stack"

phase secure
if dotnet "$CHECK_DLL" web-tls --host 127.0.0.1 --port "$WEB_PORT" --ca-file "$CA"; then pass "1. the web port speaks HTTPS only, with the stack's certificate"
else fail "1. the web port is not HTTPS-only with the stack's certificate"; fi
if curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$WEB_PORT/healthz/live"; then fail "1. curl got an HTTP answer from http://127.0.0.1:$WEB_PORT"
else pass "1. curl gets no answer over plain HTTP"; fi
if dotnet "$CHECK_DLL" mqtt --host 127.0.0.1 --port "$MQTT_PORT" --ca-file "$CA" --max-bytes 262144 \
    --master-password-file "$SECRETS_DIR/mqtt_master_password" --worker-password-file "$SECRETS_DIR/mqtt_worker_password"; then
  pass "1. MQTT: TLS only, one password per role, the worker role's ACL, the size limit"
else fail "1. MQTT: TLS, roles, ACL or size limit not as expected"; "$SWARM/logs.sh" mosquitto --tail 30; fi
master_container="$(container_of master)"
if [ -n "$master_container" ] && docker cp "$(dirname "$CHECK_DLL")/." "$master_container:/tmp/swarmcheck" >/dev/null &&
   docker exec "$master_container" dotnet /tmp/swarmcheck/AiSystem.SwarmCheck.dll akka-tls --host 127.0.0.1 --port 4053 --ca-file /run/secrets/tls_ca; then
  pass "1. Akka remoting on the master speaks mutual TLS with the stack's certificate"
else fail "1. Akka remoting on the master is not mutual TLS with the stack's certificate"; fi
ssl_members() { aictl cluster show --json 2>/dev/null | jq -e '(.members | length) > 0 and all(.members[]; .address | startswith("akka.ssl.tcp://"))' >/dev/null; }
if wait_for 60 ssl_members; then pass "1. every cluster member's address is akka.ssl.tcp://"
else fail "1. cluster members without TLS"; aictl cluster show; fi
leaked=""
for name in mqtt_master_password mqtt_worker_password admin_token postgres_password; do
  value="$(cat "$SECRETS_DIR/$name")"
  for service in "${STACK}_master" "${STACK}_worker" "${STACK}_mosquitto"; do
    docker service inspect "$service" | grep -qF "$value" && leaked="$leaked $name@$service"
    docker service logs "$service" 2>&1 | grep -qF "$value" && leaked="$leaked $name@$service-logs"
  done
done
if [ -z "$leaked" ]; then pass "1. no password in the services' specs or logs"; else fail "1. passwords found:$leaked"; fi

phase ask
if check ask --questions 10 --sessions 2 --label step2 --sessions-out "$W/step2.json"; then pass "2. 10 questions through the web port, all answered"
else fail "2. not all of 10 questions were answered"; "$SWARM/logs.sh" master --tail 80 2>&1 | cut -c1-400; fi
# Queued tasks carry API keys: the broker keeps nothing on disk (persistence off, no volume).
# (find exits non-zero on the folders the mosquitto user may not read: only its output counts.)
mosquitto_files="$(docker exec "$(container_of mosquitto)" sh -c 'find / -xdev -type f \( -name "*.db" -o -name "mosquitto.db*" \) -newer /etc/mosquitto/mosquitto.conf 2>/dev/null; true' || echo "docker exec failed")"
if [ -z "$mosquitto_files" ] && ! docker volume ls -q | grep -q "mosquitto"; then pass "2. the broker wrote no persistence file and has no volume"
else fail "2. the broker keeps data on disk: ${mosquitto_files:-a mosquitto volume}"; fi

phase scale-up
if "$SWARM/scale.sh" worker 5 && wait_for 60 workers_up 5; then pass "3. scale.sh worker 5: five workers registered and five worker members in the cluster"
else fail "3. five workers not seen in /api/workers and aictl cluster show within 60 s"; aictl workers; aictl cluster show; fi

phase scale-down
rm -f "$W/step4.ready"
check ask --questions 20 --sessions 4 --label step4 --ready-file "$W/step4.ready" --timeout 240 &
asker=$!
wait_for 60 test -f "$W/step4.ready" || echo "step 4: the questions were not all asked within 60 s"
"$SWARM/scale.sh" worker 1 || fail "4. scale.sh worker 1 failed"
if wait "$asker"; then pass "4. scaled down to 1 worker with 20 questions in flight: all answered exactly once"
else fail "4. questions lost, failed or answered twice while scaling down"; fi
wait_for 60 workers_up 1 && pass "4. one worker left in /api/workers and in the cluster" || { fail "4. the removed workers did not leave"; aictl cluster show; }

phase rolling
rm -f "$W/step5.ready"
check ask --questions 16 --sessions 2 --label step5 --ready-file "$W/step5.ready" --timeout 300 &
asker=$!
wait_for 60 test -f "$W/step5.ready" || echo "step 5: the questions were not all asked within 60 s"
queued="$(aictl tasks --json 2>/dev/null | jq '[.[] | select(.state == "queued")] | length' 2>/dev/null || echo '?')"
echo "step 5: $queued questions queued when the master is restarted"
started_update=$SECONDS
if docker service update --force --detach=false "${STACK}_master" >/dev/null 2>&1; then
  pass "5. docker service update --force rolled the master in $((SECONDS - started_update)) s"
else fail "5. the rolling update of the master failed"; fi
if wait "$asker"; then pass "5. every question queued across the master's restart was answered exactly once, histories intact"
else fail "5. questions lost or doubled across the master's restart"; fi
if check history --sessions-in "$W/step2.json" --label step5-history; then pass "5. sessions from before the restart resume with their whole history"
else fail "5. sessions from before the restart lost history"; fi
wait_for 60 ready && wait_for 90 workers_up 1 && pass "5. after the restart the master is ready and the worker is back in the cluster" ||
  { fail "5. after the restart the worker is not back in the cluster within 90 s"; aictl cluster show; aictl workers; }
