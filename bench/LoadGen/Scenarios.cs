using System.Diagnostics;
using HdrHistogram;
using Microsoft.AspNetCore.SignalR;

namespace AiSystem.LoadGen;

/// <summary>The browser-side scenarios: latency, throughput, connections, failover. Progress goes to stderr.</summary>
public static class Scenarios
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(60);

    private static void Progress(string line) => Console.Error.WriteLine("  " + line);

    private static async Task<List<Browser>> ConnectManyAsync(string master, int count, int parallel, Action<int>? connected = null)
    {
        var browsers = new Browser?[count];
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
        {
            var b = new Browser(master);
            await b.StartAsync(ct);
            browsers[i] = b;
            connected?.Invoke(Interlocked.Increment(ref done));
        });
        return [.. browsers.Select(b => b!)];
    }

    /// <summary>Scenario 1: one browser, questions one after another.</summary>
    public static async Task<Dictionary<string, object>> Latency(string master, int count)
    {
        await using var browser = new Browser(master);
        await browser.StartAsync();
        for (var i = 0; i < Math.Min(100, count); i++) await browser.AskAsync($"warm-up {i}", AnswerTimeout); // JIT, pools, journal
        var histogram = Stats.NewHistogram();
        // Where each answer's time goes, as the browser sees it: until SubmitQuery returns (the session and the
        // dispatcher have journaled the question), until TaskAssigned arrives, and from TaskAssigned to AiResponse.
        var (accepted, assigned, working) = (Stats.NewHistogram(), Stats.NewHistogram(), Stats.NewHistogram());
        var assignedAt = new Dictionary<string, long>();
        var workers = new Dictionary<string, int>(); // which workers answered: the profile traces one of them
        browser.Assigned += (task, worker, _, at) =>
        {
            lock (assignedAt) { assignedAt[task] = at; workers[worker] = workers.GetValueOrDefault(worker) + 1; }
        };
        var (lost, failed) = (0, 0);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var answer = await browser.SubmitAsync($"latency question {i}", AnswerTimeout);
            var acceptedAt = Stopwatch.GetTimestamp();
            var outcome = await answer;
            if (outcome.LatencyTicks is not { } ticks) lost++;
            else if (outcome.Failed) failed++;
            else
            {
                histogram.RecordValue(ticks);
                accepted.RecordValue(acceptedAt - outcome.SentTicks);
                long at;
                lock (assignedAt) at = assignedAt.Remove(outcome.TaskId, out var a) ? a : 0;
                if (at > 0)
                {
                    assigned.RecordValue(Math.Max(at - outcome.SentTicks, 0));
                    working.RecordValue(Math.Max(outcome.AnsweredTicks!.Value - at, 0));
                }
            }
            if (i % 250 == 249) Progress($"latency: {i + 1}/{count} answered, p50 so far {Stats.Ms(histogram.GetValueAtPercentile(50))} ms");
        }
        var result = Stats.Percentiles(histogram);
        result["scenario"] = "latency";
        result["questions"] = count;
        result["lost"] = lost;
        result["failed"] = failed;
        result["duplicates"] = browser.Duplicates;
        result["unexpected"] = browser.Unexpected;
        result["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        result["percentile_curve"] = Stats.PercentileCurve(histogram);
        result["distribution"] = Stats.Distribution(histogram);
        lock (assignedAt) result["assigned_to"] = new Dictionary<string, int>(workers);
        result["phases"] = new Dictionary<string, object>
        {
            ["sent_to_accepted"] = Stats.Percentiles(accepted),
            ["sent_to_assigned"] = Stats.Percentiles(assigned),
            ["assigned_to_answered"] = Stats.Percentiles(working),
        };
        return result;
    }

    /// <summary>
    /// The closed loop of the side-by-side shapes: B browsers, each asks, waits for its answer, asks again at once.
    /// First <paramref name="warmup"/> seconds not counted (the JIT tiers up, pools fill), then the measured window:
    /// the answers that arrive inside it are counted and their latencies recorded, exactly as seedbench's load.js
    /// counts the original's. After the window no new question is asked; those in flight are waited for, so lost ones
    /// are seen. At the window's start and end the master's CPU time is read from /proc (CPU per answer), and the
    /// UTC clock in .NET ticks, the unit of the journal's <c>created</c> column (journal rows per answer).
    /// Every question is a unique token <c>bench-RUN-bN-qM?</c>, so report.py can find its copies in the journal.
    /// </summary>
    public static async Task<Dictionary<string, object>> Throughput(string master, int browsers, int warmup, int seconds, int masterPid,
        string? windowFile)
    {
        var run = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3));
        Progress($"throughput: connecting {browsers} browser(s)...");
        var connectClock = Stopwatch.StartNew();
        var clients = await ConnectManyAsync(master, browsers, 32);
        var connectSeconds = connectClock.Elapsed.TotalSeconds;
        var histogram = new LongConcurrentHistogram(1, TimeStamp.Seconds(120), 3);
        // Where the time goes, as the browser sees it: until SubmitQuery returns, until TaskAssigned, TaskAssigned → AiResponse.
        var (accepted, assigned, working) = (new LongConcurrentHistogram(1, TimeStamp.Seconds(120), 3),
            new LongConcurrentHistogram(1, TimeStamp.Seconds(120), 3), new LongConcurrentHistogram(1, TimeStamp.Seconds(120), 3));
        var assignedAt = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        foreach (var c in clients) c.Assigned += (task, _, attempt, at) => { if (attempt == 1) assignedAt.TryAdd(task, at); };
        var byWorker = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        long answered = 0, answeredTotal = 0, lost = 0, failed = 0, rejected = 0;
        var perSecond = new long[seconds];
        var freq = Stopwatch.Frequency;
        var start = Stopwatch.GetTimestamp();
        var (windowStart, windowEnd) = (start + warmup * freq, start + (warmup + seconds) * freq);
        var asking = 1;
        var window = Task.Run(async () =>
        {
            try
            {
                await Task.Delay(TimeSpan.FromTicks(Math.Max(0, (windowStart - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / freq)));
                var utcStart = DateTime.UtcNow.Ticks;
                var journal0 = await JournalCounters.ReadAsync(master);
                var cpu0 = ProcSampler.Read(masterPid, 0);
                var self0 = Process.GetCurrentProcess().TotalProcessorTime;
                if (windowFile is not null) await File.WriteAllTextAsync(windowFile, utcStart.ToString());
                var sampler = new ProcSampler(masterPid);
                for (var s = 1; s <= seconds; s++)
                {
                    var wait = windowStart + s * freq - Stopwatch.GetTimestamp();
                    if (wait > 0) await Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / freq));
                    if (s % 5 == 0 || s == seconds) Progress($"throughput: {s}/{seconds} s of the window, {Interlocked.Read(ref answered)} answered in it");
                }
                var utcEnd = DateTime.UtcNow.Ticks;
                var cpu1 = ProcSampler.Read(masterPid, 0);
                var self1 = Process.GetCurrentProcess().TotalProcessorTime;
                var journal1 = await JournalCounters.ReadAsync(master);
                Volatile.Write(ref asking, 0);
                await sampler.DisposeAsync();
                return (utcStart, utcEnd, cpu0, cpu1, (self1 - self0).TotalSeconds, sampler.Summary(), JournalCounters.Delta(journal0, journal1));
            }
            finally
            {
                Volatile.Write(ref asking, 0); // also when the master is gone: the browsers stop, and the error surfaces below
            }
        });
        Progress($"throughput: {browsers} browser(s) connected in {connectSeconds:0.00} s; warm-up {warmup} s, then {seconds} s measured");
        await Task.WhenAll(clients.Select(async (c, n) =>
        {
            for (var i = 0; Volatile.Read(ref asking) == 1; i++)
            {
                Outcome outcome;
                long acceptedTicks;
                try
                {
                    var answer = await c.SubmitAsync($"bench-{run}-b{n}-q{i}?", AnswerTimeout);
                    acceptedTicks = Stopwatch.GetTimestamp();
                    outcome = await answer;
                }
                catch (Exception e)
                {
                    // Refused ("busy, send it again") or broken: a user waits a second before sending again.
                    if (Interlocked.Increment(ref rejected) <= 3) Progress($"throughput: browser {n} refused: {e.Message}");
                    await Task.Delay(TimeSpan.FromSeconds(1));
                    continue;
                }
                if (outcome.AnsweredTicks is not { } at) { Interlocked.Increment(ref lost); continue; }
                Interlocked.Increment(ref answeredTotal);
                assignedAt.TryRemove(outcome.TaskId, out var asg);
                if (outcome.Failed) { Interlocked.Increment(ref failed); continue; }
                if (at < windowStart || at > windowEnd) continue; // warm-up, or after the window
                Interlocked.Increment(ref answered);
                Interlocked.Increment(ref perSecond[Math.Min(seconds - 1, (int)((at - windowStart) / freq))]);
                histogram.RecordValue(at - outcome.SentTicks);
                accepted.RecordValue(Math.Max(acceptedTicks - outcome.SentTicks, 0));
                if (asg > 0)
                {
                    assigned.RecordValue(Math.Max(asg - outcome.SentTicks, 0));
                    working.RecordValue(Math.Max(at - asg, 0));
                }
                byWorker.AddOrUpdate(outcome.WorkerId ?? "?", 1, (_, v) => v + 1);
            }
        }));
        var drained = Stopwatch.GetTimestamp();
        var (utcStart, utcEnd, cpu0, cpu1, selfCpu, summary, journalWritten) = await window;
        var result = Stats.Percentiles(histogram);
        result["scenario"] = "throughput";
        result["run_tag"] = run;
        result["browsers"] = browsers;
        result["warmup_seconds"] = warmup;
        result["seconds"] = seconds;
        result["connect_seconds"] = Math.Round(connectSeconds, 2);
        result["answered_in_window"] = answered;
        result["answered_total"] = answeredTotal;
        result["answers_per_second"] = Math.Round(answered / (double)seconds, 1);
        result["drain_seconds"] = Math.Round((drained - windowEnd) / (double)freq, 2);
        result["lost"] = lost;
        result["failed"] = failed;
        result["rejected"] = rejected;
        result["duplicates"] = clients.Sum(c => c.Duplicates);
        result["unexpected"] = clients.Sum(c => c.Unexpected);
        result["per_second"] = perSecond.Select((v, s) => new double[] { s + 1, v }).ToArray();
        result["by_worker"] = new SortedDictionary<string, long>(byWorker);
        // Pushes besides the answer itself, over the whole run (warm-up and drain included) per answer received.
        result["task_queued_per_answer"] = answeredTotal == 0 ? 0 : Math.Round(clients.Sum(c => c.QueuedEvents) / (double)answeredTotal, 2);
        result["chunks_per_answer"] = answeredTotal == 0 ? 0 : Math.Round(clients.Sum(c => c.ChunkEvents) / (double)answeredTotal, 2);
        result["percentile_curve"] = Stats.PercentileCurve(histogram);
        result["distribution"] = Stats.Distribution(histogram);
        result["phases"] = new Dictionary<string, object>
        {
            ["sent_to_accepted"] = Stats.Percentiles(accepted),
            ["sent_to_assigned"] = Stats.Percentiles(assigned),
            ["assigned_to_answered"] = Stats.Percentiles(working),
        };
        var cpuSeconds = cpu1.CpuSeconds - cpu0.CpuSeconds;
        summary["cpu_seconds_in_window"] = Math.Round(cpuSeconds, 2);
        summary["cpu_ms_per_answer"] = answered == 0 ? -1 : Math.Round(cpuSeconds * 1000 / answered, 3);
        summary["cpu_percent_of_one_core"] = Math.Round(100 * cpuSeconds / seconds, 1);
        summary["vmhwm_mib"] = cpu1.HwmMiB;
        result["master"] = summary;
        result["window_utc_ticks"] = new[] { utcStart, utcEnd };
        // What the master's journal wrote in the window (its /metrics counters): rows that were deleted again later
        // (a session's events behind its snapshot) still count as written.
        if (journalWritten is not null) result["journal_written"] = journalWritten;
        result["loadgen_cpu_percent"] = Math.Round(100 * selfCpu / seconds, 1);
        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        return result;
    }

    /// <summary>
    /// Many sessions at once: opens <paramref name="sessions"/> browsers, <paramref name="parallel"/> connects at a time
    /// (a failed connect is tried again after a second, up to 3 times), and each asks one question as soon as it is
    /// connected (a refused question is sent again after a second, up to 5 times, as a user would). Measures the time
    /// until all are connected, and per session the time from its first attempt to ask until its answer, less the
    /// worker's simulated delay. Sessions not opened within <paramref name="budget"/> are counted, not hidden; an
    /// answer not there <paramref name="answerCap"/> after its question counts as not answered.
    /// </summary>
    public static async Task<Dictionary<string, object>> Connections(string master, int sessions, int parallel, int masterPid, TimeSpan budget,
        TimeSpan delay, TimeSpan answerCap)
    {
        var baseline = ProcSampler.Read(masterPid, 0);
        Progress($"connections: master RSS before: {baseline.RssMiB} MiB; opening {sessions} sessions, {parallel} at a time...");
        var clock = Stopwatch.StartNew();
        var t0 = Stopwatch.GetTimestamp();
        long connected = 0, submitted = 0, answered = 0, failed = 0, lost = 0, refused = 0, refusals = 0, connectRetries = 0;
        var series = new List<double[]>();
        var latency = new LongConcurrentHistogram(1, TimeStamp.Seconds(600), 3);
        var connectTime = new LongConcurrentHistogram(1, TimeStamp.Seconds(600), 3);
        using var stop = new CancellationTokenSource();
        var sampling = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            var lastCpu = baseline.CpuSeconds;
            var lastAt = 0.0;
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                {
                    var r = ProcSampler.Read(masterPid, clock.Elapsed.TotalSeconds);
                    var cpu = Math.Round(100 * (r.CpuSeconds - lastCpu) / Math.Max(r.Seconds - lastAt, 0.001), 1);
                    (lastCpu, lastAt) = (r.CpuSeconds, r.Seconds);
                    // [s, connected, answered, master RSS MiB, master CPU % of one core in the last second]
                    lock (series) series.Add([r.Seconds, Interlocked.Read(ref connected), Interlocked.Read(ref answered), r.RssMiB, cpu]);
                    if (series.Count % 5 == 0)
                        Progress($"connections: {r.Seconds:0} s: {Interlocked.Read(ref connected)} connected, {Interlocked.Read(ref submitted)} asked, {Interlocked.Read(ref answered)} answered, master RSS {r.RssMiB} MiB");
                }
            }
            catch (OperationCanceledException) { }
        });
        var browsers = new Browser?[sessions];
        var answers = new Task<Outcome>?[sessions];
        var firstAsked = new long[sessions];
        long skipped = 0, lastConnected = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, sessions), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
        {
            Browser? b = null;
            for (var attempt = 1; b is null; attempt++)
            {
                if (clock.Elapsed > budget) { Interlocked.Increment(ref skipped); return; } // out of time: not opened
                var candidate = new Browser(master);
                try
                {
                    var began = Stopwatch.GetTimestamp();
                    await candidate.StartAsync(ct);
                    connectTime.RecordValue(Math.Max(Stopwatch.GetTimestamp() - began, 1));
                    b = candidate;
                }
                catch (Exception e)
                {
                    await candidate.DisposeAsync();
                    if (attempt >= 3)
                    {
                        if (Interlocked.Increment(ref refused) <= 3) Progress($"connections: session {i} failed to connect: {e.GetType().Name}: {e.Message}");
                        return;
                    }
                    Interlocked.Increment(ref connectRetries);
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
            }
            browsers[i] = b;
            Interlocked.Increment(ref connected);
            Interlocked.Exchange(ref lastConnected, Stopwatch.GetTimestamp());
            firstAsked[i] = Stopwatch.GetTimestamp();
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var pending = await b.SubmitAsync($"session {i} question", answerCap);
                    // Counted when it arrives (not after all sessions are open), timed from the first try to ask.
                    answers[i] = pending.ContinueWith(t =>
                    {
                        var o = t.Result;
                        if (o.AnsweredTicks is not { } at) Interlocked.Increment(ref lost);
                        else if (o.Failed) Interlocked.Increment(ref failed);
                        else { latency.RecordValue(Math.Max(at - firstAsked[i], 1)); Interlocked.Increment(ref answered); }
                        return o;
                    }, TaskContinuationOptions.ExecuteSynchronously);
                    break;
                }
                catch (Exception e) when (attempt < 5)
                {
                    if (Interlocked.Increment(ref refusals) <= 3) Progress($"connections: session {i} refused, sending again in 1 s: {e.Message}");
                    await Task.Delay(TimeSpan.FromSeconds(1), ct);
                }
                catch (Exception e)
                {
                    if (Interlocked.Increment(ref refused) <= 3) Progress($"connections: session {i} gave up asking: {e.GetType().Name}: {e.Message}");
                    return;
                }
            }
            Interlocked.Increment(ref submitted);
        });
        var allConnected = connected == 0 ? -1 : (Interlocked.Read(ref lastConnected) - t0) / (double)Stopwatch.Frequency;
        var allAsked = clock.Elapsed;
        var inFlight = ProcSampler.Read(masterPid, allAsked.TotalSeconds);
        var loadGenMiB = Math.Round(Environment.WorkingSet / 1048576.0, 1);
        Progress($"connections: {connected} connected (the last after {allConnected:0.0} s), {submitted} asked after {allAsked.TotalSeconds:0.0} s; master RSS {inFlight.RssMiB} MiB");
        await Task.WhenAll(answers.Where(a => a is not null).Select(a => a!));
        var allAnswered = clock.Elapsed;
        var end = ProcSampler.Read(masterPid, allAnswered.TotalSeconds);
        await stop.CancelAsync();
        await sampling;
        var peak = Math.Max(series.Count == 0 ? 0 : series.Max(s => s[3]), Math.Max(inFlight.RssMiB, end.RssMiB));
        var delayMs = delay.TotalMilliseconds;
        double Beyond(double ms) => Math.Round((ms - delayMs) / 1000, 3);
        var lat = Stats.Percentiles(latency);
        var result = new Dictionary<string, object>
        {
            ["scenario"] = "connections",
            ["sessions"] = sessions,
            ["parallel"] = parallel,
            ["connected"] = connected,
            ["asked"] = submitted,
            ["answered"] = answered,
            ["failed"] = failed,
            ["not_answered_within_cap"] = lost,
            ["answer_cap_seconds"] = answerCap.TotalSeconds,
            ["given_up"] = refused,
            ["connect_retries"] = connectRetries,
            ["refusals_retried"] = refusals,
            ["not_opened_budget"] = skipped,
            ["budget_seconds"] = budget.TotalSeconds,
            ["duplicates"] = browsers.Where(b => b is not null).Sum(b => b!.Duplicates),
            ["simulated_delay_seconds"] = delay.TotalSeconds,
            ["seconds_until_all_connected"] = Math.Round(allConnected, 2),
            ["seconds_to_connect_and_ask"] = Math.Round(allAsked.TotalSeconds, 1),
            ["seconds_until_all_answered"] = Math.Round(allAnswered.TotalSeconds, 1),
            ["answer_latency"] = lat,
            ["connect_latency"] = Stats.Percentiles(connectTime),
            ["beyond_delay_p50_s"] = Beyond((double)lat["p50_ms"]),
            ["beyond_delay_p99_s"] = Beyond((double)lat["p99_ms"]),
            ["beyond_delay_max_s"] = Beyond((double)lat["max_ms"]),
            ["master_rss_before_mib"] = baseline.RssMiB,
            ["loadgen_rss_all_in_flight_mib"] = loadGenMiB,
            ["master_rss_all_in_flight_mib"] = inFlight.RssMiB,
            ["master_rss_after_mib"] = end.RssMiB,
            ["master_peak_rss_mib"] = peak,
            ["master_vmhwm_mib"] = end.HwmMiB,
            ["master_kib_per_session"] = connected == 0 ? 0 : Math.Round((peak - baseline.RssMiB) * 1024 / connected, 1),
            ["series"] = series.ToArray(),
        };
        Progress($"connections: disconnecting {connected} browsers...");
        var closing = Parallel.ForEachAsync(browsers.Where(b => b is not null), new ParallelOptions { MaxDegreeOfParallelism = 256 },
            async (b, _) => await b!.DisposeAsync());
        await Task.WhenAny(closing, Task.Delay(TimeSpan.FromSeconds(15))); // the process exit closes the rest
        return result;
    }

    /// <summary>
    /// Scenario 5: a worker busy with a question is killed with SIGKILL. Measures, from the kill, the time until the
    /// browser hears the task was assigned to another worker, and until it has the answer (beyond the simulated delay).
    /// </summary>
    public static async Task<Dictionary<string, object>> Failover(string master, Dictionary<string, int> workerPids,
        TimeSpan simulatedDelay, int trials, TimeSpan busyFor)
    {
        var results = new List<Dictionary<string, object>>();
        for (var trial = 1; trial <= trials; trial++)
        {
            await using var browser = new Browser(master);
            var assignments = new List<(string Task, string Worker, int Attempt, long At)>();
            var changed = new SemaphoreSlim(0);
            browser.Assigned += (t, w, a, at) => { lock (assignments) assignments.Add((t, w, a, at)); changed.Release(); };
            await browser.StartAsync();
            var answer = await browser.SubmitAsync($"failover question {trial}", TimeSpan.FromSeconds(120));
            (string Task, string Worker, int Attempt, long At) first;
            while (true)
            {
                if (!await changed.WaitAsync(TimeSpan.FromSeconds(30))) throw new TimeoutException("the task was never assigned");
                lock (assignments) { first = assignments[0]; break; }
            }
            if (!workerPids.TryGetValue(first.Worker, out var pid))
                throw new InvalidOperationException($"task went to {first.Worker}, not one of the bench's workers ({string.Join(", ", workerPids.Keys)})");
            await Task.Delay(busyFor); // the worker is now in the middle of the simulated delay
            using (var victim = Process.GetProcessById(pid)) victim.Kill(); // SIGKILL on Linux
            var killed = Stopwatch.GetTimestamp();
            workerPids.Remove(first.Worker);
            Progress($"failover {trial}/{trials}: killed {first.Worker} (pid {pid}) {busyFor.TotalMilliseconds:0} ms into its task");
            long? reassigned = null;
            string? to = null;
            var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
            while (reassigned is null && Stopwatch.GetTimestamp() < deadline)
            {
                await changed.WaitAsync(TimeSpan.FromSeconds(1));
                lock (assignments)
                    foreach (var a in assignments.Where(a => a.Attempt > first.Attempt))
                        (reassigned, to) = (a.At, a.Worker);
            }
            var outcome = await answer;
            var r = new Dictionary<string, object>
            {
                ["trial"] = trial,
                ["killed_worker"] = first.Worker,
                ["reassigned_to"] = to ?? "",
                ["reassigned_ms"] = reassigned is { } ra ? Stats.Ms(ra - killed) : -1,
                ["answered"] = outcome.AnsweredTicks is not null && !outcome.Failed,
                ["answer_after_kill_ms"] = outcome.AnsweredTicks is { } at ? Stats.Ms(at - killed) : -1,
                ["answer_beyond_delay_ms"] = outcome.AnsweredTicks is { } at2 ? Math.Round(Stats.Ms(at2 - killed) - simulatedDelay.TotalMilliseconds, 3) : -1,
            };
            Progress($"failover {trial}/{trials}: re-assigned to {to ?? "nobody"} after {r["reassigned_ms"]} ms, answered {r["answer_after_kill_ms"]} ms after the kill ({r["answer_beyond_delay_ms"]} ms beyond the {simulatedDelay.TotalMilliseconds:0} ms delay)");
            results.Add(r);
        }
        var ok = results.Where(r => (double)r["reassigned_ms"] >= 0).ToList();
        return new Dictionary<string, object>
        {
            ["scenario"] = "failover",
            ["trials"] = trials,
            ["simulated_delay_ms"] = simulatedDelay.TotalMilliseconds,
            ["busy_for_ms"] = busyFor.TotalMilliseconds,
            ["max_reassigned_ms"] = ok.Count == trials ? ok.Max(r => (double)r["reassigned_ms"]) : -1,
            ["max_answer_beyond_delay_ms"] = results.All(r => (bool)r["answered"]) ? results.Max(r => (double)r["answer_beyond_delay_ms"]) : -1,
            ["all_answered"] = results.All(r => (bool)r["answered"]),
            ["runs"] = results.ToArray(),
        };
    }
}

/// <summary>The master's journal counters from its Prometheus endpoint (absent on masters without them: null).</summary>
internal static class JournalCounters
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private static readonly string[] Names =
        ["aisystem_journal_rows_total", "aisystem_journal_batches_total", "aisystem_journal_snapshots_total", "aisystem_journal_snapshot_size_bytes_total"];

    public static async Task<Dictionary<string, double>?> ReadAsync(string master)
    {
        try
        {
            var text = await Http.GetStringAsync($"{master}/metrics");
            var values = new Dictionary<string, double>();
            foreach (var line in text.Split('\n'))
            {
                foreach (var name in Names)
                    if (line.StartsWith(name, StringComparison.Ordinal) && (line.Length == name.Length || line[name.Length] is ' ' or '{')
                        && double.TryParse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var v))
                        values[name] = v;
            }
            return values.Count > 0 ? values : null;
        }
        catch (Exception) { return null; }
    }

    public static Dictionary<string, double>? Delta(Dictionary<string, double>? before, Dictionary<string, double>? after) =>
        before is null || after is null ? null
        : after.Where(kv => before.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key.Replace("aisystem_journal_", "").Replace("_total", ""), kv => kv.Value - before[kv.Key]);
}
