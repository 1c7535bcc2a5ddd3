using System.Diagnostics.Metrics;
using AiSystem.Master.Persistence;

namespace AiSystem.Master.Observability;

/// <summary>
/// The master's metrics (OpenTelemetry <see cref="Meter"/> "AiSystem.Master", scraped at <c>/metrics</c>): questions
/// received / answered / failed, re-dispatches, queue length, tasks in flight, workers by status, end-to-end and model
/// latency (the dispatcher is the only writer); and the journal's counters and state, read from its health when scraped.
/// </summary>
public sealed class MasterMetrics : IDisposable
{
    public const string MeterName = "AiSystem.Master";

    private readonly Meter _meter = new(MeterName, typeof(MasterMetrics).Assembly.GetName().Version?.ToString(3));
    private readonly Counter<long> _received;
    private readonly Counter<long> _answered;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _redispatched;
    private readonly Counter<long> _tokens;
    private readonly Histogram<double> _endToEnd;
    private readonly Histogram<double> _model;
    private volatile int _queued, _inFlight, _idle, _busy;

    private Func<JournalHealth?> _journal = () => null;

    /// <summary>Where the journal's counters come from (the plugins' health, once the actor system runs).</summary>
    public void ObserveJournal(Func<JournalHealth?> journal) => _journal = journal;

    public MasterMetrics()
    {
        _received = _meter.CreateCounter<long>("aisystem.questions.received", description: "Questions accepted from browsers");
        _answered = _meter.CreateCounter<long>("aisystem.questions.answered", description: "Questions answered");
        _failed = _meter.CreateCounter<long>("aisystem.questions.failed", description: "Questions that ended in a failure");
        _redispatched = _meter.CreateCounter<long>("aisystem.tasks.redispatched", description: "Tasks given to another worker");
        _tokens = _meter.CreateCounter<long>("aisystem.model.tokens", description: "Tokens the model counted, by kind (prompt, output) and model");
        _endToEnd = _meter.CreateHistogram<double>("aisystem.answer.latency", unit: "s", description: "From question to answer at the master");
        _model = _meter.CreateHistogram<double>("aisystem.model.latency", unit: "s", description: "Processing time reported by the worker");
        _meter.CreateObservableGauge("aisystem.queue.length", () => _queued, description: "Questions waiting for a worker");
        _meter.CreateObservableGauge("aisystem.tasks.in_flight", () => _inFlight, description: "Tasks assigned and not answered yet");
        _meter.CreateObservableGauge("aisystem.workers", () => new[]
        {
            new Measurement<int>(_idle, new KeyValuePair<string, object?>("status", "idle")),
            new Measurement<int>(_busy, new KeyValuePair<string, object?>("status", "busy")),
        }, description: "Registered workers by status");
        _meter.CreateObservableCounter("aisystem.journal.rows", () => _journal()?.CommittedRows ?? 0, description: "Journal rows written");
        _meter.CreateObservableCounter("aisystem.journal.batches", () => _journal()?.CommittedBatches ?? 0,
            description: "Journal transactions committed (rows / batches = the group-commit size)");
        _meter.CreateObservableCounter("aisystem.journal.snapshots", () => _journal()?.SnapshotsSaved ?? 0, description: "Snapshots saved");
        _meter.CreateObservableCounter("aisystem.journal.snapshot.size", () => _journal()?.SnapshotBytes ?? 0, unit: "By", description: "Bytes of snapshots saved");
        _meter.CreateObservableGauge("aisystem.journal.rows_waiting", () => _journal()?.QueuedRows ?? 0, description: "Rows handed to the journal and not yet committed");
        _meter.CreateObservableGauge("aisystem.journal.failed_batches", () => _journal()?.ConsecutiveFailedBatches ?? 0,
            description: "Write batches that failed since the last one that committed (0 = healthy)");
        _meter.CreateObservableGauge("aisystem.journal.state", JournalStates,
            description: "1 for the journal's state (ok, recovering, failing; as GET /api/journal, without its probe), 0 for the others");
    }

    private static readonly string[] States = [JournalState.Ok, JournalState.Recovering, JournalState.Failing];

    private IEnumerable<Measurement<int>> JournalStates()
    {
        if (_journal() is not { } health) return [];
        var state = JournalState.Of(health, DateTimeOffset.UtcNow);
        return States.Select(s => new Measurement<int>(s == state ? 1 : 0, new KeyValuePair<string, object?>("state", s)));
    }

    public void Received() => _received.Add(1);

    public void Answered(TimeSpan endToEnd, TimeSpan model)
    {
        _answered.Add(1);
        _endToEnd.Record(endToEnd.TotalSeconds);
        _model.Record(model.TotalSeconds);
    }

    public void Failed() => _failed.Add(1);

    /// <summary>
    /// The model's own token counts of one answer (<c>aisystem_model_tokens_total{kind, model}</c>); the model is the
    /// provider's name after its kind (<c>gemini:gemini-2.5-flash</c> → <c>gemini-2.5-flash</c>).
    /// </summary>
    public void Tokens(string provider, int? prompt, int? output)
    {
        if (prompt is null && output is null) return;
        var model = provider.IndexOf(':') is var colon and >= 0 ? provider[(colon + 1)..] : provider;
        if (model.Length == 0) model = "unknown";
        if (prompt is > 0) _tokens.Add(prompt.Value, new("kind", "prompt"), new("model", model));
        if (output is > 0) _tokens.Add(output.Value, new("kind", "output"), new("model", model));
    }
    public void Redispatched() => _redispatched.Add(1);

    public void SetState(int queued, int inFlight, int idleWorkers, int busyWorkers)
    {
        _queued = queued;
        _inFlight = inFlight;
        _idle = idleWorkers;
        _busy = busyWorkers;
    }

    /// <summary>The queue and in-flight gauges, after every change (two field writes); workers are counted on the tick.</summary>
    public void SetTasks(int queued, int inFlight)
    {
        _queued = queued;
        _inFlight = inFlight;
    }

    public void Dispose() => _meter.Dispose();
}
