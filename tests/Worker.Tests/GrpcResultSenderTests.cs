using System.Collections.Concurrent;
using AiSystem.Messages;
using AiSystem.Messages.Grpc;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiSystem.Worker.Tests;

/// <summary>The worker's gRPC client against a real gRPC server playing a new master (streams) or an old one (no StreamResult).</summary>
public sealed class GrpcResultSenderTests
{
    /// <summary>What the fake master received.</summary>
    public sealed class Received
    {
        public ConcurrentQueue<TaskChunk> Chunks { get; } = new();
        public ConcurrentQueue<TaskResult> Sent { get; } = new();
        public int DeliverCalls;
        /// <summary>Deliver: hold every result's acknowledgement until this many results are in, then ack them newest first.</summary>
        public int AckInBatchesOf { get; set; } = 1;
        /// <summary>Deliver: end the call with an error once a result arrives, without acknowledging it.</summary>
        public bool BreakOnResult { get; set; }
    }

    /// <summary>A master from before streaming: StreamResult is left to the base class (UNIMPLEMENTED).</summary>
    private sealed class OldMaster(Received received) : WorkerCallback.WorkerCallbackBase
    {
        public override Task<ResultAck> SendResult(TaskResult request, ServerCallContext context)
        {
            received.Sent.Enqueue(request);
            return System.Threading.Tasks.Task.FromResult(new ResultAck { Success = true, Message = "Result accepted." });
        }
    }

    /// <summary>A master of version 0.1.0: StreamResult per task, no Deliver (UNIMPLEMENTED).</summary>
    private class StreamingMaster(Received received) : WorkerCallback.WorkerCallbackBase
    {
        protected Received Received { get; } = received;

        public override Task<ResultAck> SendResult(TaskResult request, ServerCallContext context)
        {
            Received.Sent.Enqueue(request);
            return System.Threading.Tasks.Task.FromResult(new ResultAck { Success = true, Message = "Result accepted." });
        }

        public override async Task<ResultAck> StreamResult(IAsyncStreamReader<TaskChunk> requestStream, ServerCallContext context)
        {
            await foreach (var chunk in requestStream.ReadAllAsync(context.CancellationToken))
                Received.Chunks.Enqueue(chunk);
            return new ResultAck { Success = true, Message = "Result accepted." };
        }
    }

    /// <summary>Today's master: one Deliver call for all tasks, results acknowledged by task id.</summary>
    private sealed class NewMaster(Received r) : StreamingMaster(r)
    {
        private Received received => Received;

        public override async Task Deliver(IAsyncStreamReader<TaskChunk> requestStream, IServerStreamWriter<ResultAck> responseStream, ServerCallContext context)
        {
            Interlocked.Increment(ref received.DeliverCalls);
            var held = new List<string>();
            await foreach (var chunk in requestStream.ReadAllAsync(context.CancellationToken))
            {
                received.Chunks.Enqueue(chunk);
                if (chunk.Result is null) continue;
                if (received.BreakOnResult) throw new RpcException(new global::Grpc.Core.Status(StatusCode.Internal, "the master fell over"));
                held.Add(chunk.TaskId);
                if (held.Count < received.AckInBatchesOf) continue;
                for (var i = held.Count - 1; i >= 0; i--)
                    await responseStream.WriteAsync(new ResultAck { Success = true, Message = "Result accepted.", TaskId = held[i] });
                held.Clear();
            }
        }
    }

    private static async Task<(WebApplication App, string Endpoint)> StartAsync<TService>(Received received) where TService : WorkerCallback.WorkerCallbackBase
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(received);
        var app = builder.Build();
        app.MapGrpcService<TService>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address).Authority);
    }

    private static TaskMessage TaskFor(string endpoint, string id) => new()
    {
        WorkerId = "w1", SessionId = "s1", Query = "q", GrpcEndpoint = endpoint, Timestamp = 1, TaskId = id, Attempt = 2,
    };

    private static TaskResult Result(string id) => new() { WorkerId = "w1", SessionId = "s1", TaskId = id, AiResponse = "Hello world" };

    [Theory]
    [InlineData(0, 50)]
    [InlineData(1, 50)]
    [InlineData(10, 50)]
    [InlineData(100, 500)]
    [InlineData(1000, 5000)]
    public void Text_goes_less_often_the_more_answers_stream_at_once(int open, int expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), GrpcResultSender.TextInterval(open));

    [Fact]
    public async Task An_answer_done_within_the_first_interval_goes_as_one_SendResult()
    {
        var received = new Received();
        var (app, endpoint) = await StartAsync<NewMaster>(received);
        await using var _ = app;
        using var sender = new GrpcResultSender(NullLogger<GrpcResultSender>.Instance, minTextInterval: TimeSpan.FromMinutes(1));

        await using (var stream = sender.OpenStream(TaskFor(endpoint, "t2"), "w1"))
        {
            foreach (var word in new[] { "One", " two", " three", " four" })
                await stream.WriteAsync(word, false, CancellationToken.None);
            await stream.CompleteAsync(Result("t2"), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None);
        }

        // Four words and the result well within the first interval: no text at all, only the result.
        var only = Assert.Single(received.Chunks);
        Assert.Equal("t2", only.TaskId);
        Assert.NotNull(only.Result);
        Assert.Empty(received.Sent);
    }

    [Fact]
    public async Task Text_written_faster_than_the_interval_is_held_and_goes_before_the_result()
    {
        var received = new Received();
        var (app, endpoint) = await StartAsync<NewMaster>(received);
        await using var _ = app;
        using var sender = new GrpcResultSender(NullLogger<GrpcResultSender>.Instance, minTextInterval: TimeSpan.FromMilliseconds(300));

        await using (var stream = sender.OpenStream(TaskFor(endpoint, "t3"), "w1"))
        {
            await stream.WriteAsync("One", false, CancellationToken.None);
            await System.Threading.Tasks.Task.Delay(350); // a slow model: the first interval passes
            foreach (var word in new[] { " two", " three", " four" })
                await stream.WriteAsync(word, false, CancellationToken.None);
            await stream.CompleteAsync(Result("t3"), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None);
        }

        // The first interval's text goes when it is over; what comes faster than the next interval is held, and when the
        // model is done the result goes at once, carrying the whole answer (the held rest is not sent separately).
        var chunks = received.Chunks.ToList();
        Assert.Equal(["One two", ""], chunks.Select(c => c.Text));
        Assert.Equal([1L, 2L], chunks.Select(c => c.Sequence));
        Assert.NotNull(chunks[^1].Result);
    }

    [Fact]
    public async Task A_new_master_gets_the_text_in_order_and_the_result_on_the_last_chunk()
    {
        var received = new Received();
        var (app, endpoint) = await StartAsync<NewMaster>(received);
        await using var _ = app;
        using var sender = new GrpcResultSender(NullLogger<GrpcResultSender>.Instance, minTextInterval: TimeSpan.Zero);

        await using (var stream = sender.OpenStream(TaskFor(endpoint, "t1"), "w1"))
        {
            await stream.WriteAsync("Hello", false, CancellationToken.None);
            await stream.WriteAsync(" world", false, CancellationToken.None);
            var ack = await stream.CompleteAsync(Result("t1"), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None);
            Assert.True(ack.Success);
        }

        var chunks = received.Chunks.ToList();
        Assert.Equal([1L, 2L], chunks.Select(c => c.Sequence));
        Assert.Equal(["Hello", ""], chunks.Select(c => c.Text));
        Assert.All(chunks, c => Assert.Equal(("t1", "w1", 2), (c.TaskId, c.WorkerId, c.Attempt)));
        Assert.Equal("Hello world", chunks[^1].Result.AiResponse);
        Assert.Null(chunks[0].Result);
        Assert.Empty(received.Sent);
    }

    [Fact]
    public async Task All_tasks_share_one_Deliver_call_and_each_result_is_acknowledged_by_its_task_id()
    {
        var received = new Received { AckInBatchesOf = 3 }; // acks come newest first
        var (app, endpoint) = await StartAsync<NewMaster>(received);
        await using var _ = app;
        using var sender = new GrpcResultSender(NullLogger<GrpcResultSender>.Instance, minTextInterval: TimeSpan.Zero);

        var acks = new List<Task<ResultAck>>();
        foreach (var id in new[] { "a", "b", "c" })
        {
            var stream = sender.OpenStream(TaskFor(endpoint, id), "w1");
            await stream.WriteAsync($"text of {id}", false, CancellationToken.None);
            acks.Add(stream.CompleteAsync(Result(id), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None));
        }
        var results = await Task.WhenAll(acks).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(["a", "b", "c"], results.Select(r => r.TaskId));
        Assert.Equal(1, received.DeliverCalls);
        Assert.Equal(["a", "b", "c"], received.Chunks.Where(c => c.Result is not null).Select(c => c.TaskId));
        Assert.Equal(("a", "text of a"), (received.Chunks.First().TaskId, received.Chunks.First().Text)); // text and results on the same call
        Assert.Empty(received.Sent);
    }

    [Fact]
    public async Task When_the_Deliver_call_breaks_the_result_goes_by_SendResult()
    {
        var received = new Received { BreakOnResult = true };
        var (app, endpoint) = await StartAsync<NewMaster>(received);
        await using var _ = app;
        using var sender = new GrpcResultSender(NullLogger<GrpcResultSender>.Instance);

        var ack = await sender.OpenStream(TaskFor(endpoint, "t1"), "w1").CompleteAsync(Result("t1"), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None);

        Assert.True(ack.Success);
        Assert.Equal("t1", Assert.Single(received.Sent).TaskId);
        Assert.IsType<DeliveredAnswer>(sender.OpenStream(TaskFor(endpoint, "t2"), "w1")); // a new call next time
    }

    [Fact]
    public async Task A_master_of_version_0_1_0_gets_answers_with_StreamResult()
    {
        var received = new Received();
        var (app, endpoint) = await StartAsync<StreamingMaster>(received);
        await using var _ = app;
        using var sender = new GrpcResultSender(NullLogger<GrpcResultSender>.Instance, minTextInterval: TimeSpan.Zero);

        // The first task learns that Deliver is not there: its result goes by SendResult.
        Assert.True((await sender.OpenStream(TaskFor(endpoint, "t1"), "w1").CompleteAsync(Result("t1"), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None)).Success);
        Assert.Equal("t1", Assert.Single(received.Sent).TaskId);

        await using (var stream = sender.OpenStream(TaskFor(endpoint, "t2"), "w1"))
        {
            await stream.WriteAsync("Hello", false, CancellationToken.None);
            Assert.True((await stream.CompleteAsync(Result("t2"), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None)).Success);
        }
        Assert.Equal(["Hello", ""], received.Chunks.Select(c => c.Text));
        Assert.Single(received.Sent);
    }

    [Fact]
    public async Task An_old_master_gets_the_result_with_SendResult_and_is_remembered()
    {
        var received = new Received();
        var (app, endpoint) = await StartAsync<OldMaster>(received);
        await using var _ = app;
        using var sender = new GrpcResultSender(NullLogger<GrpcResultSender>.Instance, minTextInterval: TimeSpan.Zero);

        await using (var stream = sender.OpenStream(TaskFor(endpoint, "t1"), "w1"))
        {
            await stream.WriteAsync("Hello", false, CancellationToken.None);
            await stream.WriteAsync(" world", false, CancellationToken.None); // never throws, even now
            var ack = await stream.CompleteAsync(Result("t1"), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None);
            Assert.True(ack.Success);
        }
        Assert.Equal("t1", Assert.Single(received.Sent).TaskId);

        // The next task tries StreamResult (this master may be 0.1.0), learns it is not there either, and sends alone.
        await using (var stream = sender.OpenStream(TaskFor(endpoint, "t2"), "w1"))
        {
            await stream.WriteAsync("Hello", false, CancellationToken.None);
            Assert.True((await stream.CompleteAsync(Result("t2"), DateTimeOffset.UtcNow.AddSeconds(30), CancellationToken.None)).Success);
        }
        Assert.Equal(2, received.Sent.Count);
        // Remembered: the next task does not try to stream to this master again.
        Assert.IsType<UnstreamedAnswer>(sender.OpenStream(TaskFor(endpoint, "t3"), "w1"));
    }
}
