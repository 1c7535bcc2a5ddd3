#!/usr/bin/env python3
"""bench/run.sh's reporting: one summary line per scenario while it runs, then the combined .json (with every target
judged met / not met) and the .md. The .md is made from the .json, and the lines run.sh prints come from the same
values with the same formatting, so the results file says what the script printed.
  report.py line SCENARIO FILE.json [FLOOR.json]
  report.py combine SCRATCH OUT LOAD_BEFORE LOAD_AFTER SECONDS CORES GIB COUNT BROWSERS SECONDS SESSIONS CONN_WORKERS CAP TRIALS FO_DELAY_MS
  report.py markdown OUT.json OUT.md SCRATCH
"""
import json
import os
import re
import sys
import time

TARGETS = {"latency_p50_ms": 2.0, "latency_p99_ms": 5.0, "floor_ratio_p50": 3.0, "answers_per_second": 5000,
           "sessions": 10000, "master_rss_mib": 1024, "reassigned_ms": 1000}


def load(path):
    with open(path) as f:
        return json.load(f)


def ratio(a, b):
    return round(a / b, 1) if b else None


def line_floor(f):
    s, m, g = f["signalr_echo"], f["mqtt_publish_receive"], f["grpc_unary"]
    return (f"floor p50/p99/p99.9 ms: SignalR echo {s['p50_ms']}/{s['p99_ms']}/{s['p999_ms']}, "
            f"MQTT publish→receive {m['p50_ms']}/{m['p99_ms']}/{m['p999_ms']}, gRPC unary {g['p50_ms']}/{g['p99_ms']}/{g['p999_ms']}; "
            f"sum {f['sum_p50_ms']}/{f['sum_p99_ms']}/{f['sum_p999_ms']}")


def line_latency(l, f):
    return (f"latency: {l['count']} answers ({l['lost']} lost, {l['failed']} failed, {l['duplicates']} duplicated), "
            f"p50 {l['p50_ms']} ms, p99 {l['p99_ms']} ms, p99.9 {l['p999_ms']} ms, max {l['max_ms']} ms; "
            f"{ratio(l['p50_ms'], f['sum_p50_ms'])}× the floor at p50, {ratio(l['p99_ms'], f['sum_p99_ms'])}× at p99")


def line_throughput(t):
    m = t["master"]
    return (f"throughput: {t['answers_per_second']} answers/s ({t['answered_in_window']} in {t['seconds']} s, "
            f"{t['browsers']} browsers), p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms; lost {t['lost']}, failed {t['failed']}, "
            f"refused {t['rejected']}, duplicated {t['duplicates']}, unexpected {t['unexpected']}; "
            f"master CPU {m['cpu_percent_of_one_core']}% of one core, peak RSS {m['peak_rss_mib']} MiB")


def line_connections(c):
    return (f"connections: {c['connected']}/{c['sessions']} connected ({c['not_opened_budget']} not opened: {c['budget_seconds']:.0f} s budget), {c['asked']} asked, {c['answered']} answered "
            f"({c['failed']} failed, {c['lost']} lost, {c['refused']} given up, {c['refusals_retried']} refusals sent again) in {c['seconds_until_all_answered']} s; "
            f"master RSS {c['master_rss_before_mib']} → {c['master_peak_rss_mib']} MiB peak, "
            f"{c['master_kib_per_session']} KiB per session")


def line_failover(fo):
    runs = "; ".join(f"{r['killed_worker']} killed → {r['reassigned_to'] or 'nobody'} after {r['reassigned_ms']} ms, "
                     f"answer {r['answer_beyond_delay_ms']} ms beyond the delay" for r in fo["runs"])
    return f"failover: {runs}; worst re-assignment {fo['max_reassigned_ms']} ms"


def judge(r):
    l, f, c, fo = r["latency"], r["floor"], r["connections"], r["failover"]
    best = max(r["throughput"], key=lambda t: t["answers_per_second"])
    clean = [t for t in r["throughput"] if t["lost"] == 0 and t["duplicates"] == 0 and t["unexpected"] == 0 and t["failed"] == 0]
    fo_ok = fo["max_reassigned_ms"] >= 0 and fo["max_reassigned_ms"] <= TARGETS["reassigned_ms"]
    return [
        {"target": "latency p50 ≤ 2 ms", "measured": f"{l['p50_ms']} ms", "met": l["p50_ms"] <= TARGETS["latency_p50_ms"]},
        {"target": "latency p99 ≤ 5 ms", "measured": f"{l['p99_ms']} ms", "met": l["p99_ms"] <= TARGETS["latency_p99_ms"]},
        {"target": "latency p50 ≤ 3× the transport floor", "measured": f"{ratio(l['p50_ms'], f['sum_p50_ms'])}× ({l['p50_ms']} / {f['sum_p50_ms']} ms)",
         "met": l["p50_ms"] <= TARGETS["floor_ratio_p50"] * f["sum_p50_ms"]},
        {"target": "≥ 5,000 answers/s for 30 s, zero lost or duplicated",
         "measured": f"best {best['answers_per_second']} answers/s ({best['workers']} workers, {best['seconds']} s); "
                     f"lost {sum(t['lost'] for t in r['throughput'])}, duplicated {sum(t['duplicates'] for t in r['throughput'])}",
         "met": any(t["answers_per_second"] >= TARGETS["answers_per_second"] and t["seconds"] >= 30 for t in clean)},
        {"target": "10,000 concurrent sessions all answered",
         "measured": f"{c['answered']} of {c['sessions']} answered ({c['connected']} connected, {c['not_opened_budget']} not opened within the {c['budget_seconds']:.0f} s budget)",
         "met": c["sessions"] >= TARGETS["sessions"] and c["answered"] == c["sessions"]},
        {"target": "master RSS ≤ 1 GiB with them",
         "measured": f"{c['master_peak_rss_mib']} MiB peak with {c['connected']} sessions",
         "met": c["connected"] >= TARGETS["sessions"] and c["master_peak_rss_mib"] <= TARGETS["master_rss_mib"],
         "not_shown": c["connected"] < TARGETS["sessions"] and c["master_peak_rss_mib"] <= TARGETS["master_rss_mib"]},
        {"target": "a killed worker's task re-assigned within 1 s", "measured": f"worst {fo['max_reassigned_ms']} ms of {fo['trials']}",
         "met": fo_ok},
    ]


def combine(a):
    scratch, out = a[0], a[1]
    r = {"date": os.popen("date -u +%FT%TZ").read().strip(), "load_before": a[2], "load_after": a[3],
         "run_seconds": int(a[4]), "machine": f"{a[5]} cores, {a[6]} GiB",
         "parameters": {"latency_questions": int(a[7]), "browsers": int(a[8]), "throughput_seconds": int(a[9]),
                        "sessions": int(a[10]), "connection_workers": int(a[11]), "connection_worker_capacity": int(a[12]),
                        "failover_trials": int(a[13]), "failover_delay_ms": int(a[14])},
         "floor": load(f"{scratch}/floor.json"), "latency": load(f"{scratch}/latency.json"),
         "throughput": [], "connections": load(f"{scratch}/connections.json"), "failover": load(f"{scratch}/failover.json")}
    for w in (2, 4):
        t = load(f"{scratch}/throughput-{w}.json")
        t["workers"] = w
        r["throughput"].append(t)
    if os.path.exists(f"{scratch}/throughput-profiled.json"):
        p = load(f"{scratch}/throughput-profiled.json")
        r["profile"] = {"throughput_under_profiler": {k: p[k] for k in ("answers_per_second", "p50_ms", "p99_ms", "seconds")},
                        "counters": counters(f"{scratch}/counters.json"),
                        "busy_time": busy_time(f"{scratch}/master.speedscope.json"),
                        "latency_under_profiler": {k: v for k, v in load(f"{scratch}/latency-profiled.json").items()
                                                   if k in ("p50_ms", "p99_ms", "count", "seconds", "assigned_to", "phases")}
                        if os.path.exists(f"{scratch}/latency-profiled.json") else None,
                        "latency_busy_time": busy_time(f"{scratch}/master-latency.speedscope.json"),
                        "worker_latency_busy_time": busy_time(f"{scratch}/worker-latency.speedscope.json"),
                        "traced_worker": read(f"{scratch}/traced-worker.txt").strip(),
                        "thread_cpu_seconds": thread_cpu(f"{scratch}/threads-before.json", f"{scratch}/threads-after.json")}
    r["disk_fsync"] = load(f"{scratch}/fsync.json")
    if os.path.exists(f"{scratch}/latency-nodelay.json"):
        r["latency_broker_nodelay"] = {k: v for k, v in load(f"{scratch}/latency-nodelay.json").items()
                                       if k not in ("percentile_curve", "distribution")}
    r["targets"] = judge(r)
    with open(out + ".json", "w") as f:
        json.dump(r, f, indent=1)


def counters(path):
    """Mean of each System.Runtime counter over the profiled run (dotnet-counters json export)."""
    try:
        with open(path) as f:
            text = f.read()
        data = json.loads(text if text.rstrip().endswith("}") else text.rstrip().rstrip(",") + "]}")
    except (OSError, ValueError):
        return {}
    sums = {}
    for e in data.get("Events", []):
        key = e["name"] + (" [" + e["tags"] + "]" if e.get("tags") else "")
        sums.setdefault(key, []).append(e["value"])
    return {k: round(sum(v) / len(v), 3) for k, v in sorted(sums.items())}


def threads(pid):
    """CPU seconds (utime+stime) of each thread of a process, from /proc/PID/task/TID/stat."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[tid] = [name, (int(fields[11]) + int(fields[12])) / 100]
    return out


def thread_cpu(before_path, after_path):
    """CPU seconds used per thread name between two snapshots, busiest first."""
    try:
        before, after = load(before_path), load(after_path)
    except (OSError, ValueError):
        return []
    by_name = {}
    for tid, (name, cpu) in after.items():
        used = cpu - (before[tid][1] if tid in before else 0)
        n, total = by_name.get(name, (0, 0.0))
        by_name[name] = (n + 1, total + used)
    return sorted(([k, v[0], round(v[1], 2)] for k, v in by_name.items() if v[1] > 0), key=lambda x: -x[2])


IDLE = re.compile(r"Wait|Sleep|WaitForSignal|Interop\+Sys\.(Read|WaitForSocketEvents|Poll)|epoll|SpinThenBlockingWait|^\?!\?$|WorkerThreadStart\(\)$|StartCallback\(\)$")
SQLITE = re.compile(r"Sqlite|SQLitePCL")
CATEGORIES = [("journal code above SQLite (Akka.Persistence.Sql, linq2db)", re.compile(r"LinqToDB|Persistence\.Sql")),
              ("profiler itself (EventPipe)", re.compile(r"EventPipe|EventSource|EventProvider")),
              ("gRPC", re.compile(r"Grpc")),
              ("MQTT", re.compile(r"MQTTnet")),
              ("SignalR", re.compile(r"SignalR")),
              ("Kestrel / ASP.NET Core", re.compile(r"Kestrel|AspNetCore")),
              ("Akka remoting (DotNetty)", re.compile(r"DotNetty|Akka\.Remote")),
              ("Akka actors, persistence, sharding", re.compile(r"Akka")),
              ("JIT / type loading", re.compile(r"Jit|RuntimeType|LambdaCompiler|Reflection"))]


def busy_time(speedscope_path):
    """Thread-time samples with the waiting taken out: each thread's stacks from dotnet-trace's speedscope export,
    time on stacks whose innermost frame waits (Monitor.Wait, semaphores, Sleep, socket polls) dropped, the rest
    attributed to the first category found on the stack (outermost first) and to its innermost frame."""
    try:
        d = load(speedscope_path)
    except (OSError, ValueError):
        return None
    names = [f["name"] for f in d["shared"]["frames"]]
    pseudo = {"CPU_TIME", "UNMANAGED_CODE_TIME"}  # the sampler's leaf: running managed code, or in native code
    total = idle = cpu = 0.0
    cats, leaves = {}, {}
    for prof in d["profiles"]:
        stack, prev = [], None
        for e in prof.get("events", []):
            if prev is not None and stack and e["at"] > prev:
                dt = e["at"] - prev
                total += dt
                real = [names[i] for i in stack if names[i] not in pseudo]
                leaf = real[-1] if real else names[stack[-1]]
                if names[stack[-1]] == "CPU_TIME":
                    cpu += dt
                joined = " ".join(real)
                if SQLITE.search(joined) and "Sleep" in leaf:
                    cat = "SQLite busy retry: Microsoft.Data.Sqlite's Thread.Sleep while another connection holds the write lock"
                elif SQLITE.search(joined):
                    cat = "SQLite statements (in sqlite3_step: BEGIN, INSERT, COMMIT with its fsyncs)"
                elif not real or IDLE.search(leaf):
                    cat = None
                else:
                    cat = next((c for c, rx in CATEGORIES if rx.search(joined)), "other (.NET runtime, thread pool, our code)")
                if cat is None:
                    idle += dt
                else:
                    cats[cat] = cats.get(cat, 0.0) + dt
                    leaves[leaf] = leaves.get(leaf, 0.0) + dt
            prev = e["at"]
            if e["type"] == "O":
                stack.append(e["frame"])
            elif stack:
                stack.pop()
    work = total - idle
    pct = lambda x: round(100 * x / work, 1) if work else 0
    return {"sampled_thread_ms": round(total), "waiting_ms": round(idle), "not_waiting_ms": round(work), "managed_cpu_ms": round(cpu),
            "categories": sorted(([c, round(v), pct(v)] for c, v in cats.items()), key=lambda x: -x[1]),
            "top_frames": sorted(([f[:110], round(v), pct(v)] for f, v in leaves.items()), key=lambda x: -x[1])[:15]}


def disk_fsync(directory, n=200):
    """Latency of a 4 KiB write + fsync in the journal's directory: the floor under every synchronous journal write."""
    path = os.path.join(directory, "fsync.probe")
    samples = []
    with open(path, "wb") as f:
        for _ in range(n):
            t = time.perf_counter()
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
            samples.append((time.perf_counter() - t) * 1000)
    os.remove(path)
    samples.sort()
    return {"count": n, "p50_ms": round(samples[n // 2], 3), "p99_ms": round(samples[int(n * 0.99)], 3), "max_ms": round(samples[-1], 3)}


def section(title, body):
    return f"\n## {title}\n\n{body}\n"


def markdown(a):
    r = load(a[0])
    out_md, scratch = a[1], a[2]
    prefix = os.path.basename(out_md)[:-3]
    p, f, l, c, fo = r["parameters"], r["floor"], r["latency"], r["connections"], r["failover"]
    md = [f"# Benchmark {r['date']}\n",
          f"Made by `bench/run.sh` in {r['run_seconds']} s. Machine: {r['machine']}, **shared** with other engineers' builds "
          f"and tests (load average before the run {r['load_before']}, after {r['load_after']}); Mosquitto, the master, the "
          "worker processes and the load generator all ran on it. Release builds, simulated model, SQLite journal "
          "(a fresh file per master), `Limits__MaxQueriesPerMinute=1000000`, `Limits__MaxQueuedTasks=1000000`. Latency is "
          "measured in the load generator from calling `SubmitQuery` to receiving that task's `AiResponse` (HdrHistogram, "
          "Stopwatch ticks).\n",
          "## Targets\n", "| target | measured | |", "|---|---|---|"]
    md += [f"| {t['target']} | {t['measured']} | {'met' if t['met'] else 'not shown: fewer sessions' if t.get('not_shown') else '**not met**'} |"
           for t in r["targets"]]
    md.append(section("1. Latency and 2. the transport floor",
        f"One browser, {p['latency_questions']} questions one after another after 100 warm-up questions; master with 2 "
        "worker processes (`Worker__SimulatedDelay=0`). The floor is the same hops with no logic, measured in the same "
        f"run with {p['latency_questions']} round trips each after 200 warm-up: a SignalR round trip to an echo hub "
        "(WebSockets), an MQTT QoS 1 publish→receive through the same Mosquitto, a gRPC unary `WorkerCallback/SendResult` "
        "over h2c to a server that only acknowledges (echo hub and gRPC server: Kestrel inside the load generator). "
        "A question takes one of each, so the floor is their sum.\n\n"
        "| | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|\n"
        + "".join(f"| {n} | {x['p50_ms']} | {x['p90_ms']} | {x['p99_ms']} | {x['p999_ms']} | {x['max_ms']} |\n" for n, x in [
            ("end to end (one browser)", l), ("floor: SignalR echo", f["signalr_echo"]),
            ("floor: MQTT publish→receive", f["mqtt_publish_receive"]), ("floor: gRPC unary", f["grpc_unary"])])
        + (f"| what-if: end to end, broker with `set_tcp_nodelay true` ({r['latency_broker_nodelay']['count']} questions) | "
           f"{r['latency_broker_nodelay']['p50_ms']} | {r['latency_broker_nodelay']['p90_ms']} | {r['latency_broker_nodelay']['p99_ms']} | "
           f"{r['latency_broker_nodelay']['p999_ms']} | {r['latency_broker_nodelay']['max_ms']} |\n" if "latency_broker_nodelay" in r else "")
        + f"| floor: sum | {f['sum_p50_ms']} | | {f['sum_p99_ms']} | {f['sum_p999_ms']} | |\n"
        + f"| **ratio to the floor** | {ratio(l['p50_ms'], f['sum_p50_ms'])}× | | {ratio(l['p99_ms'], f['sum_p99_ms'])}× | "
          f"{ratio(l['p999_ms'], f['sum_p999_ms'])}× | |\n\n"
        + phases_md(l) +
        f"Answers {l['count']}, lost {l['lost']}, failed {l['failed']}, duplicated {l['duplicates']}; "
        f"{l['seconds']} s for the {p['latency_questions']}.\n\n"
        f"![latency percentiles]({prefix}-latency.png)\n![latency distribution]({prefix}-latency-distribution.png)"))
    rows = "".join(
        f"| {t['workers']} | {t['browsers']} | {t['seconds']} | {t['answers_per_second']} | "
        f"{int(min((x[1] for x in t['per_second']), default=0))} | {t['answered_in_window']} | "
        f"{t['p50_ms']} | {t['p99_ms']} | {t['p999_ms']} | {t['lost']} | {t['duplicates']} | {t['failed']} | {t['rejected']} | "
        f"{t['master']['cpu_percent_of_one_core']}% | {t['master']['peak_rss_mib']} |\n" for t in r["throughput"])
    md.append(section("3. Throughput",
        f"{p['browsers']} browsers (SignalR connections in the load generator), each asking its next question as soon as "
        f"its last is answered, for {p['throughput_seconds']} s; first with 2 worker processes, then with 2 more "
        "(`Worker__Capacity=1024`, no delay), against the same master. A refused question (\"busy, send it again\") is "
        "counted and the browser waits 1 s before its next one, as a user would. Answers/s counts answers received inside the "
        "window; questions in flight at its end are still awaited (and counted as lost if not answered within 60 s). "
        "Master CPU and memory from `/proc/PID/stat` and `/proc/PID/status` once a second (CPU in percent of one core; "
        "the machine has two).\n\n"
        "| workers | browsers | s | answers/s | slowest second | answers | p50 ms | p99 ms | p99.9 ms | lost | duplicated | failed | refused | master CPU | master peak RSS MiB |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n" + rows +
        f"\n![throughput over time]({prefix}-throughput.png)\n![master memory]({prefix}-throughput-memory.png)"))
    md.append(section("4. Connections",
        f"{c['sessions']} browser sessions opened by one load-generator process (WebSockets, negotiation skipped, 128 "
        f"connects at a time, run.sh's `--parallel 128`), each asking one question as soon as it is connected; {p['connection_workers']} worker "
        f"processes with {p['connection_worker_capacity']} slots each (`Worker__Capacity` is at most 1024) and a 10 s "
        f"simulated delay, so every question is in flight at once. Sessions not opened within {c['budget_seconds']:.0f} s are "
        "skipped (`--conn-budget`, so that run.sh stays under 10 minutes) and counted. A question the master refuses "
        "(\"busy, send it again\") is sent again after 1 s, up to 5 times, as a user would; every refusal is counted, and a "
        "session that gave up (or failed to connect) counts under \"given up\". Memory per session = (peak master RSS − RSS before) / "
        "sessions connected.\n\n"
        f"| sessions | not opened (budget) | connected | asked | answered | failed | lost | given up | refusals sent again | connect+ask s | all answered s | answer p50 s | answer max s | RSS before MiB | RSS all in flight MiB | peak RSS MiB | KiB per session |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {c['sessions']} | {c['not_opened_budget']} | {c['connected']} | {c['asked']} | {c['answered']} | {c['failed']} | {c['lost']} | {c['refused']} | {c['refusals_retried']} | "
        f"{c['seconds_to_connect_and_ask']} | {c['seconds_until_all_answered']} | {round(c['answer_latency']['p50_ms'] / 1000, 2)} | "
        f"{round(c['answer_latency']['max_ms'] / 1000, 2)} | {c['master_rss_before_mib']} | {c['master_rss_all_in_flight_mib']} | "
        f"{c['master_peak_rss_mib']} | {c['master_kib_per_session']} |\n\n"
        f"The load generator itself held {c.get('loadgen_rss_all_in_flight_mib', '?')} MiB with all its sessions open.\n\n"
        f"![memory per session]({prefix}-memory-per-session.png)"))
    runs = "".join(f"| {x['trial']} | {x['killed_worker']} | {x['reassigned_to']} | {x['reassigned_ms']} | {x['answer_after_kill_ms']} | "
                   f"{x['answer_beyond_delay_ms']} |\n" for x in fo["runs"])
    md.append(section("5. Failover",
        f"{fo['trials'] + 1} worker processes with one slot each and a {fo['simulated_delay_ms']:.0f} ms simulated delay "
        f"(default heartbeat, 2 s). Per trial one browser asks one question; {fo['busy_for_ms']:.0f} ms after its "
        "`TaskAssigned` the load generator kills that worker's process with SIGKILL, then times, from the kill, the "
        "`TaskAssigned` with the next attempt (re-assigned) and the `AiResponse` (the new worker runs the whole "
        "simulated delay again, so \"beyond the delay\" subtracts it).\n\n"
        "| trial | killed | re-assigned to | re-assigned after ms | answer after ms | answer beyond the delay ms |\n"
        "|---|---|---|---|---|---|\n" + runs))
    if "profile" in r:
        pr = r["profile"]
        md.append(section("Profile (first pass)",
            f"`dotnet-trace collect --profile dotnet-sampled-thread-time` (stacks of every managed thread about 100 times a second, "
            "running or waiting; the kernel CPU sampling of `collect-linux` needs perf events, not available here) and `dotnet-counters collect --counters System.Runtime` "
            f"(local dotnet tools, `bench/dotnet-tools.json`) on the master during an extra {pr['throughput_under_profiler']['seconds']} s "
            f"throughput run with 4 workers ({pr['throughput_under_profiler']['answers_per_second']} answers/s under the profiler; "
            "not counted above). `dotnet-trace report topN` on the trace:\n\n"
            "Top methods by exclusive samples (all threads, wall clock: waiting threads included):\n\n```\n" + read(f"{scratch}/top-exclusive.txt") + "```\n\n"
            "Top methods by inclusive samples:\n\n```\n" + read(f"{scratch}/top-inclusive.txt") + "```\n\n"
            + busy_md(pr.get("busy_time")) +
            ("The same breakdown for one browser asking one question after another (scenario 1's load, "
             f"{pr['latency_under_profiler']['count']} questions, p50 {pr['latency_under_profiler']['p50_ms']} ms under the profiler):\n\n"
             + busy_md(pr.get("latency_busy_time"))
             + f"And on the worker `{pr.get('traced_worker')}` at the same time (it was given "
               f"{pr['latency_under_profiler'].get('assigned_to', {}).get(pr.get('traced_worker'), 0)} of the "
               f"{sum(pr['latency_under_profiler'].get('assigned_to', {}).values())} tasks):\n\n"
             + busy_md(pr.get("worker_latency_busy_time")) if pr.get("latency_under_profiler") else "") +
            "CPU seconds per master thread name during the profiled run (`/proc/PID/task/*/stat`, threads of the same name "
            "added up; the trace above samples wall-clock stacks, so this is where the CPU actually went):\n\n"
            "| thread | threads | CPU s |\n|---|---|---|\n" + "".join(f"| {n} | {k} | {c} |\n" for n, k, c in pr["thread_cpu_seconds"]) +
            f"\nover {pr['throughput_under_profiler']['seconds']} s wall clock.\n\n"
            f"The disk under the journal (the scratch directory): a 4 KiB write + fsync took p50 {r['disk_fsync']['p50_ms']} ms, "
            f"p99 {r['disk_fsync']['p99_ms']} ms ({r['disk_fsync']['count']} tries, measured by run.sh before the scenarios).\n\n"
            "Runtime counters, mean over the profiled run:\n\n| counter | mean |\n|---|---|\n"
            + "".join(f"| {k} | {v} |\n" for k, v in pr["counters"].items())))
    md.append(section("Findings: where the time goes", findings(r)))
    with open(out_md, "w") as fh:
        fh.write("\n".join(md))


def phases_md(l):
    ph = l.get("phases")
    if not ph:
        return ""
    rows = [("sent → `SubmitQuery` returned (the dispatcher journaled the task as accepted, then the session the question)", ph["sent_to_accepted"]),
            ("sent → `TaskAssigned` received", ph["sent_to_assigned"]),
            ("`TaskAssigned` → `AiResponse` (MQTT to the worker, the simulated model, gRPC back, the session's journal, the push)", ph["assigned_to_answered"])]
    return ("Where each answer's time goes, as the browser sees it (same questions):\n\n| phase | p50 ms | p90 ms | p99 ms |\n|---|---|---|---|\n"
            + "".join(f"| {n} | {x['p50_ms']} | {x['p90_ms']} | {x['p99_ms']} |\n" for n, x in rows) + "\n")


def busy_md(b):
    if not b:
        return "(no speedscope export: no busy-time breakdown)\n\n"
    return (f"The same samples with the waiting taken out (`report.py` reads dotnet-trace's speedscope export: time on "
            f"stacks whose innermost frame is a wait, sleep or socket poll, or an unresolved native frame, is dropped, except "
            f"under SQLite, where a sleep is the busy retry): of {b['sampled_thread_ms']} ms "
            f"sampled across all threads, {b['waiting_ms']} ms were waits and {b['not_waiting_ms']} ms were not (of all "
            f"samples, {b.get('managed_cpu_ms', '?')} ms were running managed code, the sampler's CPU_TIME). The time not waiting, "
            "by the first of these found on the stack:\n\n| where | ms | % of not waiting |\n|---|---|---|\n"
            + "".join(f"| {c} | {v} | {p}% |\n" for c, v, p in b["categories"])
            + "\nInnermost frames of the time not waiting:\n\n| frame | ms | % |\n|---|---|---|\n"
            + "".join(f"| `{f}` | {v} | {p}% |\n" for f, v, p in b["top_frames"]) + "\n")


def findings(r):
    """Where the time goes, composed from this run's numbers (profile, counters, /proc), for the targets not met."""
    l, f, p = r["latency"], r["floor"], r.get("profile")
    tp = max(r["throughput"], key=lambda t: t["answers_per_second"])
    out = [f"- **Latency is not the transport.** A question's p50 is {l['p50_ms']} ms; the same hops with no logic take "
           f"{f['sum_p50_ms']} ms at p50, so {round(l['p50_ms'] - f['sum_p50_ms'], 1)} ms of each answer is spent inside the "
           "master and the worker, not on the wire."]
    ph = l.get("phases")
    if ph:
        out.append(
            f"- **Phases of one answer** (p50, from the browser): {ph['sent_to_accepted']['p50_ms']} ms until `SubmitQuery` returns "
            f"(the dispatcher journals the task as accepted, then the session journals the question), {ph['sent_to_assigned']['p50_ms']} ms until "
            f"`TaskAssigned`, then {ph['assigned_to_answered']['p50_ms']} ms from `TaskAssigned` to `AiResponse` (the task over MQTT, "
            "the simulated model with no delay, the result over gRPC, the dispatcher's and the session's journal writes, the push).")
    nd = r.get("latency_broker_nodelay")
    if nd:
        ndph = nd.get("phases", {}).get("assigned_to_answered", {})
        out.append(
            f"- **Nagle on the broker.** The same one-browser run against a Mosquitto with `set_tcp_nodelay true` (its default is "
            f"false, as in `deploy/swarm`'s mosquitto.conf) gave p50 {nd['p50_ms']} ms instead of {l['p50_ms']} ms "
            f"(`TaskAssigned` → `AiResponse` p50 {ndph.get('p50_ms', '?')} ms instead of {ph['assigned_to_answered']['p50_ms'] if ph else '?'} ms). "
            "Neither the master nor the worker is busy in that time (profiles below), which fits (our reading, not measured directly) small MQTT packets held back "
            "by Nagle's algorithm on the broker's sockets until the peer's delayed ACK (about 40 ms on Linux). The floor's "
            "MQTT publish→receive probably does not show it because it never has two small packets in flight on one socket. Setting "
            "`set_tcp_nodelay true` in the broker's configuration is the first, "
            "cheapest change; it is not made here (the benchmark measures the system as it ships).")
    lb = p and p.get("latency_busy_time")
    if lb and p.get("latency_under_profiler"):
        lp = p["latency_under_profiler"]
        top = "; ".join(f"{c}: {v} ms ({pct}%)" for c, v, pct in lb["categories"][:4])
        out.append(
            f"- **One browser's question, profiled** ({lp['count']} questions one after another, p50 {lp['p50_ms']} ms under the "
            f"profiler): of {lb['sampled_thread_ms']} ms sampled across the master's threads, {lb['not_waiting_ms']} ms were not "
            f"idle waits ({lb['managed_cpu_ms']} ms running managed code). By where they were: {top}.")
        wb = p.get("worker_latency_busy_time")
        if wb:
            wtop = "; ".join(f"{c}: {v} ms ({pct}%)" for c, v, pct in wb["categories"][:4])
            out.append(
                f"- **The worker at the same time** ({p.get('traced_worker')}, given {lp.get('assigned_to', {}).get(p.get('traced_worker'), 0)} of "
                f"the tasks): of {wb['sampled_thread_ms']} ms sampled across its threads, {wb['not_waiting_ms']} ms were not idle "
                f"waits ({wb['managed_cpu_ms']} ms running managed code): {wtop}.")
    b = p and p.get("busy_time")
    if b:
        cats = {c: (v, pct) for c, v, pct in b["categories"]}
        sql = sum(v for c, (v, _) in cats.items() if c.startswith("SQLite"))
        sleep = next((v for c, (v, _) in cats.items() if c.startswith("SQLite busy")), 0)
        step = next((v for c, (v, _) in cats.items() if c.startswith("SQLite statements")), 0)
        secs = p["throughput_under_profiler"]["seconds"]
        top = "; ".join(f"{c}: {v} ms ({pct}%)" for c, v, pct in b["categories"][:5])
        out.append(
            f"- **Under load** (the profiled {secs} s of the 4-worker throughput run): of {b['not_waiting_ms']} ms of thread time "
            f"that was not an idle wait, {sql} ms ({round(100 * sql / max(b['not_waiting_ms'], 1))}%) was inside SQLite "
            f"({sleep} ms of it in Microsoft.Data.Sqlite's busy retry, {step} ms in `sqlite3_step`), against "
            f"{b['managed_cpu_ms']} ms of managed code running in all threads together. By where the time was: {top}. "
            f"The master used {tp['master']['cpu_percent_of_one_core']}% of one core in the best throughput run, on a machine "
            "whose two cores also ran the broker, the workers and the load generator. The disk is not the limit: a 4 KiB "
            f"write + fsync takes {r['disk_fsync']['p50_ms']} ms at p50 here.")
    out.append(
        "- **What changed since the first baseline** (2026-11-27 before this run: p50 47.7 ms, p99 169.9 ms, 135 answers/s, "
        "4,973 of 10,000 sessions opened in the budget). The profile then showed most of the master's time in "
        "Microsoft.Data.Sqlite's busy retry (it sleeps 150 ms when another connection holds SQLite's one write lock), and one "
        "answer's time in Nagle stalls on the broker. Now: the SQLite journal runs in write-ahead-log mode with "
        "`synchronous=NORMAL`, writes one batch at a time, and waits for the lock inside SQLite (`busy_timeout`); the "
        "dispatcher's journal writes no longer hold its other messages back (`PersistAsync`, with what others see in the "
        "callback), so many questions share one journal batch; Mosquitto runs with `set_tcp_nodelay true` (as "
        "`deploy/swarm` configures it); workers open more HTTP/2 connections when streamed answers fill one.")
    out.append(
        "- **What would be needed for the targets** (not done): fewer journal writes per question (today the dispatcher "
        "journals accepted, assigned, finished and delivered, and the session the question and the outcome: six events, "
        "two of them waited for by the session one at a time), fewer actor and process hops per question (session → "
        "dispatcher → MQTT → worker → gRPC → dispatcher → session → SignalR), and a machine where the broker, workers and "
        "load generator do not share the master's two cores; then profile again.")
    c = r["connections"]
    if c["connected"] < c["sessions"] or c["answered"] < c["sessions"]:
        out.append(
            f"- **Connections:** {c['connected']} of {c['sessions']} sessions were opened in the {c['budget_seconds']:.0f} s budget "
            f"({round(c['connected'] / max(c['seconds_to_connect_and_ask'], 0.1), 1)} sessions opened and asked per second): "
            "each new session is a persistent sharded actor whose start and first question are journal writes, so opening "
            f"sessions is bound by the same journal; {c['refusals_retried']} questions were refused (the master's internal ask "
            "timed out) and sent again.")
    return "\n".join(out) + "\n"


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return "(not produced)\n"


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "line":
        kind, data = sys.argv[2], load(sys.argv[3])
        text = {"floor": lambda: line_floor(data), "latency": lambda: line_latency(data, load(sys.argv[4])),
                "throughput": lambda: line_throughput(data), "connections": lambda: line_connections(data),
                "failover": lambda: line_failover(data)}[kind]()
        print("  => " + text, flush=True)
    elif mode == "fsync":
        print(json.dumps(disk_fsync(sys.argv[2])))
    elif mode == "threads":
        print(json.dumps(threads(sys.argv[2])))
    elif mode == "combine":
        combine(sys.argv[2:])
    elif mode == "markdown":
        markdown(sys.argv[2:])
    else:
        sys.exit(f"unknown mode {mode}")
