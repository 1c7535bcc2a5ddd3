namespace AiSystem.Master.Dashboard;

/// <summary>One time bucket of the answer chart: how many tasks ended in it and how long answered ones took.</summary>
/// <param name="Start">Start of the bucket, epoch ms.</param>
/// <param name="P50Ms">Median question-to-answer latency, null when nothing was answered in the bucket.</param>
/// <param name="PromptTokens">The model's tokens of the answers in the bucket, as their workers reported them.</param>
public sealed record AnswerBucket(long Start, int Answered, int Failed, double? P50Ms, double? P95Ms, long PromptTokens = 0, long OutputTokens = 0);

/// <summary>The rolling answer series (plain data, it crosses nodes): <see cref="BucketSeconds"/> wide, oldest first.</summary>
public sealed record AnswerSeriesView(int BucketSeconds, AnswerBucket[] Buckets) : Serialization.IClusterMessage;

/// <summary>
/// Answers per time bucket over the last minutes, with latency percentiles from a small log-scale histogram per
/// bucket (a fixed cost per answer and per bucket, whatever the rate). Not thread-safe: its actor owns it.
/// </summary>
public sealed class AnswerSeries
{
    public static readonly TimeSpan DefaultBucket = TimeSpan.FromSeconds(5);
    public const int DefaultBuckets = 120; // ten minutes of five-second buckets

    private readonly long _bucketMs;
    private readonly Slot[] _slots;

    public AnswerSeries() : this(DefaultBucket, DefaultBuckets) { }

    public AnswerSeries(TimeSpan bucket, int buckets)
    {
        if (bucket < TimeSpan.FromMilliseconds(1)) throw new ArgumentOutOfRangeException(nameof(bucket), "A bucket must be at least 1 ms wide.");
        if (buckets < 1) throw new ArgumentOutOfRangeException(nameof(buckets), "The series needs at least one bucket.");
        _bucketMs = (long)bucket.TotalMilliseconds;
        _slots = new Slot[buckets];
        for (var i = 0; i < buckets; i++) _slots[i] = new Slot();
    }

    public TimeSpan Bucket => TimeSpan.FromMilliseconds(_bucketMs);

    /// <summary>A task ended at <paramref name="at"/>: answered after <paramref name="latency"/>, or failed.</summary>
    public void Record(DateTimeOffset at, TimeSpan latency, bool answered, int? promptTokens = null, int? outputTokens = null)
    {
        var slot = SlotFor(at.ToUnixTimeMilliseconds());
        slot.PromptTokens += promptTokens ?? 0;
        slot.OutputTokens += outputTokens ?? 0;
        if (answered)
        {
            slot.Answered++;
            slot.Latency.Add(Math.Max(0, latency.TotalMilliseconds));
        }
        else
        {
            slot.Failed++;
        }
    }

    /// <summary>Every bucket of the window that ends with the one holding <paramref name="now"/>, oldest first, empty ones included.</summary>
    public AnswerSeriesView View(DateTimeOffset now)
    {
        var current = Floor(now.ToUnixTimeMilliseconds());
        var buckets = new AnswerBucket[_slots.Length];
        for (var i = 0; i < _slots.Length; i++)
        {
            var start = current - (_slots.Length - 1 - i) * _bucketMs;
            var slot = _slots[Index(start)];
            buckets[i] = slot.Start == start && slot.Answered + slot.Failed > 0
                ? new AnswerBucket(start, slot.Answered, slot.Failed, slot.Latency.Percentile(0.50), slot.Latency.Percentile(0.95),
                    slot.PromptTokens, slot.OutputTokens)
                : new AnswerBucket(start, 0, 0, null, null);
        }
        return new AnswerSeriesView((int)Math.Max(1, _bucketMs / 1000), buckets);
    }

    private Slot SlotFor(long epochMs)
    {
        var start = Floor(epochMs);
        var slot = _slots[Index(start)];
        if (slot.Start != start) slot.Reset(start); // the ring came round: this slot held an older bucket
        return slot;
    }

    private long Floor(long epochMs) => epochMs - (((epochMs % _bucketMs) + _bucketMs) % _bucketMs);

    private int Index(long bucketStart) => (int)((((bucketStart / _bucketMs) % _slots.Length) + _slots.Length) % _slots.Length);

    private sealed class Slot
    {
        public long Start = long.MinValue;
        public int Answered;
        public int Failed;
        public long PromptTokens;
        public long OutputTokens;
        public readonly LatencyHistogram Latency = new();

        public void Reset(long start)
        {
            Start = start;
            Answered = 0;
            Failed = 0;
            PromptTokens = 0;
            OutputTokens = 0;
            Latency.Clear();
        }
    }
}

/// <summary>
/// Latencies in log-scale bins, four per doubling from 1 ms to about 2 minutes (about ±10 % per value): percentiles
/// without keeping every sample.
/// </summary>
public sealed class LatencyHistogram
{
    private const int BinsPerDoubling = 4;
    private const int Doublings = 17; // 2^17 ms ≈ 131 s; slower answers share the last bin
    private readonly int[] _bins = new int[BinsPerDoubling * Doublings + 2];
    private int _count;

    public int Count => _count;

    public void Add(double milliseconds)
    {
        _bins[Bin(milliseconds)]++;
        _count++;
    }

    public void Clear()
    {
        Array.Clear(_bins);
        _count = 0;
    }

    /// <summary>The value below which <paramref name="quantile"/> of the samples lie (the middle of its bin), or null when empty.</summary>
    public double? Percentile(double quantile)
    {
        if (_count == 0) return null;
        var rank = Math.Max(1, (int)Math.Ceiling(quantile * _count));
        var seen = 0;
        for (var i = 0; i < _bins.Length; i++)
        {
            seen += _bins[i];
            if (seen >= rank) return Middle(i);
        }
        return Middle(_bins.Length - 1);
    }

    /// <summary>Bin 0 holds everything under 1 ms; bin i (i ≥ 1) holds [2^((i-1)/4), 2^(i/4)) ms.</summary>
    private int Bin(double ms)
    {
        if (!(ms >= 1)) return 0; // also NaN
        var i = 1 + (int)Math.Floor(Math.Log2(ms) * BinsPerDoubling);
        return Math.Min(i, _bins.Length - 1);
    }

    private static double Middle(int bin) =>
        bin == 0 ? 0.5 : Math.Sqrt(Math.Pow(2, (bin - 1.0) / BinsPerDoubling) * Math.Pow(2, (double)bin / BinsPerDoubling));
}
