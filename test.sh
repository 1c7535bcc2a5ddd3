#!/usr/bin/env bash
# Runs every test of AiSystem: unit, contract, Gemini client (fake server), end-to-end with real processes,
# Mosquitto and PostgreSQL, the chat page in Chromium, the chat page's conversation rules in Node.js, and the
# Docker Swarm stack on a real one-node swarm (tests/Swarm/run.sh). Installs what the tests need when missing (apt).
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v node >/dev/null 2>&1 || need+=(nodejs)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing ${need[*]} (apt)..."
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "Could not install ${need[*]}; install them and run again."; echo "0 passed, 1 failed"; exit 1; }
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
log=$(mktemp)
trap 'rm -f "$log" "$log.node" "$log.swarm" "$log.failed"' EXIT

if ! dotnet build AiSystem.sln -c Debug 2>&1 | tee "$log" | grep -E ' error |Build succeeded|warn' ; then :; fi
if ! grep -q 'Build succeeded' "$log"; then
  tail -40 "$log"
  echo "Build failed."
  echo "0 passed, 1 failed"
  exit 1
fi

dotnet test AiSystem.sln -c Debug --no-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The names of failed tests, repeated just before the summary (a CI log shows its tail).
grep -E '^\s+Failed [A-Za-z_]' "$log" | sed -E 's/^\s+//' > "$log.failed" || true

# One summary line per test assembly: "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T ..."
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
assemblies=$(grep -cE '(Passed|Failed)! +- ' "$log")
expected=$(ls tests/*/*.Tests.csproj | wc -l)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # a test host that crashed or aborted reports no count of its own
fi
if [ "$assemblies" -lt "$expected" ] && [ "$failed" -eq 0 ]; then
  echo "Only $assemblies of $expected test assemblies reported results."
  failed=1
fi
# The chat page's conversation rules (src/Master/wwwroot/js/tests): node's test runner, its TAP counts added in.
if ! command -v node >/dev/null 2>&1; then
  echo "node is missing: install Node.js (apt-get install nodejs) to run the chat page's tests."
  failed=$((failed + 1))
else
  node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$log.node" src/Master/wwwroot/js/tests/
  node_status=$?
  node_passed=$(grep -E '^# pass [0-9]+$' "$log.node" | tail -1 | awk '{print $3}')
  node_failed=$(grep -E '^# fail [0-9]+$' "$log.node" | tail -1 | awk '{print $3}')
  if [ -z "$node_passed" ] || [ -z "$node_failed" ]; then
    echo "node --test ended without its counts."
    failed=$((failed + 1))
  else
    passed=$((passed + node_passed))
    failed=$((failed + node_failed))
    if [ "$node_status" -ne 0 ] && [ "$node_failed" -eq 0 ]; then
      failed=$((failed + 1)) # the runner itself failed
    fi
  fi
fi
# The Swarm test: its own script (a Docker engine, images, a swarm); its checks count like tests.
tests/Swarm/run.sh 2>&1 | tee "$log.swarm"
swarm=$(grep -E '^swarm: [0-9]+ passed, [0-9]+ failed' "$log.swarm" | tail -1)
if [ -z "$swarm" ]; then
  echo "tests/Swarm/run.sh ended without its summary line."
  failed=$((failed + 1))
else
  passed=$((passed + $(echo "$swarm" | awk '{print $2}')))
  failed=$((failed + $(echo "$swarm" | awk '{print $4}')))
fi

if [ -s "$log.failed" ] || grep -q '^not ok' "$log.node" 2>/dev/null || grep -q '^FAIL' "$log.swarm" 2>/dev/null; then
  echo "Failed:"
  sed 's/^/  /' "$log.failed"
  grep -E '^not ok' "$log.node" 2>/dev/null | sed 's/^/  node: /'
  grep -E '^FAIL' "$log.swarm" 2>/dev/null | sed 's/^/  swarm: /'
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
