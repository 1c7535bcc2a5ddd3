using System.Diagnostics;

namespace AiSystem.LoadGen;

/// <summary>One reading of a process from <c>/proc</c>.</summary>
public sealed record ProcReading(double Seconds, double CpuSeconds, double RssMiB, double HwmMiB);

/// <summary>
/// Reads a process's CPU time (<c>/proc/PID/stat</c> utime+stime) and resident memory (<c>/proc/PID/status</c>
/// VmRSS, VmHWM) once a second while a scenario runs.
/// </summary>
public sealed class ProcSampler : IAsyncDisposable
{
    private static readonly double ClockTicks = 100; // USER_HZ on Linux
    private readonly int _pid;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<ProcReading> _readings = [];

    public ProcSampler(int pid, TimeSpan? interval = null)
    {
        _pid = pid;
        _readings.Add(Read(pid, 0));
        _loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(interval ?? TimeSpan.FromSeconds(1));
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                    lock (_readings) _readings.Add(Read(_pid, _clock.Elapsed.TotalSeconds));
            }
            catch (OperationCanceledException) { }
        });
    }

    public static ProcReading Read(int pid, double seconds)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from 3 (state) on
        var cpu = (double.Parse(fields[11]) + double.Parse(fields[12])) / ClockTicks; // utime, stime: fields 14, 15
        double Kb(string key) => double.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(key))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        return new ProcReading(Math.Round(seconds, 2), cpu, Math.Round(Kb("VmRSS:") / 1024, 1), Math.Round(Kb("VmHWM:") / 1024, 1));
    }

    public ProcReading Now() => Read(_pid, _clock.Elapsed.TotalSeconds);

    public IReadOnlyList<ProcReading> Readings { get { lock (_readings) return [.. _readings]; } }

    /// <summary>CPU used between the first and last reading, in percent of one core; the highest VmRSS seen.</summary>
    public Dictionary<string, object> Summary()
    {
        var r = Readings;
        var (first, last) = (r[0], r[^1]);
        var wall = Math.Max(last.Seconds - first.Seconds, 0.001);
        return new()
        {
            ["cpu_percent_of_one_core"] = Math.Round(100 * (last.CpuSeconds - first.CpuSeconds) / wall, 1),
            ["peak_rss_mib"] = r.Max(x => x.RssMiB),
            ["rss_start_mib"] = first.RssMiB,
            ["rss_end_mib"] = last.RssMiB,
            ["samples"] = r.Select(x => new[] { x.Seconds, x.RssMiB, Math.Round(x.CpuSeconds, 2) }).ToArray(),
        };
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        await _stop.CancelAsync();
        await _loop;
        lock (_readings) _readings.Add(Read(_pid, _clock.Elapsed.TotalSeconds));
        _stop.Dispose();
    }
}
