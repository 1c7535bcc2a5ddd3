#!/usr/bin/env bash
# The benchmark suite of issue 8. Starts Mosquitto, then for each scenario a master (fresh SQLite journal) and worker
# processes (simulated model) on free loopback ports, plays browsers with bench/LoadGen, and writes
# bench/results/<date>.md, .json and -*.png charts. Everything runs on this machine, the load generator included.
#   bench/run.sh [--quick] [--count N] [--browsers B] [--seconds S] [--sessions N] [--conn-workers W]
#                [--conn-budget S] [--trials T] [--no-profile] [--out PREFIX]
#   --conn-budget  seconds the connection scenario may spend opening sessions (default 150, to stay under 10 min)
#   --quick  a short smoke run (small counts, results under the scratch directory unless --out is given)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=2000 BROWSERS=200 SECONDS_=30 SESSIONS=10000 CONN_WORKERS=10 CONN_BUDGET=150 TRIALS=3 PROFILE=1 PROFILE_SECONDS=10 QUICK=0 OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 COUNT=200 BROWSERS=20 SECONDS_=5 SESSIONS=300 CONN_WORKERS=1 TRIALS=1 PROFILE_SECONDS=5; shift ;;
    --count) COUNT=$2; shift 2 ;; --browsers) BROWSERS=$2; shift 2 ;; --seconds) SECONDS_=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;; --conn-budget) CONN_BUDGET=$2; shift 2 ;; --conn-workers) CONN_WORKERS=$2; shift 2 ;; --trials) TRIALS=$2; shift 2 ;;
    --no-profile) PROFILE=0; shift ;; --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)"; exit 2 ;;
  esac
done

START=$SECONDS
say() { printf '[%s +%ds] %s\n' "$(date -u +%T)" $((SECONDS - START)) "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { # condition, what, seconds
  local until=$((SECONDS + ${3:-60}))
  while [ $SECONDS -lt $until ]; do if eval "$1" >/dev/null 2>&1; then return 0; fi; sleep 0.2; done
  say "timed out waiting for $2"; exit 1
}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

scratch=$(mktemp -d /tmp/aisystem-bench.XXXXXX)
mosquitto_pid="" master_pid="" worker_pids=() worker_list=""
# Processes are started detached (not jobs of this shell) and stopped with SIGKILL: a benchmark needs no graceful
# cluster leave (it takes a worker 10 s once its peers are gone), and the failover scenario kills workers itself.
stop_pid() {
  local p=$1; kill -9 "$p" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    [ -e /proc/$p ] || return 0
    [ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
}
stop_cluster() {
  local p
  for p in "${worker_pids[@]}" $master_pid; do stop_pid "$p"; done
  worker_pids=() worker_list="" master_pid=""
}
cleanup() { stop_cluster; [ -n "$mosquitto_pid" ] && stop_pid "$mosquitto_pid"; [ "$QUICK" = 1 ] || rm -rf "$scratch"; }
trap cleanup EXIT

say "Building (Release): master, worker, load generator; restoring dotnet-trace/dotnet-counters (bench/dotnet-tools.json)..."
dotnet build src/Master -c Release -v q -nologo >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
dotnet build src/Worker -c Release -v q -nologo >>"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
dotnet build bench/LoadGen -c Release -v q -nologo >>"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
(cd bench && dotnet tool restore >/dev/null) || { say "dotnet tool restore failed: no profile"; PROFILE=0; }

MQTT=$(free_port)
# set_tcp_nodelay as in deploy/swarm's mosquitto.conf: with Mosquitto's default (Nagle on) every hop through the
# broker can wait for a delayed ACK, up to 40 ms (an earlier run measured p50 47.7 ms without it, 10.1 ms with it).
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nset_tcp_nodelay true\n' "$MQTT" > "$scratch/mosquitto.conf"
mosquitto_pid=$(mosquitto -c "$scratch/mosquitto.conf" >"$scratch/mosquitto.log" 2>&1 & echo $!)
wait_for "(echo > /dev/tcp/127.0.0.1/$MQTT)" "mosquitto"
common=(Mqtt__Host=127.0.0.1 Mqtt__Port=$MQTT Logging__LogLevel__Default=Warning Logging__LogLevel__AiSystem=Warning)

start_master() { # name
  HTTP=$(free_port); local grpc akka; grpc=$(free_port); akka=$(free_port); AKKA=$akka
  master_pid=$(cd src/Master || exit 1; env "${common[@]}" Master__HttpPort=$HTTP Master__GrpcPort=$grpc Master__PublicGrpcEndpoint=127.0.0.1:$grpc \
    Master__LocalWorkers=0 Master__DrainTimeout=00:00:01 Akka__Port=$akka \
    Limits__MaxQueriesPerMinute=1000000 Limits__MaxQueuedTasks=1000000 \
    Persistence__ConnectionString="Data Source=$scratch/$1.db" dotnet bin/Release/net10.0/AiSystem.Master.dll >"$scratch/master-$1.log" 2>&1 & echo $!)
  wait_for "curl -sf http://127.0.0.1:$HTTP/healthz/ready" "the master" 90
  MASTER=http://127.0.0.1:$HTTP
}
start_workers() { # first-number count delay capacity
  local n pid
  for n in $(seq "$1" $(($1 + $2 - 1))); do
    pid=$(cd src/Worker || exit 1; env "${common[@]}" Worker__Id=bench-worker-$n Worker__SimulatedDelay=$3 Worker__Capacity=$4 \
      Worker__ShutdownTimeout=00:00:01 Akka__SeedNodes=akka.tcp://ai-system@localhost:$AKKA \
      dotnet bin/Release/net10.0/AiSystem.Worker.dll >"$scratch/worker-$n.log" 2>&1 & echo $!)
    worker_pids+=("$pid"); worker_list="$worker_list${worker_list:+,}bench-worker-$n=$pid"
  done
  local want=${#worker_pids[@]}
  wait_for "[ \$(curl -sf $MASTER/api/workers | grep -o '\"id\"' | wc -l) -ge $want ]" "$want workers" 120
}
gen() { dotnet bench/LoadGen/bin/Release/net10.0/AiSystem.LoadGen.dll "$@"; }
report() { python3 bench/report.py line "$@"; }

say "Load before the run: $(cat /proc/loadavg)"
python3 bench/report.py fsync "$scratch" > "$scratch/fsync.json"
say "Disk under the journal: 4 KiB write + fsync $(python3 -c "import json;d=json.load(open('$scratch/fsync.json'));print(f\"p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms\")")"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

say "Scenario 2: transport floor, $COUNT round trips each (SignalR echo, MQTT publish→receive via Mosquitto, gRPC unary)..."
gen floor --mqtt-port "$MQTT" --count "$COUNT" > "$scratch/floor.json"
report floor "$scratch/floor.json"

say "Starting master A and 2 workers (delay 0, capacity 1024)..."
start_master a
start_workers 1 2 00:00:00 1024
say "Scenario 1: latency, one browser, $COUNT questions one after another..."
gen latency --master "$MASTER" --count "$COUNT" > "$scratch/latency.json"
report latency "$scratch/latency.json" "$scratch/floor.json"

say "Scenario 3: throughput, $BROWSERS browsers for $SECONDS_ s, 2 worker processes..."
gen throughput --master "$MASTER" --browsers "$BROWSERS" --seconds "$SECONDS_" --master-pid "$master_pid" > "$scratch/throughput-2.json"
report throughput "$scratch/throughput-2.json"
say "Starting 2 more workers..."
start_workers 3 2 00:00:00 1024
say "Scenario 3: throughput, $BROWSERS browsers for $SECONDS_ s, 4 worker processes..."
gen throughput --master "$MASTER" --browsers "$BROWSERS" --seconds "$SECONDS_" --master-pid "$master_pid" > "$scratch/throughput-4.json"
report throughput "$scratch/throughput-4.json"

if [ "$PROFILE" = 1 ]; then
  say "Profile: $PROFILE_SECONDS s of the 4-worker throughput load under dotnet-trace (sampled thread time) and dotnet-counters (not counted above)..."
  d=00:00:00:$(printf '%02d' "$PROFILE_SECONDS")
  (cd bench && exec dotnet dotnet-trace collect -p "$master_pid" --profile dotnet-sampled-thread-time --duration "$d" -o "$scratch/master.nettrace") >"$scratch/trace.log" 2>&1 &
  trace_pid=$!
  (cd bench && exec dotnet dotnet-counters collect -p "$master_pid" --counters System.Runtime --format json --duration "$d" -o "$scratch/counters.json") >"$scratch/counters.log" 2>&1 &
  counters_pid=$!
  sleep 2 # both sessions attached before the load starts
  python3 bench/report.py threads "$master_pid" > "$scratch/threads-before.json"
  gen throughput --master "$MASTER" --browsers "$BROWSERS" --seconds "$PROFILE_SECONDS" --master-pid "$master_pid" > "$scratch/throughput-profiled.json"
  python3 bench/report.py threads "$master_pid" > "$scratch/threads-after.json"
  wait "$trace_pid" || say "dotnet-trace failed: $(tail -3 "$scratch/trace.log")"
  wait "$counters_pid" || say "dotnet-counters failed: $(tail -3 "$scratch/counters.log")"
  say "  profiled run: $(python3 -c "import json;r=json.load(open('$scratch/throughput-profiled.json'));print(r['answers_per_second'],'answers/s')")"
  (cd bench && dotnet dotnet-trace report "$scratch/master.nettrace" topN -n 25) > "$scratch/top-exclusive.txt" 2>&1 || true
  (cd bench && dotnet dotnet-trace convert "$scratch/master.nettrace" --format Speedscope -o "$scratch/master") > "$scratch/convert.log" 2>&1 || true
  (cd bench && dotnet dotnet-trace report "$scratch/master.nettrace" topN -n 40 --inclusive) > "$scratch/top-inclusive.txt" 2>&1 || true
  say "  top methods by exclusive samples (wall clock, waits included):"; sed -n '1,14p' "$scratch/top-exclusive.txt" | sed 's/^/    /'
  say "Profile: one browser asking one question after another (as scenario 1) for $PROFILE_SECONDS s, dotnet-trace on the master and on the worker that answered scenario 1 (not counted above)..."
  (cd bench && exec dotnet dotnet-trace collect -p "$master_pid" --profile dotnet-sampled-thread-time --duration "$d" -o "$scratch/master-latency.nettrace") >"$scratch/trace-latency.log" 2>&1 &
  trace_pid=$!
  # trace the worker that answered scenario 1's questions (the dispatcher keeps choosing the same idle worker)
  traced=$(python3 -c "import json;a=json.load(open('$scratch/latency.json'))['assigned_to'];print(max(a,key=a.get) if a else 'bench-worker-1')")
  traced_pid=$(tr ',' '\n' <<<"$worker_list" | awk -F= -v w="$traced" '$1==w {print $2}')
  echo "$traced" > "$scratch/traced-worker.txt"
  (cd bench && exec dotnet dotnet-trace collect -p "$traced_pid" --profile dotnet-sampled-thread-time --duration "$d" -o "$scratch/worker-latency.nettrace") >"$scratch/trace-worker.log" 2>&1 &
  worker_trace_pid=$!
  sleep 2
  gen latency --master "$MASTER" --count $((PROFILE_SECONDS * 10)) > "$scratch/latency-profiled.json"
  wait "$trace_pid" || say "dotnet-trace failed: $(tail -3 "$scratch/trace-latency.log")"
  wait "$worker_trace_pid" || say "dotnet-trace (worker) failed: $(tail -3 "$scratch/trace-worker.log")"
  (cd bench && dotnet dotnet-trace convert "$scratch/master-latency.nettrace" --format Speedscope -o "$scratch/master-latency") >> "$scratch/convert.log" 2>&1 || true
  (cd bench && dotnet dotnet-trace convert "$scratch/worker-latency.nettrace" --format Speedscope -o "$scratch/worker-latency") >> "$scratch/convert.log" 2>&1 || true
  say "  profiled run: p50 $(python3 -c "import json;r=json.load(open('$scratch/latency-profiled.json'));print(r['p50_ms'],'ms')")"
fi
stop_cluster

CAP=$(( (SESSIONS + CONN_WORKERS - 1) / CONN_WORKERS )); [ "$CAP" -gt 1024 ] && CAP=1024
say "Scenario 4: connections. Master B and $CONN_WORKERS workers (10 s simulated delay, $CAP slots each)..."
start_master b
start_workers 1 "$CONN_WORKERS" 00:00:10 "$CAP"
say "  $SESSIONS browser sessions, each asks one question and waits for its answer..."
gen connections --master "$MASTER" --sessions "$SESSIONS" --parallel 128 --budget-seconds "$CONN_BUDGET" --master-pid "$master_pid" > "$scratch/connections.json"
report connections "$scratch/connections.json"
stop_cluster

FO_DELAY_MS=3000
say "Scenario 5: failover. Master C and $((TRIALS + 1)) workers (3 s simulated delay, 1 slot each); $TRIALS busy worker(s) killed with SIGKILL..."
start_master c
start_workers 1 $((TRIALS + 1)) 00:00:03 1
gen failover --master "$MASTER" --workers "$worker_list" --delay-ms $FO_DELAY_MS --trials "$TRIALS" --busy-ms 1000 > "$scratch/failover.json"
report failover "$scratch/failover.json"
stop_cluster

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
stamp=$(date -u +%Y-%m-%d)
out=${OUT:-bench/results/$stamp}
[ "$QUICK" = 1 ] && [ -z "$OUT" ] && out=$scratch/results/$stamp
mkdir -p "$(dirname "$out")"
python3 bench/report.py combine "$scratch" "$out" "$LOAD_BEFORE" "$LOAD_AFTER" "$((SECONDS - START))" "$(nproc)" \
  "$(free -g | awk '/Mem:/ {print $2}')" "$COUNT" "$BROWSERS" "$SECONDS_" "$SESSIONS" "$CONN_WORKERS" "$CAP" "$TRIALS" "$FO_DELAY_MS"
gen charts --results "$out.json" --prefix "$out" > "$scratch/charts.json"
python3 bench/report.py markdown "$out.json" "$out.md" "$scratch"
say "Done in $((SECONDS - START)) s: $out.md, $out.json, $(python3 -c "import json;print(', '.join(json.load(open('$scratch/charts.json'))))")"
