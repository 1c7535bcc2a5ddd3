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

    /// <summary>Scenario 3: many browsers, each asking its next question as soon as the last is answered.</summary>
    public static async Task<Dictionary<string, object>> Throughput(string master, int browsers, int seconds, int masterPid)
    {
        Progress($"throughput: connecting {browsers} browsers...");
        var clients = await ConnectManyAsync(master, browsers, 32);
        var histogram = new LongConcurrentHistogram(1, TimeStamp.Seconds(120), 3);
        long answered = 0, lost = 0, failed = 0, rejected = 0;
        var perSecond = new List<double[]>();
        using var window = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var clock = Stopwatch.StartNew();
        await using var sampler = new ProcSampler(masterPid);
        var ticker = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            long last = 0;
            for (var s = 1; await timer.WaitForNextTickAsync(CancellationToken.None) && s <= seconds; s++)
            {
                var now = Interlocked.Read(ref answered);
                perSecond.Add([s, now - last]);
                last = now;
                if (s % 5 == 0) Progress($"throughput: {s}/{seconds} s, {now} answered, {perSecond[^1][1]} in the last second");
            }
        });
        await Task.WhenAll(clients.Select(async (c, n) =>
        {
            for (var i = 0; !window.IsCancellationRequested; i++)
            {
                Outcome outcome;
                try { outcome = await c.AskAsync($"browser {n} question {i}", AnswerTimeout); }
                catch (Exception e)
                {
                    // Refused ("busy, send it again") or broken: a user waits a second before sending again.
                    if (Interlocked.Increment(ref rejected) <= 3) Progress($"throughput: browser {n} refused: {e.Message}");
                    await Task.Delay(TimeSpan.FromSeconds(1));
                    continue;
                }
                if (outcome.LatencyTicks is not { } ticks) { Interlocked.Increment(ref lost); continue; }
                if (outcome.Failed) { Interlocked.Increment(ref failed); continue; }
                histogram.RecordValue(ticks);
                if (!window.IsCancellationRequested) Interlocked.Increment(ref answered); // answers inside the window
            }
        }));
        var drained = clock.Elapsed;
        await ticker;
        await sampler.DisposeAsync();
        var result = Stats.Percentiles(histogram);
        result["scenario"] = "throughput";
        result["browsers"] = browsers;
        result["seconds"] = seconds;
        result["answered_in_window"] = answered;
        result["answers_per_second"] = Math.Round(answered / (double)seconds, 1);
        result["drain_seconds"] = Math.Round(drained.TotalSeconds - seconds, 2);
        result["lost"] = lost;
        result["failed"] = failed;
        result["rejected"] = rejected;
        result["duplicates"] = clients.Sum(c => c.Duplicates);
        result["unexpected"] = clients.Sum(c => c.Unexpected);
        result["per_second"] = perSecond.ToArray();
        result["master"] = sampler.Summary();
        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        return result;
    }

    /// <summary>Scenario 4: many concurrent sessions, each with one question in flight, all answered.</summary>
    public static async Task<Dictionary<string, object>> Connections(string master, int sessions, int parallel, int masterPid, TimeSpan budget)
    {
        var baseline = ProcSampler.Read(masterPid, 0);
        Progress($"connections: master RSS before: {baseline.RssMiB} MiB; opening {sessions} sessions, {parallel} at a time...");
        var clock = Stopwatch.StartNew();
        long connected = 0, submitted = 0, answered = 0, failed = 0, lost = 0, refused = 0, refusals = 0;
        var series = new List<double[]>();
        using var stop = new CancellationTokenSource();
        var sampling = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                {
                    var r = ProcSampler.Read(masterPid, clock.Elapsed.TotalSeconds);
                    lock (series) series.Add([r.Seconds, Interlocked.Read(ref connected), Interlocked.Read(ref answered), r.RssMiB]);
                    if (series.Count % 5 == 0)
                        Progress($"connections: {r.Seconds:0} s: {Interlocked.Read(ref connected)} connected, {Interlocked.Read(ref submitted)} asked, {Interlocked.Read(ref answered)} answered, master RSS {r.RssMiB} MiB");
                }
            }
            catch (OperationCanceledException) { }
        });
        var browsers = new Browser?[sessions];
        var answers = new Task<Outcome>?[sessions];
        long skipped = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, sessions), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
        {
            if (clock.Elapsed > budget) { Interlocked.Increment(ref skipped); return; } // out of time: not opened
            var b = new Browser(master);
            try
            {
                await b.StartAsync(ct);
                browsers[i] = b;
                Interlocked.Increment(ref connected);
                // A refused question ("busy, please send it again") is sent again after a second, as a user would,
                // up to 5 times; every refusal is counted.
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        answers[i] = await b.SubmitAsync($"session {i} question", TimeSpan.FromSeconds(180));
                        break;
                    }
                    catch (HubException e) when (attempt < 5)
                    {
                        if (Interlocked.Increment(ref refusals) <= 3) Progress($"connections: session {i} refused, sending again in 1 s: {e.Message}");
                        await Task.Delay(TimeSpan.FromSeconds(1), ct);
                    }
                }
                Interlocked.Increment(ref submitted);
            }
            catch (Exception e)
            {
                if (Interlocked.Increment(ref refused) <= 3) Progress($"connections: session {i} failed: {e.GetType().Name}: {e.Message}");
            }
        });
        var allAsked = clock.Elapsed;
        var inFlight = ProcSampler.Read(masterPid, allAsked.TotalSeconds);
        var loadGenMiB = Math.Round(Environment.WorkingSet / 1048576.0, 1);
        Progress($"connections: {connected} connected, {submitted} asked after {allAsked.TotalSeconds:0.0} s; master RSS {inFlight.RssMiB} MiB");
        var latency = new LongConcurrentHistogram(1, TimeStamp.Seconds(300), 3);
        await Task.WhenAll(answers.Where(a => a is not null).Select(async a =>
        {
            var o = await a!;
            if (o.LatencyTicks is not { } t) Interlocked.Increment(ref lost);
            else if (o.Failed) Interlocked.Increment(ref failed);
            else { latency.RecordValue(t); Interlocked.Increment(ref answered); }
        }));
        var allAnswered = clock.Elapsed;
        var end = ProcSampler.Read(masterPid, allAnswered.TotalSeconds);
        await stop.CancelAsync();
        await sampling;
        var peak = Math.Max(series.Count == 0 ? 0 : series.Max(s => s[3]), Math.Max(inFlight.RssMiB, end.RssMiB));
        var result = new Dictionary<string, object>
        {
            ["scenario"] = "connections",
            ["sessions"] = sessions,
            ["connected"] = connected,
            ["asked"] = submitted,
            ["answered"] = answered,
            ["failed"] = failed,
            ["lost"] = lost,
            ["refused"] = refused,
            ["refusals_retried"] = refusals,
            ["not_opened_budget"] = skipped,
            ["budget_seconds"] = budget.TotalSeconds,
            ["duplicates"] = browsers.Where(b => b is not null).Sum(b => b!.Duplicates),
            ["seconds_to_connect_and_ask"] = Math.Round(allAsked.TotalSeconds, 1),
            ["seconds_until_all_answered"] = Math.Round(allAnswered.TotalSeconds, 1),
            ["answer_latency"] = Stats.Percentiles(latency),
            ["master_rss_before_mib"] = baseline.RssMiB,
            ["loadgen_rss_all_in_flight_mib"] = loadGenMiB,
            ["master_rss_all_in_flight_mib"] = inFlight.RssMiB,
            ["master_rss_after_mib"] = end.RssMiB,
            ["master_peak_rss_mib"] = peak,
            ["master_kib_per_session"] = connected == 0 ? 0 : Math.Round((peak - baseline.RssMiB) * 1024 / connected, 1),
            ["series"] = series.ToArray(),
        };
        Progress($"connections: disconnecting {connected} browsers...");
        await Parallel.ForEachAsync(browsers.Where(b => b is not null), new ParallelOptions { MaxDegreeOfParallelism = 64 },
            async (b, _) => await b!.DisposeAsync());
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
