#!/usr/bin/env bash
# Benchmarks (a first cut of issue 8): starts Mosquitto, a master and worker processes with the simulated model and
# no simulated delay, on free loopback ports, then measures end-to-end latency and throughput with bench/LoadGen.
# Writes bench/results/<date>.md and .json. Everything runs on this machine, the load generator included.
#   bench/run.sh [--count N] [--browsers B] [--seconds S] [--workers W]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=2000 BROWSERS=200 SECONDS_=30 WORKERS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --count) COUNT=$2; shift 2 ;; --browsers) BROWSERS=$2; shift 2 ;;
    --seconds) SECONDS_=$2; shift 2 ;; --workers) WORKERS=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)"; exit 2 ;;
  esac
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_for() { for _ in $(seq 1 300); do if eval "$1" >/dev/null 2>&1; then return 0; fi; sleep 0.2; done; echo "timed out: $2"; exit 1; }

scratch=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$scratch"; }
trap cleanup EXIT

echo "Building (Release)..."
dotnet build src/Master -c Release -v q -nologo >/dev/null
dotnet build src/Worker -c Release -v q -nologo >/dev/null
dotnet build bench/LoadGen -c Release -v q -nologo >/dev/null

MQTT=$(free_port); HTTP=$(free_port); GRPC=$(free_port); AKKA=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$MQTT" > "$scratch/mosquitto.conf"
mosquitto -c "$scratch/mosquitto.conf" >"$scratch/mosquitto.log" 2>&1 & pids+=($!)
wait_for "(echo > /dev/tcp/127.0.0.1/$MQTT)" "mosquitto"

common=(Mqtt__Host=127.0.0.1 Mqtt__Port=$MQTT Logging__LogLevel__Default=Warning Logging__LogLevel__AiSystem=Warning)
(cd src/Master && exec env "${common[@]}" Master__HttpPort=$HTTP Master__GrpcPort=$GRPC Master__PublicGrpcEndpoint=127.0.0.1:$GRPC \
  Master__LocalWorkers=0 Akka__Port=$AKKA Limits__MaxQueriesPerMinute=1000000 Limits__MaxQueuedTasks=1000000 \
  Persistence__ConnectionString="Data Source=$scratch/bench.db" dotnet bin/Release/net10.0/AiSystem.Master.dll >"$scratch/master.log" 2>&1) & pids+=($!)
wait_for "curl -sf http://127.0.0.1:$HTTP/healthz/ready" "the master"
for n in $(seq 1 "$WORKERS"); do
  (cd src/Worker && exec env "${common[@]}" Worker__Id=bench-worker-$n Worker__SimulatedDelay=00:00:00 Worker__Capacity=256 \
    Akka__SeedNodes=akka.tcp://ai-system@localhost:$AKKA dotnet bin/Release/net10.0/AiSystem.Worker.dll >"$scratch/worker-$n.log" 2>&1) & pids+=($!)
done
wait_for "[ \$(curl -sf http://127.0.0.1:$HTTP/api/workers | grep -o '\"id\"' | wc -l) -ge $WORKERS ]" "$WORKERS workers"

gen() { dotnet bench/LoadGen/bin/Release/net10.0/AiSystem.LoadGen.dll "$@" --master "http://127.0.0.1:$HTTP"; }
peak_rss() { awk '/VmHWM/ {print $2}' /proc/$(pgrep -f AiSystem.Master.dll | head -1)/status; }

echo "Scenario 1: latency, one browser, $COUNT questions one after another..."
latency=$(gen latency --count "$COUNT")
echo "  $latency"
echo "Scenario 3: throughput, $BROWSERS browsers for $SECONDS_ s, $WORKERS worker processes..."
throughput=$(gen throughput --browsers "$BROWSERS" --seconds "$SECONDS_")
echo "  $throughput"
rss_kb=$(peak_rss)

stamp=$(date -u +%Y-%m-%d)
out=bench/results/$stamp
cat > "$out.json" <<JSON
{"date":"$(date -u +%FT%TZ)","machine":"$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB","workers":$WORKERS,
 "latency":$latency,"throughput":$throughput,"master_peak_rss_kb":$rss_kb}
JSON
python3 - "$out.json" "$out.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l, t = r["latency"], r["throughput"]
md = f"""# Benchmark {r['date']}

Machine: {r['machine']}; broker, master, {r['workers']} worker processes and the load generator all on it. Simulated
model, `Worker__SimulatedDelay=0`, SQLite journal, Release build. Made by `bench/run.sh`.

| scenario | answers | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | answers/s |
|---|---|---|---|---|---|---|---|
| latency (1 browser, sequential) | {l['answers']} | {l['p50_ms']} | {l['p90_ms']} | {l['p99_ms']} | {l['p999_ms']} | {l['max_ms']} | {round(l['answers']/l['seconds'],1)} |
| throughput ({t['browsers']} browsers, {t['seconds']} s) | {t['answers']} | {t['p50_ms']} | {t['p90_ms']} | {t['p99_ms']} | {t['p999_ms']} | {t['max_ms']} | {t['answers_per_second']} |

Master peak memory (VmHWM): {round(r['master_peak_rss_kb']/1024)} MiB.
"""
open(sys.argv[2], "w").write(md)
print(md)
PY
