#!/usr/bin/env python3
"""bench/run.sh's reporting. While the run goes: one summary line per measured run, the parsing of seedbench's output,
the journal count from the master's SQLite file, the perf profile's split by component. At the end: the combined
.json (ratios computed, every target judged met / not met), the .md made from it, and the summary printed by run.sh
from the same values.
  report.py seed SEED.out SECONDS                 seedbench's run.sh output -> json
  report.py journal DB THROUGHPUT.json            journal/snapshot rows and texts of that run -> json
  report.py perf STACKS THROUGHPUT.json TITLE [FOLDED]  `perf script` output of the profiled window -> json
  report.py threads PID                           CPU seconds per thread (/proc/PID/task)
  report.py fsync DIR                             4 KiB write + fsync latency in DIR
  report.py line KIND FILE.json [MORE.json]       one summary line (original, ours, floor, connections, failover)
  report.py best SCRATCH                          the ours run (id) with the most answers/s among the 200-browser runs
  report.py combine SCRATCH OUT KEY=VALUE...      -> OUT.json
  report.py markdown OUT.json OUT.md              -> OUT.md
  report.py summary OUT.json                      what run.sh prints at the end
"""
import hashlib
import json
import os
import re
import sqlite3
import sys
import time

# Issue 12's targets.
TARGETS = {"ratio": 2.0, "answers_per_second": 5000, "p50_ms": 1.0, "p99_ms": 3.0, "journal_rows": 2.0, "text_copies": 1.0,
           "sessions": 10000, "connect_s": 30.0, "beyond_delay_s": 2.0, "rss_mib": 1024, "reassigned_ms": 1000}


def load(path):
    with open(path) as f:
        return json.load(f)


def maybe(path):
    try:
        return load(path)
    except (OSError, ValueError):
        return None


def read(path, default="(not produced)\n"):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def rnd(x, n=2):
    return None if x is None else round(x, n)


def div(a, b, n=2):
    return round(a / b, n) if a is not None and b else None


def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float):
        v = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"
    return f"{v}{unit}"


# ---------------------------------------------------------------------------------------------------------------------
# seedbench: its run.sh prints load.js's lines, its own, and the result last.

SEED_PATTERNS = {
    "final": re.compile(r"^(OK|FAIL): (\d+) sessions, (\d+) answers/s, p50 ([\d.]+) ms, p99 ([\d.]+) ms, (\d+) lost, (\d+) duplicated, (\d+) misrouted", re.M),
    "window": re.compile(r"^load: answers in window (\d+), by worker: (.*?); late (\d+), task-queued events (\d+), disconnects (\d+), connect errors (\d+); p90 ([\d.]+) ms, max ([\d.]+) ms; load\.js cpu ([\d.]+)%", re.M),
    "per_second": re.compile(r"^load: answers per second in the window: ([\d ]+)$", re.M),
    "master": re.compile(r"^master: pid (\d+), cpu ([\d.?]+)% over the measured window .*?, peak RSS ([\d.]+) MiB sampled each second in the window, VmHWM ([\d.]+) MiB", re.M),
    "whole": re.compile(r"^run: CPU seconds over the whole run: master ([\d.]+), mosquitto ([\d.]+), \w+ workers ([\d.]+)", re.M),
    "tasks": re.compile(r"^run: tasks per worker: (.*)$", re.M),
    "logs": re.compile(r"logs in (\S+)$", re.M),
    "log_volume": re.compile(r"^run: master log (.*)$", re.M),
    "connected": re.compile(r"^load: (\d+) sessions connected in ([\d.]+) s", re.M),
}


def parse_seed(text, seconds):
    g = {k: p.search(text) for k, p in SEED_PATTERNS.items()}
    f = g["final"]
    if not f:
        last = text.strip().splitlines()[-1] if text.strip() else "(no output)"
        return {"ok": False, "error": last[:300]}
    r = {"ok": f.group(1) == "OK", "final": f.group(0), "sessions": int(f.group(2)), "answers_per_second_printed": int(f.group(3)),
         "p50_ms": float(f.group(4)), "p99_ms": float(f.group(5)), "lost": int(f.group(6)), "duplicated": int(f.group(7)),
         "misrouted": int(f.group(8)), "seconds": seconds}
    if g["window"]:
        w = g["window"]
        r.update(answers_in_window=int(w.group(1)), by_worker=w.group(2), late=int(w.group(3)), task_queued_events=int(w.group(4)),
                 disconnects=int(w.group(5)), connect_errors=int(w.group(6)), p90_ms=float(w.group(7)), max_ms=float(w.group(8)),
                 loadgen_cpu_percent=float(w.group(9)))
        r["answers_per_second"] = round(r["answers_in_window"] / seconds, 1)
    else:
        r["answers_per_second"] = float(r["answers_per_second_printed"])
    if g["per_second"]:
        r["per_second"] = [[i + 1, float(v)] for i, v in enumerate(g["per_second"].group(1).split())]
    if g["master"]:
        m = g["master"]
        cpu = None if m.group(2) == "?" else float(m.group(2))
        r["master"] = {"pid": int(m.group(1)), "cpu_percent_of_one_core": cpu, "peak_rss_mib": float(m.group(3)), "vmhwm_mib": float(m.group(4))}
        if cpu is not None and r.get("answers_in_window"):
            r["master"]["cpu_ms_per_answer"] = round(cpu / 100 * seconds * 1000 / r["answers_in_window"], 3)
    if g["whole"]:
        r["cpu_seconds_whole_run"] = {"master": float(g["whole"].group(1)), "mosquitto": float(g["whole"].group(2)),
                                      "workers": float(g["whole"].group(3))}
    for k in ("tasks", "log_volume"):
        if g[k]:
            r[k] = g[k].group(1).strip()
    if g["logs"]:
        r["run_dir"] = g["logs"].group(1)
    if g["connected"]:
        r["connect_seconds"] = float(g["connected"].group(2))
    return r


# ---------------------------------------------------------------------------------------------------------------------
# The journal: rows in `journal` and `snapshot` written in the measured window (their `created` column is UTC .NET
# ticks, the clock LoadGen read at the window's edges), split by persistence id; and how many times each question's and
# answer's text is stored. The questions are unique tokens `bench-RUN-bN-qM?`; the simulated answer quotes the question
# and carries `(simulation XXXXXXXX)`, the first 4 bytes of the question's SHA-256 in hex, so: answer copies = rows'
# occurrences of its fingerprint, question copies = occurrences of the token less the answer copies (each quotes it).

UUIDISH = re.compile(r"[-_:/]?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[-_:/]?[0-9a-f]{16,}")
FINGERPRINT = re.compile(rb"simulation ([0-9a-f]{8})\)")


def group_of(pid):
    pid = pid or "?"
    if pid.startswith("session-"):
        return "session-*"
    g = UUIDISH.sub("", pid)
    return g + ("-*" if g != pid else "")


def fingerprint(question):
    return hashlib.sha256(question.strip().encode()).hexdigest()[:8]


def journal_stats(db, tp, text_rows_cap=400_000):
    start, end = tp["window_utc_ticks"]
    answers = tp["answered_in_window"]
    out = {"db": db, "answers_in_window": answers}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        return {"error": f"cannot open {db}: {e}"}
    try:
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        token = re.compile(rb"bench-" + tp["run_tag"].encode() + rb"-b\d+-q\d+\?")
        for table, blob in (("journal", "message"), ("snapshot", "snapshot")):
            if table not in tables:
                out[table] = {"error": f"no {table} table"}
                continue
            by, rows, size = {}, 0, 0
            for pid, n, b in con.execute(f"select persistence_id, count(*), coalesce(sum(length({blob})), 0) from {table} "
                                         "where created >= ? and created <= ? group by persistence_id", (start, end)):
                g = by.setdefault(group_of(pid), [0, 0, 0])
                g[0] += n
                g[1] += b
                g[2] += 1
                rows += n
                size += b
            written = (tp.get("journal_written") or {})
            if table == "journal" and "rows" in written:
                # The master's own counter of rows written: rows deleted again later (a session's events once its
                # snapshot holds them) still count. The per-id split below is from the rows still there.
                rows = int(written["rows"])
            if table == "snapshot" and "snapshots" in written:
                rows, size = int(written["snapshots"]), int(written.get("snapshot_size_bytes", size))
            out[table] = {"rows_in_window": rows, "bytes_in_window": size,
                          "rows_per_answer": div(rows, answers, 3), "bytes_per_answer": div(size, answers, 1),
                          "by_persistence_id": {k: {"rows": v[0], "rows_per_answer": div(v[0], answers, 3), "bytes_per_answer": div(v[1], answers, 1),
                                                    "ids": v[2]} for k, v in sorted(by.items(), key=lambda kv: -kv[1][0])}}
            # Texts: every row of this run from the window's start on (the warm-up's questions are in the journal too,
            # but their rows may have started before the window), up to a cap.
            tokens, fps = {}, {}
            scanned = 0
            q = (f"select {blob} from {table} where created >= ? order by rowid limit ?" if table == "journal"
                 else f"select {blob} from {table} where created >= ? and created <= ? limit ?")
            args = (start, text_rows_cap) if table == "journal" else (start, end, text_rows_cap)
            for (b,) in con.execute(q, args):
                if b is None:
                    continue
                b = bytes(b) if not isinstance(b, bytes) else b
                scanned += 1
                for m in token.finditer(b):
                    t = m.group(0)
                    tokens[t] = tokens.get(t, 0) + 1
                for m in FINGERPRINT.finditer(b):
                    fps[m.group(1)] = fps.get(m.group(1), 0) + 1
            qc, ac = [], []
            for t, n in tokens.items():
                a = fps.get(fingerprint(t.decode()).encode(), 0)
                qc.append(n - a)
                ac.append(a)
            texts = {"rows_scanned": scanned, "questions_found": len(tokens)}
            if tokens:
                texts.update(question_copies_mean=round(sum(qc) / len(qc), 3), question_copies_max=max(qc),
                             answer_copies_mean=round(sum(ac) / len(ac), 3), answer_copies_max=max(ac),
                             question_copies_total=sum(qc), answer_copies_total=sum(ac))
                if table == "snapshot":  # written every so many events: its copies amortised over the window's answers
                    texts.update(question_copies_per_answer=div(sum(qc), answers, 3), answer_copies_per_answer=div(sum(ac), answers, 3))
            out[table]["texts"] = texts
    except sqlite3.Error as e:
        out["error"] = f"{db}: {e}"
    finally:
        con.close()
    return out


# ---------------------------------------------------------------------------------------------------------------------
# The profile: `perf script -F comm,tid,period,ip,sym,dso` of the master during a measured window. Each sample (its
# period: CPU nanoseconds) goes to one component: by its thread first (GC, tiered JIT and console-logger threads), else
# by the innermost frame on its stack that belongs to a known library (managed frames are named through the perf map
# DOTNET_PerfMapEnabled=1 writes; ReadyToRun framework code shows as its .dll), else by what is left.

THREAD_RULES = [(re.compile(r"Server GC|\bBGC\b|\.NET GC"), "GC"),
                (re.compile(r"Tiered Com"), "JIT (tiered compilation)"),
                (re.compile(r"Console logger"), "logging")]
FRAME_RULES = [(re.compile(r"libclrjit\.so"), "JIT (tiered compilation)"),
               (re.compile(r"libclrgc"), "GC"),
               (re.compile(r"e_sqlite3|Microsoft\.Data\.Sqlite|SQLitePCL|LinqToDB|linq2db|Akka\.Persistence"), "journal (Akka.Persistence, SQL plugin, SQLite)"),
               (re.compile(r"Microsoft\.Extensions\.Logging|Akka\.Event\.|Akka\.Logger"), "logging"),
               (re.compile(r"Microsoft\.AspNetCore\.SignalR|Microsoft\.AspNetCore\.Http\.Connections|System\.Net\.WebSockets"), "SignalR"),
               (re.compile(r"MQTTnet"), "MQTT (MQTTnet: embedded broker and clients)"),
               (re.compile(r"\bGrpc\.|Google\.Protobuf"), "gRPC"),
               (re.compile(r"Microsoft\.AspNetCore|Kestrel"), "Kestrel / ASP.NET Core"),
               (re.compile(r"DotNetty|Akka\.Remote"), "Akka remoting"),
               (re.compile(r"OpenTelemetry|System\.Diagnostics\.Metrics"), "metrics (OpenTelemetry)"),
               (re.compile(r"AiSystem\."), "our code (AiSystem.*)"),
               (re.compile(r"\bAkka\.(?!Serialization)"), "Akka (actors, cluster, sharding)")]
FALLBACK_RULES = [(re.compile(r"ThreadPool|LowLevelSpinWaiter|LowLevelLifoSemaphore|WorkStealingQueue|TimerQueue"), "thread pool and timers"),
                  (re.compile(r"System\.Net\.Sockets|SocketAsyncEngine"), "sockets (System.Net.Sockets)")]
HEADER = re.compile(r"^(.*?)\s+(\d+)\s+(\d+)\s*$")
SHORT = {"journal (Akka.Persistence, SQL plugin, SQLite)": "journal", "JIT (tiered compilation)": "JIT", "GC": "GC", "logging": "logging",
         "SignalR": "SignalR", "MQTT (MQTTnet: embedded broker and clients)": "MQTT", "gRPC": "gRPC", "Kestrel / ASP.NET Core": "Kestrel",
         "Akka remoting": "remoting", "metrics (OpenTelemetry)": "metrics", "our code (AiSystem.*)": "our code",
         "Akka (actors, cluster, sharding)": "Akka", "thread pool and timers": "thread pool", "sockets (System.Net.Sockets)": "sockets",
         "kernel (no managed caller found)": "kernel", "runtime (libcoreclr: type system, stubs, locks)": "runtime", "other": "other"}


_FRAME_CACHE = {}


def frame_component(f):
    """The component a single frame belongs to (cached: the same frames recur in every sample), or None."""
    c = _FRAME_CACHE.get(f, 0)
    if c == 0:
        c = next((name for rx, name in FRAME_RULES if rx.search(f)), None)
        _FRAME_CACHE[f] = c
    return c


def classify(comm, frames):
    for rx, name in THREAD_RULES:
        if rx.search(comm):
            return name
    for f in frames:  # innermost first
        parts = f.strip().split(" ", 1)  # "ip sym (dso)": the ip differs from sample to sample, the rest does not
        c = frame_component(parts[-1])
        if c:
            return c
    joined = "\n".join(frames)
    for rx, name in FALLBACK_RULES:
        if rx.search(joined):
            return name
    leaf = frames[0] if frames else ""
    if "kernel.kallsyms" in leaf:
        return "kernel (no managed caller found)"
    if "libcoreclr.so" in leaf:
        return "runtime (libcoreclr: type system, stubs, locks)"
    return "other"


def frame_name(line):
    line = line.strip()
    parts = line.split(" ", 1)
    rest = parts[1] if len(parts) > 1 else ""
    sym, _, dso = rest.rpartition(" (")
    dso = dso.rstrip(")")
    if sym in ("", "[unknown]"):
        return f"[{os.path.basename(dso)}]"
    sym = re.sub(r"\[(QuickJitted|OptimizedTier1|Optimized|InstrumentedTierOptimized|InstrumentedTier|Tier0|Tier1|PreJIT|OptimizedTier1OSR)\]$", "", sym)
    return (sym + ("" if "perf-" in dso else f" [{os.path.basename(dso)}]"))[:160]


def perf_profile(stacks_path, tp, title, folded_path=None):
    comps, kernel, leaves, others, threads, folded = {}, {}, {}, {}, {}, {}
    total = samples = 0
    comm = None
    period = 0
    frames = []

    def flush():
        nonlocal total, samples
        if comm is None:
            return
        c = classify(comm, frames)
        comps[c] = comps.get(c, 0) + period
        if frames and "kernel.kallsyms" in frames[0]:
            kernel[c] = kernel.get(c, 0) + period
        leaf = frame_name(frames[0]) if frames else "?"
        leaves[(leaf, c)] = leaves.get((leaf, c), 0) + period
        if c == "other" or c.startswith("runtime"):
            key = " ← ".join(frame_name(f) for f in frames[:4])
            others[key] = others.get(key, 0) + period
        t = re.sub(r"\s*#?\d+$", "", comm.strip())
        threads[t] = threads.get(t, 0) + period
        if folded_path:
            key = ";".join([t] + [frame_name(f).replace(";", ",") for f in reversed(frames)])
            folded[key] = folded.get(key, 0) + period
        total += period
        samples += 1

    try:
        with open(stacks_path, errors="replace") as f:
            for line in f:
                if line.startswith("\t"):
                    if comm is not None:
                        frames.append(line)
                    continue
                flush()
                comm, frames = None, []
                m = HEADER.match(line.rstrip("\n")) if line.strip() else None
                if m:
                    comm, period = m.group(1).strip(), int(m.group(3))
        flush()
    except OSError as e:
        return {"title": title, "error": str(e)}
    if not total:
        return {"title": title, "error": "no samples"}
    if folded_path:  # for flamegraph.pl / speedscope: thread;root;...;leaf microseconds
        with open(folded_path, "w") as f:
            for k, v in sorted(folded.items()):
                f.write(f"{k} {v // 1000}\n")
    answers = tp["answered_in_window"]
    proc_ms = tp["master"]["cpu_seconds_in_window"] * 1000
    # The split comes from the samples; the amount from /proc (utime+stime of the window), the better clock.
    per_answer = (proc_ms / answers) if answers else None
    share = lambda ns: ns / total
    rows = [{"name": c, "short": SHORT.get(c, c), "percent": round(100 * share(v), 1), "ms_per_answer": rnd(per_answer * share(v), 4) if per_answer else None,
             "kernel_ms_per_answer": rnd(per_answer * share(kernel.get(c, 0)), 4) if per_answer else None}
            for c, v in sorted(comps.items(), key=lambda kv: -kv[1])]
    kern = sum(kernel.values())
    return {"title": title, "browsers": tp["browsers"], "answers_in_window": answers, "answers_per_second": tp["answers_per_second"],
            "p50_ms": tp["p50_ms"], "p99_ms": tp["p99_ms"], "seconds": tp["seconds"], "samples": samples,
            "perf_cpu_ms": round(total / 1e6), "proc_cpu_ms": round(proc_ms), "cpu_ms_per_answer": rnd(per_answer, 4),
            "kernel_percent": round(100 * kern / total, 1), "kernel_ms_per_answer": rnd(per_answer * kern / total, 4) if per_answer else None,
            "components": rows,
            "threads": [[t, round(100 * v / total, 1)] for t, v in sorted(threads.items(), key=lambda kv: -kv[1])[:10]],
            "top_leaves": [[l, c, round(100 * v / total, 1)] for (l, c), v in sorted(leaves.items(), key=lambda kv: -kv[1])[:20]],
            "top_unattributed": [[k, round(100 * v / total, 1)] for k, v in sorted(others.items(), key=lambda kv: -kv[1])[:8]]}


# ---------------------------------------------------------------------------------------------------------------------
# /proc helpers, the disk probe.

def threads(pid):
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


def thread_cpu(before, after):
    by_name = {}
    for tid, (name, cpu) in after.items():
        used = cpu - (before[tid][1] if tid in before else 0)
        n, total = by_name.get(name, (0, 0.0))
        by_name[name] = (n + 1, total + used)
    return sorted(([k, v[0], round(v[1], 2)] for k, v in by_name.items() if v[1] > 0), key=lambda x: -x[2])


def disk_fsync(directory, n=200):
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


# ---------------------------------------------------------------------------------------------------------------------
# Summary lines (printed while the run goes, and again in the results file).

def line_original(o):
    if not o or not o.get("final"):
        return f"original: did not run ({(o or {}).get('error', 'no output')})"
    m = o.get("master", {})
    return (f"original: {fmt(o['answers_per_second'])} answers/s ({o.get('answers_in_window', '?')} in {o['seconds']} s), p50 {o['p50_ms']} ms, "
            f"p99 {o['p99_ms']} ms; master CPU {fmt(m.get('cpu_ms_per_answer'))} ms/answer ({m.get('cpu_percent_of_one_core', '?')}% of one core), "
            f"peak RSS {m.get('peak_rss_mib', '?')} MiB; {o['lost']} lost, {o['duplicated']} duplicated, {o['misrouted']} misrouted")


def line_ours(t, j=None, o=None):
    if not t or "answers_per_second" not in t:
        return f"ours: did not run ({(t or {}).get('error', 'no output')})"
    m = t["master"]
    s = (f"ours: {fmt(t['answers_per_second'])} answers/s ({t['answered_in_window']} in {t['seconds']} s), p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms; "
         f"master CPU {fmt(m['cpu_ms_per_answer'])} ms/answer ({m['cpu_percent_of_one_core']}% of one core), peak RSS {m['peak_rss_mib']} MiB; "
         f"lost {t['lost']}, duplicated {t['duplicates']}, failed {t['failed']}, refused {t['rejected']}")
    if j and "journal" in j and "rows_per_answer" in j["journal"]:
        jj = j["journal"]
        parts = ", ".join(f"{k} {v['rows_per_answer']}" for k, v in jj["by_persistence_id"].items())
        s += f"; journal {jj['rows_per_answer']} rows/answer ({parts})"
        sn = j.get("snapshot", {})
        if sn.get("rows_in_window"):
            s += f", snapshots {sn['rows_per_answer']} rows / {fmt(sn['bytes_per_answer'])} B per answer"
    if o and o.get("answers_per_second"):
        s += f"; ours/original {div(t['answers_per_second'], o['answers_per_second'])}×"
    return s


def line_floor(f):
    s, m, g = f["signalr_echo"], f["mqtt_publish_receive"], f["grpc_unary"]
    return (f"floor p50/p99 ms: SignalR echo {s['p50_ms']}/{s['p99_ms']}, MQTT publish→receive (embedded broker) {m['p50_ms']}/{m['p99_ms']}, "
            f"gRPC unary {g['p50_ms']}/{g['p99_ms']}; sum {f['sum_p50_ms']}/{f['sum_p99_ms']}")


def line_connections(c):
    return (f"connections: {c['connected']}/{c['sessions']} connected, the last after {c['seconds_until_all_connected']} s "
            f"({c['not_opened_budget']} not opened within {c['budget_seconds']:.0f} s, {c['given_up']} given up); {c['answered']} answered "
            f"({c['failed']} failed, {c['not_answered_within_cap']} not within {c['answer_cap_seconds']:.0f} s), beyond the "
            f"{c['simulated_delay_seconds']:.0f} s delay p50 {c['beyond_delay_p50_s']} s, p99 {c['beyond_delay_p99_s']} s, max {c['beyond_delay_max_s']} s; "
            f"master RSS {c['master_rss_before_mib']} → {c['master_peak_rss_mib']} MiB peak (VmHWM {c['master_vmhwm_mib']} MiB)"
            + (f"; a connect took p50 {c['connect_latency']['p50_ms']} ms, p99 {c['connect_latency']['p99_ms']} ms" if c.get("connect_latency") else ""))


def line_failover(fo):
    runs = "; ".join(f"{r['killed_worker']} killed → {r['reassigned_to'] or 'nobody'} after {r['reassigned_ms']} ms, "
                     f"answer {r['answer_beyond_delay_ms']} ms beyond the delay" for r in fo["runs"])
    return f"failover: {runs}; worst re-assignment {fo['max_reassigned_ms']} ms"


def line_profile(p):
    if not p or p.get("error"):
        return f"profile: {(p or {}).get('error', 'none')}"
    top = ", ".join(f"{c['name'].split(' (')[0]} {fmt(c['ms_per_answer'])}" for c in p["components"][:6])
    return (f"profile ({p['title']}): {fmt(p['answers_per_second'])} answers/s under perf, master CPU {fmt(p['cpu_ms_per_answer'])} ms/answer: "
            f"{top} ms/answer; kernel {p['kernel_percent']}% of it")


# ---------------------------------------------------------------------------------------------------------------------
# Combining.

def combine(scratch, out, kv):
    p = dict(x.split("=", 1) for x in kv)
    manifest = [line.rstrip("\n").split("|") for line in read(f"{scratch}/runs.txt", "").splitlines() if line.strip()]
    runs = []
    for rid, short, title, browsers, workers, slots, seed in manifest:
        run = {"id": rid, "short": short, "title": title, "browsers": int(browsers), "workers": int(workers), "slots": int(slots),
               "seed_shape": seed == "1"}
        if seed == "1":
            run["original"] = maybe(f"{scratch}/original-{rid}.json") or {"ok": False, "error": "not run"}
        ours = maybe(f"{scratch}/ours-{rid}.json")
        if ours and "answers_per_second" in ours:
            j = maybe(f"{scratch}/ours-{rid}.journal.json")
            if j:
                ours["journal"] = j
            run["ours"] = ours
        else:
            err = [l for l in read(f"{scratch}/ours-{rid}.err", "not run").strip().splitlines() if l.strip()]
            run["ours"] = {"error": err[-1][:300] if err else "not run"}
        o, u = run.get("original") or {}, run["ours"]
        if o.get("answers_per_second") and u.get("answers_per_second") is not None:
            run["ratio"] = {"answers_per_second": div(u["answers_per_second"], o["answers_per_second"]),
                            "p50": div(u["p50_ms"], o["p50_ms"]), "p99": div(u["p99_ms"], o["p99_ms"]),
                            "cpu_ms_per_answer": div(u["master"]["cpu_ms_per_answer"], o.get("master", {}).get("cpu_ms_per_answer"))}
        runs.append(run)
    r = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": p.get("quick") == "1",
         "load_before": p.get("load_before"), "load_after": p.get("load_after"), "run_seconds": int(p.get("run_seconds", 0)),
         "machine": f"{p.get('cores')} cores, {p.get('gib')} GiB", "git": p.get("git"),
         "parameters": {k: p[k] for k in ("warmup_seconds", "seconds", "shapes", "sessions", "conn_workers", "conn_capacity", "conn_budget",
                                          "conn_parallel", "trials", "failover_delay_ms", "profile_seconds", "profile_shape") if k in p},
         "ours_settings": {"master": read(f"{scratch}/master-env.txt", "").splitlines(), "worker": read(f"{scratch}/worker-env.txt", "").splitlines()},
         "runs": runs, "floor": maybe(f"{scratch}/floor.json"), "floor_broker": p.get("floor_broker"),
         "connections": maybe(f"{scratch}/connections.json"), "failover": maybe(f"{scratch}/failover.json"),
         "disk_fsync": maybe(f"{scratch}/fsync.json")}
    passes = [x for x in (maybe(f"{scratch}/profile-{k}.json") for k in ("many", "one")) if x]
    if passes or os.path.exists(f"{scratch}/profile.err"):
        r["profile"] = {"passes": passes, "shape": p.get("profile_shape"), "errors": read(f"{scratch}/profile.err", "").strip(),
                        "thread_cpu": maybe(f"{scratch}/profile-threads.json"), "counters": counters(f"{scratch}/counters.json")}
    r["targets"] = judge(r)
    with open(out + ".json", "w") as f:
        json.dump(r, f, indent=1)


def counters(path):
    """Mean of each System.Runtime counter over the profiled window (dotnet-counters json export)."""
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


def ours_ok(t):
    return t and "answers_per_second" in t


def judge(r):
    T = TARGETS
    out = []
    runs = {x["id"]: x for x in r["runs"]}
    for rid in ("A", "B"):
        x = runs.get(rid)
        if not x:
            continue
        q = (x.get("ratio") or {}).get("answers_per_second")
        o, u = x.get("original") or {}, x["ours"]
        out.append({"target": f"shape {rid} ({x['short']}): ≥ 2× the original's answers/s",
                    "measured": f"{q}× ({fmt(u.get('answers_per_second'))} vs {fmt(o.get('answers_per_second'))} answers/s)" if q is not None
                    else f"no ratio (original: {o.get('error', 'ok')}; ours: {u.get('error', 'ok')})",
                    "met": q is not None and q >= T["ratio"] and u.get("lost") == 0 and u.get("duplicates") == 0})
    many = [x for x in r["runs"] if x["browsers"] >= 200 and ours_ok(x["ours"])]
    if many:
        best = max(many, key=lambda x: x["ours"]["answers_per_second"])
        b = best["ours"]
        clean = [x for x in many if x["ours"]["lost"] == 0 and x["ours"]["duplicates"] == 0 and x["ours"]["unexpected"] == 0]
        out.append({"target": "≥ 5,000 answers/s at 200 browsers (best worker shape), zero lost or duplicated",
                    "measured": f"best {fmt(b['answers_per_second'])} answers/s ({best['short']}, {b['seconds']} s window); "
                                f"lost {sum(x['ours']['lost'] for x in many)}, duplicated {sum(x['ours']['duplicates'] for x in many)} over the {len(many)} runs",
                    "met": any(x["ours"]["answers_per_second"] >= T["answers_per_second"] for x in clean)})
    one = next((x for x in r["runs"] if x["browsers"] == 1 and ours_ok(x["ours"])), None)
    if one:
        u, o = one["ours"], one.get("original") or {}
        out.append({"target": "1 browser: p50 ≤ 1 ms", "measured": f"{u['p50_ms']} ms (original {o.get('p50_ms', '–')} ms)", "met": u["p50_ms"] <= T["p50_ms"]})
        out.append({"target": "1 browser: p99 ≤ 3 ms", "measured": f"{u['p99_ms']} ms (original {o.get('p99_ms', '–')} ms)", "met": u["p99_ms"] <= T["p99_ms"]})
    js = [(x, x["ours"]["journal"]) for x in r["runs"] if ours_ok(x["ours"]) and "rows_per_answer" in x["ours"].get("journal", {}).get("journal", {})]
    if js:
        worst = max(js, key=lambda xj: xj[1]["journal"]["rows_per_answer"] or 0)
        out.append({"target": "≤ 2 journal writes per question on the hot path",
                    "measured": f"worst {worst[1]['journal']['rows_per_answer']} rows per answer ({worst[0]['short']}; "
                                + ", ".join(f"{k} {v['rows_per_answer']}" for k, v in worst[1]["journal"]["by_persistence_id"].items())
                                + "); all runs: " + ", ".join(f"{x['id']} {j['journal']['rows_per_answer']}" for x, j in js),
                    "met": all((j["journal"]["rows_per_answer"] or 0) <= T["journal_rows"] for _, j in js)})
        texts = [(x, j) for x, j in js if j["journal"].get("texts", {}).get("questions_found")]
        if texts:
            # Stored once: at most one copy of each in the journal, and snapshots that do not store them again
            # (their copies, amortised over the window's answers, added to the journal's mean).
            worst, verdicts = None, []
            for x, j in texts:
                t, st = j["journal"]["texts"], j.get("snapshot", {}).get("texts", {})
                q = t["question_copies_mean"] + (st.get("question_copies_per_answer") or 0)
                a = t["answer_copies_mean"] + (st.get("answer_copies_per_answer") or 0)
                ok = t["question_copies_max"] <= T["text_copies"] and t["answer_copies_max"] <= T["text_copies"] and q <= 1.05 and a <= 1.05
                verdicts.append(ok)
                if worst is None or q + a > worst[0]:
                    worst = (q + a, x, t, st, q, a)
            _, x, t, st, q, a = worst
            out.append({"target": "each text stored once (question and answer)",
                        "measured": f"worst {x['short']}: in the journal each question's text {t['question_copies_mean']}× (max {t['question_copies_max']}), "
                                    f"each answer's {t['answer_copies_mean']}× (max {t['answer_copies_max']}); snapshots add "
                                    f"{st.get('question_copies_per_answer', 0)} question and {st.get('answer_copies_per_answer', 0)} answer copies per answer: "
                                    f"{round(q, 2)} and {round(a, 2)} copies written per question in all",
                        "met": all(verdicts)})
        else:
            out.append({"target": "each text stored once (question and answer)",
                        "measured": "the questions' texts were not found in the journal rows (not stored as UTF-8 text?)", "met": False})
    c = r.get("connections")
    if c:
        full = c["sessions"] >= T["sessions"]
        out.append({"target": "10,000 sessions all connected within 30 s",
                    "measured": f"{c['connected']} of {c['sessions']} connected, the last after {c['seconds_until_all_connected']} s",
                    "met": full and c["connected"] == c["sessions"] and 0 <= c["seconds_until_all_connected"] <= T["connect_s"],
                    "not_shown": not full})
        out.append({"target": "each of them answered within the simulated delay + 2 s",
                    "measured": f"{c['answered']} of {c['sessions']} answered; beyond the {c['simulated_delay_seconds']:.0f} s delay: "
                                f"p99 {c['beyond_delay_p99_s']} s, max {c['beyond_delay_max_s']} s",
                    "met": full and c["answered"] == c["sessions"] and c["beyond_delay_max_s"] <= T["beyond_delay_s"], "not_shown": not full})
        rss = max(c["master_peak_rss_mib"], c.get("master_vmhwm_mib") or 0)
        out.append({"target": "master RSS ≤ 1 GiB (with the 10,000 sessions)",
                    "measured": f"{rss} MiB peak (VmHWM) with {c['connected']} sessions",
                    "met": full and c["connected"] == c["sessions"] and rss <= T["rss_mib"],
                    "not_shown": (not full or c["connected"] < c["sessions"]) and rss <= T["rss_mib"]})
    fo = r.get("failover")
    if fo:
        out.append({"target": "(issue 8) a killed worker's task re-assigned within 1 s", "measured": f"worst {fo['max_reassigned_ms']} ms of {fo['trials']}",
                    "met": 0 <= fo["max_reassigned_ms"] <= T["reassigned_ms"] and fo["all_answered"]})
    return out


# ---------------------------------------------------------------------------------------------------------------------
# The .md.

def verdict(t):
    return "met" if t["met"] else "not shown here (fewer sessions than the target connected)" if t.get("not_shown") else "**not met**"


def side_by_side(r):
    head = ("| shape | original answers/s | p50 ms | p99 ms | CPU ms/answer | ours answers/s | p50 ms | p99 ms | CPU ms/answer | "
            "journal rows/answer | ours/original answers/s |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for x in r["runs"]:
        o, u = x.get("original"), x["ours"]
        if o is None:
            oc = ["(one slot per worker only)", "", "", ""]
        elif o.get("final"):
            oc = [fmt(o["answers_per_second"]), fmt(o["p50_ms"]), fmt(o["p99_ms"]), fmt(o.get("master", {}).get("cpu_ms_per_answer"))]
        else:
            oc = [f"failed: {o.get('error', '?')}", "", "", ""]
        if ours_ok(u):
            jr = u.get("journal", {}).get("journal", {}).get("rows_per_answer")
            uc = [fmt(u["answers_per_second"]), fmt(u["p50_ms"]), fmt(u["p99_ms"]), fmt(u["master"]["cpu_ms_per_answer"]), fmt(jr)]
        else:
            uc = [f"failed: {u.get('error')}", "", "", "", ""]
        q = (x.get("ratio") or {}).get("answers_per_second")
        rows.append(f"| {x['title']} | " + " | ".join(oc + uc) + f" | {('**' + str(q) + '×**') if q is not None else '–'} |")
    return head + "\n".join(rows) + "\n"


def section(title, body):
    return f"\n## {title}\n\n{body}\n"


def percentiles_row(name, x):
    return f"| {name} | {fmt(x.get('p50_ms'))} | {fmt(x.get('p90_ms'))} | {fmt(x.get('p99_ms'))} | {fmt(x.get('p999_ms'))} | {fmt(x.get('max_ms'))} |\n"


def markdown(a):
    r = load(a[0])
    out_md = a[1]
    prefix = os.path.basename(out_md)[:-3]
    p = r["parameters"]
    img = lambda name, alt: f"![{alt}]({prefix}-{name}.png)" if os.path.exists(os.path.join(os.path.dirname(out_md) or ".", f"{prefix}-{name}.png")) else ""
    md = [f"# Benchmark {r['date']}: ours beside the original\n",
          f"Made by `bench/run.sh`{' --quick (a smoke run: short windows, small counts)' if r.get('quick') else ''} in {r['run_seconds']} s "
          f"at commit {r.get('git') or '?'}. Machine: {r['machine']}, shared with other engineers (load average before the run "
          f"{r['load_before']}, after {r['load_after']}: the latter counts this run's own threads too); every process of both systems, their brokers and the load generators ran on it. "
          f"Each pair ran back to back, original first, with the same warm-up ({p.get('warmup_seconds')} s) and measured window "
          f"({p.get('seconds')} s): answers that arrive inside the window are counted, and their latencies (question sent → its answer "
          "received) make the percentiles. **Ours runs on its default settings** (below); the original is seedbench "
          "(`../shared/peers/seedbench`, its unmodified `server.js` with its own Mosquitto and zero-delay fake workers, driven by its `load.js`).\n",
          side_by_side(r),
          "CPU ms/answer is the master's utime+stime (`/proc/PID/stat`) over the window ÷ the answers in it; for the original "
          "it is seedbench's master CPU% over the window × the window ÷ its answers. Journal rows/answer: rows added to the "
          "`journal` table during the window ÷ answers (per persistence id below).\n",
          "## Targets (issue 12)\n", "| target | measured | |", "|---|---|---|"]
    md += [f"| {t['target']} | {t['measured']} | {verdict(t)} |" for t in r["targets"]]
    md.append(img("answers-per-second", "answers per second, side by side"))
    missed = [t for t in r["targets"] if not t["met"] and not t.get("not_shown")]
    if missed:
        md.append(section("Where the time goes (targets not met)", findings(r)))

    # Per run details.
    body = []
    for x in r["runs"]:
        o, u = x.get("original"), x["ours"]
        body.append(f"### {x['title']}\n")
        if o is not None:
            body.append("- " + line_original(o) + (f" (seedbench's line: `{o['final']}`)" if o.get("final") else ""))
            if o.get("final"):
                body.append(f"  - answers by worker: {o.get('by_worker', '?')}; task-queued events {o.get('task_queued_events', '?')}; load.js CPU "
                            f"{o.get('loadgen_cpu_percent', '?')}% of a core; CPU s over the whole run: {o.get('cpu_seconds_whole_run', '?')}; "
                            f"master log {o.get('log_volume', '?')}; files in `{o.get('run_dir', '?')}`")
        if ours_ok(u):
            body.append("- " + line_ours(u, u.get("journal"), o))
            ph = u.get("phases", {})
            if ph:
                body.append(f"  - phases (p50 / p99 ms): until `SubmitQuery` returns {ph['sent_to_accepted']['p50_ms']} / {ph['sent_to_accepted']['p99_ms']}, "
                            f"until `TaskAssigned` {ph['sent_to_assigned']['p50_ms']} / {ph['sent_to_assigned']['p99_ms']}, `TaskAssigned` → `AiResponse` "
                            f"{ph['assigned_to_answered']['p50_ms']} / {ph['assigned_to_answered']['p99_ms']}")
            pushes = (f"; pushes per answer besides it: `TaskQueued` {u['task_queued_per_answer']}, `AiResponseChunk` {u['chunks_per_answer']}"
                      if "task_queued_per_answer" in u else "")
            body.append(f"  - answers by worker: {', '.join(f'{k} {v}' for k, v in u.get('by_worker', {}).items())}{pushes}; browsers connected in "
                        f"{u.get('connect_seconds')} s; LoadGen CPU {u.get('loadgen_cpu_percent')}% of a core; VmHWM {u['master'].get('vmhwm_mib')} MiB")
            j = u.get("journal", {})
            for table in ("journal", "snapshot"):
                t = j.get(table, {})
                if "rows_in_window" in t:
                    by = "; ".join(f"`{k}` {v['rows_per_answer']} rows ({fmt(v['bytes_per_answer'])} B) per answer over {v['ids']} id(s)"
                                   for k, v in t["by_persistence_id"].items()) or "none"
                    tx = t.get("texts", {})
                    if table == "snapshot":
                        txs = (f"; texts in them: {tx['question_copies_total']} question and {tx['answer_copies_total']} answer copies, "
                               f"{tx['question_copies_per_answer']} and {tx['answer_copies_per_answer']} per answer of the window"
                               if tx.get("questions_found") else "")
                    else:
                        txs = (f"; texts: each question stored {tx['question_copies_mean']}× (max {tx['question_copies_max']}), each answer "
                               f"{tx['answer_copies_mean']}× (max {tx['answer_copies_max']}) over {tx['questions_found']} questions of this run"
                               if tx.get("questions_found") else "")
                    body.append(f"  - `{table}`: {t['rows_in_window']} rows, {fmt(float(t['bytes_in_window']))} B in the window: {by}{txs}")
        else:
            body.append(f"- ours: did not run: {u.get('error')}")
        body.append("")
    md.append(section("The runs", "\n".join(body)))
    charts = [img(n, alt) for n, alt in (("latency-a", "latency, shape A"), ("latency-b", "latency, shape B"), ("throughput", "answers per second over time"),
                                         ("throughput-memory", "master memory"))]
    md.append("\n".join(c for c in charts if c))

    one = next((x for x in r["runs"] if x["browsers"] == 1 and ours_ok(x["ours"])), None)
    f = r.get("floor")
    if one:
        u, o = one["ours"], one.get("original") or {}
        rows = percentiles_row("ours end to end", u) + (percentiles_row("original end to end (load.js: no p99.9)", {**o, "p999_ms": None}) if o.get("final") else "")
        if f:
            rows += "".join(percentiles_row(n, f[k]) for n, k in (("floor: SignalR echo", "signalr_echo"),
                                                                 (f"floor: MQTT publish→receive ({r.get('floor_broker') or 'broker'})", "mqtt_publish_receive"),
                                                                 ("floor: gRPC unary", "grpc_unary")))
            rows += f"| floor: sum | {f['sum_p50_ms']} | | {f['sum_p99_ms']} | {f['sum_p999_ms']} | |\n"
        md.append(section("One browser: latency percentiles and the transport floor",
            f"From shape A's window ({u['answered_in_window']} answers; HdrHistogram, Stopwatch ticks). The floor is the same hops with no "
            "logic, measured by `LoadGen floor` in the same run: a SignalR round trip to an echo hub (WebSockets; Kestrel inside the load "
            "generator), an MQTT QoS 1 publish→receive through "
            f"{r.get('floor_broker') or 'the broker'}, a gRPC unary `WorkerCallback/SendResult` over h2c to a server that only acknowledges. "
            "A question takes one of each, so the floor is their sum.\n\n"
            "| | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|\n" + rows + "\n"
            + "\n".join(c for c in (img("latency-curve", "latency by percentile"), img("latency-distribution", "latency distribution")) if c)))
    c = r.get("connections")
    if c:
        md.append(section("Connections",
            f"{c['sessions']} browser sessions opened by one load-generator process (WebSockets, {c['parallel']} connects at a time; a "
            "session counts as connected when its `SessionStarted` arrived; a failed connect is tried again after 1 s, up to 3 times), each "
            f"asking one question as soon as it is connected; {p.get('conn_workers')} worker processes × {p.get('conn_capacity')} slots with "
            f"`Worker__SimulatedDelay=00:00:{int(c['simulated_delay_seconds']):02d}` (the model streams its answer across the delay). A refused "
            "question is sent again after 1 s, up to 5 times, timed from the first try. Sessions not opened within "
            f"{c['budget_seconds']:.0f} s (`--conn-budget`) are counted as not opened; an answer not there {c['answer_cap_seconds']:.0f} s after its "
            "question counts as not answered (so the run stays short).\n\n"
            "| sessions | connected | last connected after s | not opened | given up | connect retries | asked | answered | not answered | failed | refusals sent again | beyond delay p50 s | p99 s | max s | all answered after s | RSS before MiB | all in flight | peak | VmHWM | KiB per session |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
            f"| {c['sessions']} | {c['connected']} | {c['seconds_until_all_connected']} | {c['not_opened_budget']} | {c['given_up']} | {c['connect_retries']} | "
            f"{c['asked']} | {c['answered']} | {c['not_answered_within_cap']} | {c['failed']} | {c['refusals_retried']} | {c['beyond_delay_p50_s']} | "
            f"{c['beyond_delay_p99_s']} | {c['beyond_delay_max_s']} | {c['seconds_until_all_answered']} | {c['master_rss_before_mib']} | "
            f"{c['master_rss_all_in_flight_mib']} | {c['master_peak_rss_mib']} | {c['master_vmhwm_mib']} | {c['master_kib_per_session']} |\n\n"
            + (f"One connect (WebSocket, SignalR handshake, until `SessionStarted`) took p50 {c['connect_latency']['p50_ms']} ms, p99 "
               f"{c['connect_latency']['p99_ms']} ms, max {c['connect_latency']['max_ms']} ms. " if c.get("connect_latency") else "")
            + (f"The master used {conn_cpu(c)} of a core while the sessions were being opened. " if conn_cpu(c) else "")
            + f"The load generator itself held {c.get('loadgen_rss_all_in_flight_mib', '?')} MiB with all its sessions open.\n\n"
            + "\n".join(x for x in (img("connections", "sessions over time"), img("memory-per-session", "memory per session")) if x)))
    fo = r.get("failover")
    if fo:
        runs = "".join(f"| {x['trial']} | {x['killed_worker']} | {x['reassigned_to']} | {x['reassigned_ms']} | {x['answer_after_kill_ms']} | "
                       f"{x['answer_beyond_delay_ms']} |\n" for x in fo["runs"])
        md.append(section("Failover",
            f"{fo['trials'] + 1} worker processes with one slot each and a {fo['simulated_delay_ms']:.0f} ms simulated delay. Per trial one browser "
            f"asks one question; {fo['busy_for_ms']:.0f} ms after its `TaskAssigned` the load generator kills that worker with SIGKILL, then "
            "times, from the kill, the `TaskAssigned` of the next attempt and the `AiResponse` (the new worker runs the whole delay again).\n\n"
            "| trial | killed | re-assigned to | re-assigned after ms | answer after ms | answer beyond the delay ms |\n"
            "|---|---|---|---|---|---|\n" + runs))
    pr = r.get("profile")
    if pr:
        md.append(section("Profile: the master's CPU by component", profile_md(r, pr) + img("profile", "CPU per answer by component")))
    md.append(section("How ours was configured", settings_md(r)))
    d = r.get("disk_fsync")
    if d:
        md.append(f"The disk under the journals (the scratch directory): a 4 KiB write + fsync took p50 {d['p50_ms']} ms, p99 {d['p99_ms']} ms.\n")
    with open(out_md, "w") as fh:
        fh.write("\n".join(md))


def conn_cpu(c):
    """Mean (and peak) master CPU % of one core over the seconds in which sessions were being opened."""
    pts = [p for p in c.get("series", []) if len(p) > 4 and p[0] <= max(c.get("seconds_until_all_connected", 0), 1)]
    if not pts:
        return None
    return f"{round(sum(p[4] for p in pts) / len(pts))}% on average (peak {round(max(p[4] for p in pts))}%)"


def profile_md(r, pr):
    out = []
    if pr.get("errors"):
        out.append(f"Problems during the profile: {pr['errors']}\n")
    for ps in pr.get("passes", []):
        if ps.get("error"):
            out.append(f"**{ps.get('title')}**: {ps['error']}\n")
            continue
        out.append(f"**{ps['title']}**: {fmt(ps['answers_per_second'])} answers/s under perf (p50 {ps['p50_ms']} ms), {ps['samples']} samples; "
                   f"master CPU {fmt(ps['cpu_ms_per_answer'])} ms per answer (/proc: {ps['proc_cpu_ms']} ms in the {ps['seconds']} s window, perf "
                   f"saw {ps['perf_cpu_ms']} ms); {ps['kernel_percent']}% of it in the kernel.\n")
        out.append("| component | % of master CPU | CPU ms per answer | of it in the kernel |\n|---|---|---|---|\n"
                   + "".join(f"| {c['name']} | {c['percent']}% | {fmt(c['ms_per_answer'])} | {fmt(c['kernel_ms_per_answer'])} |\n" for c in ps["components"]))
        out.append("Busiest threads (% of samples): " + ", ".join(f"{t} {v}%" for t, v in ps["threads"]) + "\n")
        out.append("Innermost frames (% of samples):\n\n| frame | component | % |\n|---|---|---|\n"
                   + "".join(f"| `{l}` | {c} | {v} |\n" for l, c, v in ps["top_leaves"][:15]))
        if ps.get("top_unattributed"):
            out.append("\nLargest stacks not attributed to a library (runtime, other):\n\n"
                       + "".join(f"- {v}%: `{k}`\n" for k, v in ps["top_unattributed"][:6]))
        out.append("")
    out.append("How it was taken: a separate master, on the same default settings plus `DOTNET_PerfMapEnabled=1` (perf names the JIT-compiled "
               "frames from `/tmp/perf-PID.map`) and `DOTNET_EnableWriteXorExecute=0` (else managed frames show as `memfd:doublemapper`), with "
               f"the workers of {pr.get('shape')}; `perf record -F 499 -g -p PID` for the measured window, after the same kind of warm-up. "
               "Each sample goes to a component by its thread (server GC and background GC threads → GC, the tiered-compilation thread → "
               "JIT, the console logger's thread → logging), else by the innermost frame of a known library on its stack (SQLite, "
               "Microsoft.Data.Sqlite, linq2db and Akka.Persistence → journal; MQTTnet; Grpc; SignalR and WebSockets; the rest of "
               "ASP.NET Core/Kestrel; DotNetty/Akka.Remote; Microsoft.Extensions.Logging and Akka's logging; our AiSystem code; Akka), "
               "else thread pool, sockets, kernel or runtime by what is left. The split is from the samples; the amount per answer is from "
               "/proc's CPU time over the window. \"Of it in the kernel\": samples whose innermost frame is in the kernel (system calls, "
               "page faults) made on that component's behalf.\n")
    th = pr.get("thread_cpu")
    if th:
        out.append("CPU seconds per master thread name over the 200-browser profiled window (`/proc/PID/task/*/stat`):\n\n| thread | threads | CPU s |\n|---|---|---|\n"
                   + "".join(f"| {n} | {k} | {c} |\n" for n, k, c in th[:12]))
    if pr.get("counters"):
        out.append("\nRuntime counters (dotnet-counters, System.Runtime), mean over the 200-browser profiled window:\n\n| counter | mean |\n|---|---|\n"
                   + "".join(f"| {k} | {v} |\n" for k, v in pr["counters"].items()))
    return "\n".join(out) + "\n"


def settings_md(r):
    s = r.get("ours_settings", {})
    return ("Ours is what `dotnet run --project src/Master` runs, except what the shape needs: the Release build, "
            "`dotnet src/Master/bin/Release/net10.0/AiSystem.Master.dll` from `src/Master` (so `appsettings.json` applies: info logs, "
            "the console logger to a log file, `upb/logs` on), no `Mqtt__Host` (its embedded MQTT broker), a fresh SQLite journal per master. "
            "Environment of each master:\n\n```\n" + "\n".join(s.get("master", [])) + "\n```\n\nand of each worker "
            "(`dotnet src/Worker/bin/Release/net10.0/AiSystem.Worker.dll`, default logging; `Worker__Capacity` and, for the connections "
            "and failover runs, `Worker__SimulatedDelay` vary):\n\n```\n" + "\n".join(s.get("worker", [])) + "\n```\n\n"
            "Why each one: the ports are free loopback ports so that nothing collides with other engineers' runs; `Master__LocalWorkers=0` "
            "because the shape's workers are separate processes; the two `Limits__` are lifted because the original has neither limit "
            "(30 questions a minute per session and 10,000 queued would refuse the closed loop); `Worker__SimulatedDelay=00:00:00` because "
            "seedbench's fake workers answer at once. The original keeps its own Mosquitto (seedbench's run.sh starts it).\n")


def findings(r):
    """Where the time goes, composed from this run's numbers, for the targets not met."""
    out = []
    runs = {x["id"]: x for x in r["runs"]}
    pr = r.get("profile") or {}
    passes = {("one" if p.get("browsers") == 1 else "many"): p for p in pr.get("passes", []) if not p.get("error")}
    for rid in ("A", "B"):
        x = runs.get(rid)
        if not x or not ours_ok(x["ours"]):
            continue
        o, u = x.get("original") or {}, x["ours"]
        oc, uc = o.get("master", {}).get("cpu_ms_per_answer"), u["master"]["cpu_ms_per_answer"]
        if oc and uc:
            out.append(f"- **Shape {rid}: CPU per answer.** Our master spends {fmt(uc)} ms of CPU per answer, the original {fmt(oc)} ms "
                       f"({div(uc, oc)}×). With both systems sharing 2 cores, answers/s is bound by that CPU: ours ran at "
                       f"{u['master']['cpu_percent_of_one_core']}% of a core, the original at {o['master'].get('cpu_percent_of_one_core')}%.")
    rising = []
    for x in r["runs"]:
        ps = [v for _, v in x["ours"].get("per_second", [])] if ours_ok(x["ours"]) else []
        if len(ps) >= 10:
            first, last = sum(ps[:5]) / 5, sum(ps[-5:]) / 5
            if last > 1.3 * max(first, 1):
                rising.append(f"{x['short']} {round(first)} → {round(last)}")
    if rising:
        out.append("- **Ours was still getting faster during the window** (answers/s in its first 5 s → its last 5 s: " + "; ".join(rising)
                   + f"): after a {r['parameters'].get('warmup_seconds')} s warm-up the JIT is still tiering up (see the profile's JIT share), "
                   "so the window's mean is below what a long-running master does; `--warmup 30` shows the steadier state.")
    for x in r["runs"]:
        q = x["ours"].get("task_queued_per_answer") if ours_ok(x["ours"]) else None
        if q and q >= 2:
            out.append(f"- **{x['short']}: queue positions.** Each answer let the browsers receive {q} `TaskQueued` pushes besides it: "
                       "every time the queue moves, every waiting question's new position is sent to its session and browser, so the "
                       "master's work per answer grows with the queue's length (here about the browsers less the slots).")
    one = next((x for x in r["runs"] if x["browsers"] == 1 and ours_ok(x["ours"])), None)
    if one:
        ph, f = one["ours"].get("phases"), r.get("floor")
        if ph:
            out.append(f"- **One browser: where an answer's time goes** (p50, from the browser): {ph['sent_to_accepted']['p50_ms']} ms until "
                       f"`SubmitQuery` returns, {ph['sent_to_assigned']['p50_ms']} ms until `TaskAssigned`, then "
                       f"{ph['assigned_to_answered']['p50_ms']} ms from `TaskAssigned` to `AiResponse`"
                       + (f"; the transport floor (SignalR + MQTT + gRPC with no logic) is {f['sum_p50_ms']} ms." if f else "."))
    for key, what in (("many", "200 browsers"), ("one", "one browser")):
        ps = passes.get(key)
        if not ps:
            continue
        top = "; ".join(f"{c['name']} {fmt(c['ms_per_answer'])} ms ({c['percent']}%)" for c in ps["components"][:7])
        out.append(f"- **Profile, {what}** ({ps['title']}): {fmt(ps['cpu_ms_per_answer'])} ms of master CPU per answer: {top}. "
                   f"{ps['kernel_percent']}% of the master's CPU was in the kernel.")
    js = [(x, x["ours"]["journal"]) for x in r["runs"] if ours_ok(x["ours"]) and "rows_per_answer" in x["ours"].get("journal", {}).get("journal", {})]
    if js:
        x, j = max(js, key=lambda xj: xj[1]["journal"]["rows_per_answer"] or 0)
        jj = j["journal"]
        tx = jj.get("texts", {})
        out.append(f"- **Journal**: {jj['rows_per_answer']} rows per answer in {x['short']} ("
                   + ", ".join(f"`{k}` {v['rows_per_answer']}" for k, v in jj["by_persistence_id"].items()) + ")"
                   + (f"; each question's text is stored {tx['question_copies_mean']} times and each answer's {tx['answer_copies_mean']} times"
                      if tx.get("questions_found") else "")
                   + ".")
        snaps = [(x, j["snapshot"]) for x, j in js if j.get("snapshot", {}).get("rows_in_window")]
        if snaps:
            x, sn = max(snaps, key=lambda xs: xs[1]["bytes_per_answer"] or 0)
            jb = next(j["journal"]["bytes_in_window"] for y, j in js if y is x)
            tx = sn.get("texts", {})
            out.append(f"- **Snapshots** write more bytes than the journal: in {x['short']} {fmt(float(sn['bytes_in_window']))} B of snapshots in the "
                       f"window ({fmt(sn['bytes_per_answer'])} B per answer) against {fmt(float(jb))} B of journal rows"
                       + (f"; they store {tx.get('question_copies_per_answer')} question and {tx.get('answer_copies_per_answer')} answer texts again per "
                          "answer (a session's snapshot holds its whole history)" if tx.get("questions_found") else "") + ".")
    c = r.get("connections")
    if c and (c["connected"] < c["sessions"] or c["seconds_until_all_connected"] > TARGETS["connect_s"] or c["beyond_delay_max_s"] > TARGETS["beyond_delay_s"]):
        rate = round(c["connected"] / max(c["seconds_until_all_connected"], 0.1))
        out.append(f"- **Connections**: {c['connected']} sessions connected in {c['seconds_until_all_connected']} s (about {rate} a second, "
                   f"{c['parallel']} connects in flight at a time, while the first questions were already being answered); answers came "
                   f"up to {c['beyond_delay_max_s']} s after the delay (p99 {c['beyond_delay_p99_s']} s). Each new session is a persistent "
                   "sharded actor: its start and its question are journal writes, on the same journal as everything else.")
    if not out:
        out.append("- (no profile or per-answer figures in this run to explain it)")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------------------------------

def summary(path):
    r = load(path)
    print("Side by side (answers/s, p50 ms, p99 ms, master CPU ms/answer):")
    for x in r["runs"]:
        o, u = x.get("original"), x["ours"]
        os_ = ("original " + (f"{fmt(o['answers_per_second'])}/s, p50 {o['p50_ms']}, p99 {o['p99_ms']}, CPU {fmt(o.get('master', {}).get('cpu_ms_per_answer'))}"
                              if o.get("final") else f"failed ({o.get('error')})") + " | ") if o is not None else ""
        us = (f"ours {fmt(u['answers_per_second'])}/s, p50 {u['p50_ms']}, p99 {u['p99_ms']}, CPU {fmt(u['master']['cpu_ms_per_answer'])}, "
              f"journal {u.get('journal', {}).get('journal', {}).get('rows_per_answer', '?')} rows/answer" if ours_ok(u) else f"ours failed ({u.get('error')})")
        q = (x.get("ratio") or {}).get("answers_per_second")
        print(f"  {x['short']:<28} {os_}{us}" + (f" | ratio {q}×" if q is not None else ""))
    print("Targets:")
    for t in r["targets"]:
        v = "met" if t["met"] else "not shown" if t.get("not_shown") else "NOT MET"
        print(f"  [{v}] {t['target']}: {t['measured']}")


def best(scratch):
    manifest = [line.split("|") for line in read(f"{scratch}/runs.txt", "").splitlines() if line.strip()]
    cands = []
    for m in manifest:
        t = maybe(f"{scratch}/ours-{m[0]}.json")
        if t and int(m[3]) >= 200 and "answers_per_second" in t:
            cands.append((t["answers_per_second"], m[0], m[4], m[5]))
    if cands:
        _, rid, w, s = max(cands)
        print(f"{rid} {w} {s}")


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "seed":
        print(json.dumps(parse_seed(read(args[0], ""), int(args[1])), indent=1))
    elif mode == "journal":
        print(json.dumps(journal_stats(args[0], load(args[1])), indent=1))
    elif mode == "perf":
        print(json.dumps(perf_profile(args[0], load(args[1]), args[2], args[3] if len(args) > 3 else None), indent=1))
    elif mode == "threads":
        print(json.dumps(threads(args[0])))
    elif mode == "threadcpu":
        print(json.dumps(thread_cpu(load(args[0]), load(args[1]))))
    elif mode == "fsync":
        print(json.dumps(disk_fsync(args[0])))
    elif mode == "line":
        kind, data = args[0], maybe(args[1])
        more = maybe(args[2]) if len(args) > 2 else None
        text = {"original": lambda: line_original(data), "ours": lambda: line_ours(data, more, maybe(args[3]) if len(args) > 3 else None),
                "floor": lambda: line_floor(data), "connections": lambda: line_connections(data),
                "failover": lambda: line_failover(data), "profile": lambda: line_profile(data)}[kind]
        try:
            print("  => " + text(), flush=True)
        except (KeyError, TypeError) as e:
            print(f"  => {kind}: no result ({type(e).__name__}: {e})", flush=True)
    elif mode == "best":
        best(args[0])
    elif mode == "combine":
        combine(args[0], args[1], args[2:])
    elif mode == "markdown":
        markdown(args)
    elif mode == "summary":
        summary(args[0])
    else:
        sys.exit(f"unknown mode {mode}")
