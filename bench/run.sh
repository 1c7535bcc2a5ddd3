#!/usr/bin/env bash
# The benchmark of issue 12: ours beside the original (../shared/peers/seedbench) in the same run, on our default
# settings, in the original's two shapes, then ours alone: many slots, 10,000 sessions, failover, a perf profile.
# Writes bench/results/<date>.md, .json and -*.png charts. Everything runs on this machine, the load generators too.
#   bench/run.sh [--quick] [--warmup S] [--seconds S] [--shapes WxS,...] [--sessions N] [--conn-workers W]
#                [--conn-budget S] [--trials T] [--profile-seconds S] [--profile-shape WxS|best] [--no-original]
#                [--no-profile] [--only PARTS] [--out PREFIX]
#   --warmup, --seconds  warm-up and measured window of every side-by-side and many-slot run (default 30 and 30)
#   --shapes             ours-only worker shapes at 200 browsers, workers x slots (default 1x1024,2x1024,4x16)
#   --sessions           connection scenario size (default 10000; 10 workers x 1024 slots, 10 s simulated delay)
#   --no-original        skip seedbench (no ratios); --no-profile: skip the perf pass
#   --only               some parts only, comma separated: a, b, shapes, connections, failover, profile
#   --quick              a smoke run: short windows, small counts, results under the scratch directory
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SEEDBENCH=$(cd "$ROOT/../shared/peers/seedbench" 2>/dev/null && pwd || echo /work/shared/peers/seedbench)
WARMUP=30 SECONDS_=30 SHAPES=1x1024,2x1024,4x16 SESSIONS=10000 CONN_WORKERS=10 CONN_BUDGET=60 CONN_PARALLEL=128 TRIALS=3
PROFILE=1 PROFILE_SECONDS=10 PROFILE_SHAPE=best ORIGINAL=1 QUICK=0 OUT="" FLOOR_COUNT=2000 BROWSERS=200 ONLY=""
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 WARMUP=3 SECONDS_=5 SHAPES=2x1024 SESSIONS=500 CONN_WORKERS=1 TRIALS=1 PROFILE_SECONDS=4 FLOOR_COUNT=300; shift ;;
    --warmup) WARMUP=$2; shift 2 ;; --seconds) SECONDS_=$2; shift 2 ;; --shapes) SHAPES=$2; shift 2 ;;
    --sessions) SESSIONS=$2; shift 2 ;; --conn-workers) CONN_WORKERS=$2; shift 2 ;; --conn-budget) CONN_BUDGET=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;; --profile-seconds) PROFILE_SECONDS=$2; shift 2 ;; --profile-shape) PROFILE_SHAPE=$2; shift 2 ;;
    --no-original) ORIGINAL=0; shift ;; --no-profile) PROFILE=0; shift ;; --out) OUT=$2; shift 2 ;; --only) ONLY=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see --help)"; exit 2 ;;
  esac
done

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
START=$SECONDS
say() { printf '[%s +%ds] %s\n' "$(date -u +%T)" $((SECONDS - START)) "$*"; }
USED_PORTS=" "
free_port() { # a free loopback port not handed out before in this run
  local p
  while :; do
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    [[ "$USED_PORTS" == *" $p "* ]] || { USED_PORTS="$USED_PORTS$p "; echo "$p"; return; }
  done
}
wait_for() { # condition, what, seconds: false (and a message) if it does not hold in time
  local until=$((SECONDS + ${3:-60}))
  while [ $SECONDS -lt $until ]; do if eval "$1" >/dev/null 2>&1; then return 0; fi; sleep 0.2; done
  say "timed out waiting for $2"; return 1
}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

scratch=$(mktemp -d /tmp/aisystem-bench.XXXXXX)
master_pid="" worker_pids=() worker_list="" bg_pids=() perf_maps=()
# Our processes are started detached (not jobs of this shell) and stopped by pid with SIGKILL: a benchmark needs no
# graceful cluster leave, and the failover scenario kills workers itself. seedbench's run.sh, LoadGen, perf and
# dotnet-counters run as background jobs whose pids are kept (seedbench's run.sh stops what it started on TERM).
stop_pid() {
  local p=$1 sig=${2:-KILL}
  kill -"$sig" "$p" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    [ -e "/proc/$p" ] || return 0
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  kill -KILL "$p" 2>/dev/null || true
}
stop_cluster() {
  local p
  for p in "${worker_pids[@]}" $master_pid; do stop_pid "$p"; done
  worker_pids=() worker_list="" master_pid=""
}
cleanup() {
  local p
  for p in "${bg_pids[@]}"; do stop_pid "$p" TERM; done
  stop_cluster
  for p in "${perf_maps[@]}"; do rm -f "/tmp/perf-$p.map" "/tmp/perfinfo-$p.map"; done
  [ "$QUICK" = 1 ] || [ -n "${KEEP_SCRATCH:-}" ] || rm -rf "$scratch"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM
run_bg() { # run_bg OUTFILE ERRFILE CMD...: a background job whose pid is kept; waits for it, returns its status
  local out=$1 err=$2; shift 2
  "$@" >"$out" 2>"$err" &
  local pid=$!
  bg_pids+=("$pid")
  local rc=0
  wait "$pid" || rc=$?
  bg_pids=("${bg_pids[@]/$pid}")
  return $rc
}

say "Building (Release): master, worker, load generator; restoring dotnet-counters (bench/dotnet-tools.json)..."
for proj in src/Master src/Worker bench/LoadGen; do
  dotnet build "$proj" -c Release -v q -nologo >>"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
done
COUNTERS=1
(cd bench && dotnet tool restore >/dev/null 2>&1) || { say "dotnet tool restore failed: no runtime counters in the profile"; COUNTERS=0; }
if [ "$ORIGINAL" = 1 ]; then
  say "seedbench: setup.sh (idempotent) in $SEEDBENCH..."
  "$SEEDBENCH/setup.sh" >"$scratch/seedbench-setup.log" 2>&1 || { say "seedbench setup failed (see $scratch/seedbench-setup.log): no original"; ORIGINAL=0; }
fi

gen() { dotnet bench/LoadGen/bin/Release/net10.0/AiSystem.LoadGen.dll "$@"; }
report() { python3 bench/report.py "$@"; }

# --- ours on its default settings -----------------------------------------------------------------------------------
describe_env() { # master|worker ENV...: the environment as the results file shows it, ports and paths by what they are
  local e who=$1; shift
  for e in "$@"; do
    case "${e%%=*}" in
      Master__HttpPort|Master__GrpcPort|Akka__Port) echo "${e%%=*}=<free port>" ;;
      Mqtt__Port) [ "$who" = master ] && echo "Mqtt__Port=<free port>" || echo "Mqtt__Port=<the master's Mqtt__Port>" ;;
      Master__PublicGrpcEndpoint) echo "${e%%=*}=127.0.0.1:<Master__GrpcPort>" ;;
      Persistence__ConnectionString) echo "${e%%=*}=Data Source=\$scratch/<run>.db" ;;
      Worker__Id) echo "Worker__Id=bench-worker-<n>" ;;
      Worker__Capacity) echo "Worker__Capacity=<slots of the shape>" ;;
      Akka__SeedNodes) echo "Akka__SeedNodes=akka.tcp://ai-system@localhost:<the master's Akka__Port>" ;;
      *) echo "$e" ;;
    esac
  done
}
start_master() { # NAME [ENV=VALUE...]: extra environment only for the profiled master
  local name=$1; shift
  HTTP=$(free_port) GRPC=$(free_port) MQTT=$(free_port) AKKA=$(free_port)
  local envs=(Master__HttpPort=$HTTP Master__GrpcPort=$GRPC Master__PublicGrpcEndpoint=127.0.0.1:$GRPC Mqtt__Port=$MQTT Akka__Port=$AKKA
    Master__LocalWorkers=0 Limits__MaxQueriesPerMinute=1000000 Limits__MaxQueuedTasks=1000000
    "Persistence__ConnectionString=Data Source=$scratch/$name.db")
  [ -s "$scratch/master-env.txt" ] || describe_env master "${envs[@]}" > "$scratch/master-env.txt"
  master_pid=$(cd src/Master || exit 1; env -u Mqtt__Host "${envs[@]}" "$@" dotnet bin/Release/net10.0/AiSystem.Master.dll >"$scratch/master-$name.log" 2>&1 & echo $!)
  MASTER=http://127.0.0.1:$HTTP
  wait_for "curl -sf $MASTER/healthz/ready" "the master ($scratch/master-$name.log)" 90
}
start_workers() { # FIRST COUNT DELAY CAPACITY
  local n pid
  for n in $(seq "$1" $(($1 + $2 - 1))); do
    local envs=(Mqtt__Host=127.0.0.1 Mqtt__Port=$MQTT Worker__Id=bench-worker-$n Worker__Capacity=$4 Worker__SimulatedDelay=$3
      Akka__SeedNodes=akka.tcp://ai-system@localhost:$AKKA)
    [ -s "$scratch/worker-env.txt" ] || describe_env worker "${envs[@]}" > "$scratch/worker-env.txt"
    pid=$(cd src/Worker || exit 1; env "${envs[@]}" dotnet bin/Release/net10.0/AiSystem.Worker.dll >"$scratch/worker-$n.log" 2>&1 & echo $!)
    worker_pids+=("$pid"); worker_list="$worker_list${worker_list:+,}bench-worker-$n=$pid"
  done
  local want=${#worker_pids[@]}
  wait_for "[ \$(curl -sf $MASTER/api/workers | grep -o '\"id\"' | wc -l) -ge $want ]" "$want workers" 120
}

# ours_run ID SHORT TITLE BROWSERS WORKERS SLOTS SEED [HOOK]: a fresh master and its workers, the closed loop, the journal count
ours_run() {
  local id=$1 short=$2 title=$3 browsers=$4 workers=$5 slots=$6 seed=$7 hook=${8:-}
  grep -q "^$id|" "$scratch/runs.txt" 2>/dev/null || echo "$id|$short|$title|$browsers|$workers|$slots|$seed" >> "$scratch/runs.txt"
  say "ours $short: master + $workers worker process(es) x $slots slot(s), $browsers browser(s), warm-up ${WARMUP} s, window ${SECONDS_} s..."
  if ! start_master "$id" || ! start_workers 1 "$workers" 00:00:00 "$slots"; then
    echo "the master or its workers did not start (logs in $scratch)" > "$scratch/ours-$id.err"; stop_cluster; return 0
  fi
  if run_bg "$scratch/ours-$id.json" "$scratch/ours-$id.err" gen throughput --master "$MASTER" --browsers "$browsers" --warmup "$WARMUP" \
      --seconds "$SECONDS_" --master-pid "$master_pid"; then
    [ -n "$hook" ] && $hook
    local db=$scratch/$id.db
    stop_cluster
    report journal "$db" "$scratch/ours-$id.json" > "$scratch/ours-$id.journal.json" 2>>"$scratch/ours-$id.err" || true
  else
    say "  LoadGen failed: $(tail -2 "$scratch/ours-$id.err")"; rm -f "$scratch/ours-$id.json"; stop_cluster
  fi
  report line ours "$scratch/ours-$id.json" "$scratch/ours-$id.journal.json" "$scratch/original-$id.json"
}
original_run() { # ID SESSIONS WORKERS: seedbench's run.sh with the same warm-up and window
  local id=$1
  [ "$ORIGINAL" = 1 ] || return 0
  say "original: seedbench run.sh $2 $SECONDS_ $3 (WARMUP=$WARMUP)..."
  run_bg "$scratch/original-$id.out" "$scratch/original-$id.err" env WARMUP="$WARMUP" "$SEEDBENCH/run.sh" "$2" "$SECONDS_" "$3" || true
  report seed "$scratch/original-$id.out" "$SECONDS_" > "$scratch/original-$id.json"
  report line original "$scratch/original-$id.json"
}
floor_hook() { # while shape A's master is idle: the transport floor through its embedded broker
  say "transport floor: $FLOOR_COUNT round trips each (SignalR echo, MQTT publish→receive via the master's embedded broker, gRPC unary)..."
  if run_bg "$scratch/floor.json" "$scratch/floor.err" gen floor --mqtt-port "$MQTT" --count "$FLOOR_COUNT"; then
    report line floor "$scratch/floor.json"
  else
    say "  floor failed: $(tail -2 "$scratch/floor.err")"; rm -f "$scratch/floor.json"
  fi
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "Load before the run: $LOAD_BEFORE"
report fsync "$scratch" > "$scratch/fsync.json"
: > "$scratch/runs.txt"

# 1. The seed shapes, side by side, each pair back to back.
if want a; then
  original_run A 1 1
  ours_run A "A: 1 browser, 1×1" "A: 1 browser, 1 worker process × 1 slot" 1 1 1 1 floor_hook
fi
if want b; then
  original_run B "$BROWSERS" 4
  ours_run B "B: 200 browsers, 4×1" "B: 200 browsers, 4 worker processes × 1 slot" "$BROWSERS" 4 1 1
fi

# 2. Ours alone with many slots.
want shapes || SHAPES=""
for shape in ${SHAPES//,/ }; do
  w=${shape%x*} s=${shape#*x}
  ours_run "$shape" "200 browsers, ${w}×${s}" "ours only: 200 browsers, $w worker process(es) × $s slots" "$BROWSERS" "$w" "$s" 0
done

# 3. Connections: many sessions, each asks one question, the model takes 10 s.
CAP=$(( (SESSIONS + CONN_WORKERS - 1) / CONN_WORKERS )); [ "$CAP" -gt 1024 ] && CAP=1024
if want connections; then
say "connections: master + $CONN_WORKERS workers x $CAP slots (10 s simulated delay); $SESSIONS sessions, each asks one question..."
if start_master conn && start_workers 1 "$CONN_WORKERS" 00:00:10 "$CAP"; then
  run_bg "$scratch/connections.json" "$scratch/connections.err" gen connections --master "$MASTER" --sessions "$SESSIONS" \
    --parallel "$CONN_PARALLEL" --budget-seconds "$CONN_BUDGET" --delay-ms 10000 --answer-cap-seconds 60 --master-pid "$master_pid" \
    || { say "  connections failed: $(tail -2 "$scratch/connections.err")"; rm -f "$scratch/connections.json"; }
  [ -f "$scratch/connections.json" ] && report line connections "$scratch/connections.json"
fi
stop_cluster
fi

# 4. Failover: a busy worker killed with SIGKILL.
FO_DELAY_MS=3000
if want failover; then
say "failover: master + $((TRIALS + 1)) workers (3 s simulated delay, 1 slot each); $TRIALS busy worker(s) killed with SIGKILL..."
if start_master failover && start_workers 1 $((TRIALS + 1)) 00:00:03 1; then
  run_bg "$scratch/failover.json" "$scratch/failover.err" gen failover --master "$MASTER" --workers "$worker_list" --delay-ms $FO_DELAY_MS \
    --trials "$TRIALS" --busy-ms 1000 || { say "  failover failed: $(tail -2 "$scratch/failover.err")"; rm -f "$scratch/failover.json"; }
  [ -f "$scratch/failover.json" ] && report line failover "$scratch/failover.json"
fi
stop_cluster
fi

# 5. Profile: a master of its own (perf map on, W^X off: the only differences), perf record over a measured window.
profile_pass() { # KEY TITLE BROWSERS WARMUP
  local key=$1 title=$2 browsers=$3 warm=$4 wf=$scratch/profile-$1.window
  rm -f "$wf"
  gen throughput --master "$MASTER" --browsers "$browsers" --warmup "$warm" --seconds "$PROFILE_SECONDS" --master-pid "$master_pid" \
    --window-file "$wf" > "$scratch/profile-$key.tp.json" 2>"$scratch/profile-$key.tp.err" &
  local lg=$!; bg_pids+=("$lg")
  local until=$((SECONDS + 120))
  while [ ! -s "$wf" ] && kill -0 "$lg" 2>/dev/null && [ $SECONDS -lt $until ]; do sleep 0.05; done
  local pp="" cp=""
  if [ -s "$wf" ]; then
    perf record -F 499 -g -p "$master_pid" -o "$scratch/perf-$key.data" -- sleep "$PROFILE_SECONDS" >"$scratch/perf-$key.log" 2>&1 &
    pp=$!; bg_pids+=("$pp")
    if [ "$key" = many ]; then
      report threads "$master_pid" > "$scratch/threads-before.json" 2>/dev/null || true
      if [ "$COUNTERS" = 1 ]; then
        (cd bench && exec dotnet dotnet-counters collect -p "$master_pid" --counters System.Runtime --format json \
          --duration "00:00:00:$(printf '%02d' "$PROFILE_SECONDS")" -o "$scratch/counters.json") >"$scratch/counters.log" 2>&1 &
        cp=$!; bg_pids+=("$cp")
      fi
    fi
  fi
  wait "$lg" || echo "$title: LoadGen failed: $(tail -1 "$scratch/profile-$key.tp.err")" >> "$scratch/profile.err"
  [ "$key" = many ] && [ -n "$pp" ] && report threads "$master_pid" > "$scratch/threads-after.json" 2>/dev/null
  [ -n "$pp" ] && { wait "$pp" || echo "$title: perf record failed: $(tail -2 "$scratch/perf-$key.log" | tr '\n' ' ')" >> "$scratch/profile.err"; }
  [ -n "$cp" ] && { wait "$cp" || echo "dotnet-counters failed: $(tail -1 "$scratch/counters.log")" >> "$scratch/profile.err"; }
  [ -s "$wf" ] || echo "$title: the measured window never started" >> "$scratch/profile.err"
  bg_pids=()
  return 0
}
want profile || PROFILE=0
if [ "$PROFILE" = 1 ]; then
  if [ "$PROFILE_SHAPE" = best ]; then read -r pid_ pw ps < <(report best "$scratch") || true; else pw=${PROFILE_SHAPE%x*} ps=${PROFILE_SHAPE#*x}; fi
  pw=${pw:-4} ps=${ps:-1}
  echo "${pw} worker process(es) × ${ps} slot(s)" > "$scratch/profile-shape.txt"
  say "profile: a master with DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0, $pw workers x $ps slots; perf record -g over $PROFILE_SECONDS s windows..."
  if ! command -v perf >/dev/null; then
    echo "perf is not installed" > "$scratch/profile.err"
  elif start_master profile DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 && start_workers 1 "$pw" 00:00:00 "$ps"; then
    perf_maps+=("$master_pid")
    profile_pass many "$BROWSERS browsers, ${pw}×${ps}" "$BROWSERS" "$WARMUP"
    profile_pass one "1 browser, ${pw}×${ps}" 1 3
    mpid=$master_pid
    stop_cluster
    [ -f "$scratch/threads-before.json" ] && [ -f "$scratch/threads-after.json" ] && \
      report threadcpu "$scratch/threads-before.json" "$scratch/threads-after.json" > "$scratch/profile-threads.json" 2>/dev/null
    for key in many one; do
      [ -s "$scratch/perf-$key.data" ] && [ -s "$scratch/profile-$key.tp.json" ] || continue
      title="$( [ $key = many ] && echo "$BROWSERS browsers" || echo "1 browser" ), ${pw}×${ps}"
      if perf script -i "$scratch/perf-$key.data" -F comm,tid,period,ip,sym,dso > "$scratch/perf-$key.stacks" 2>"$scratch/perf-$key.script.err"; then
        report perf "$scratch/perf-$key.stacks" "$scratch/profile-$key.tp.json" "$title" "$scratch/perf-$key.folded" > "$scratch/profile-$key.json" \
          || echo "$title: report.py perf failed" >> "$scratch/profile.err"
        report line profile "$scratch/profile-$key.json"
      else
        echo "$title: perf script failed: $(tail -1 "$scratch/perf-$key.script.err")" >> "$scratch/profile.err"
      fi
      rm -f "$scratch/perf-$key.stacks"
    done
    rm -f "/tmp/perf-$mpid.map" "/tmp/perfinfo-$mpid.map"
  else
    echo "the profiled master or its workers did not start" >> "$scratch/profile.err"
  fi
  stop_cluster
  [ -s "$scratch/profile.err" ] && say "  profile problems: $(tr '\n' ' ' < "$scratch/profile.err")"
fi

# 6. The results.
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
stamp=$(date -u +%Y-%m-%d)
out=${OUT:-bench/results/$stamp}
[ "$QUICK" = 1 ] && [ -z "$OUT" ] && out=$scratch/results/$stamp
mkdir -p "$(dirname "$out")"
report combine "$scratch" "$out" quick=$QUICK load_before="$LOAD_BEFORE" load_after="$LOAD_AFTER" run_seconds=$((SECONDS - START)) \
  cores="$(nproc)" gib="$(free -g | awk '/Mem:/ {print $2}')" git="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo '+changes')" \
  warmup_seconds="$WARMUP" seconds="$SECONDS_" shapes="$SHAPES" sessions="$SESSIONS" conn_workers="$CONN_WORKERS" conn_capacity="$CAP" \
  conn_budget="$CONN_BUDGET" conn_parallel="$CONN_PARALLEL" trials="$TRIALS" failover_delay_ms=$FO_DELAY_MS profile_seconds="$PROFILE_SECONDS" \
  profile_shape="$(cat "$scratch/profile-shape.txt" 2>/dev/null || echo none)" floor_broker="the embedded broker of shape A's master (MQTTnet)"
gen charts --results "$out.json" --prefix "$out" > "$scratch/charts.json" 2>"$scratch/charts.err" || say "charts failed: $(tail -2 "$scratch/charts.err")"
report markdown "$out.json" "$out.md"
report summary "$out.json"
say "Done in $((SECONDS - START)) s: $out.md, $out.json, $(python3 -c "import json;print(', '.join(json.load(open('$scratch/charts.json'))))" 2>/dev/null)"
if [ "$QUICK" = 1 ] || [ -n "${KEEP_SCRATCH:-}" ]; then say "scratch directory (kept): $scratch"; fi
