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

    private sealed class NewMaster(Received received) : WorkerCallback.WorkerCallbackBase
    {
        public override Task<ResultAck> SendResult(TaskResult request, ServerCallContext context)
        {
            received.Sent.Enqueue(request);
            return System.Threading.Tasks.Task.FromResult(new ResultAck { Success = true, Message = "Result accepted." });
        }

        public override async Task<ResultAck> StreamResult(IAsyncStreamReader<TaskChunk> requestStream, ServerCallContext context)
        {
            await foreach (var chunk in requestStream.ReadAllAsync(context.CancellationToken))
                received.Chunks.Enqueue(chunk);
            return new ResultAck { Success = true, Message = "Result accepted." };
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

        // Four words and the result well within the first interval: no stream at all, the answer goes as one SendResult.
        Assert.Empty(received.Chunks);
        Assert.Equal("t2", Assert.Single(received.Sent).TaskId);
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

        // The first interval's text goes when it is over; what comes faster than the next interval is held and goes
        // together, before the result.
        var chunks = received.Chunks.ToList();
        Assert.Equal(["One two", " three four", ""], chunks.Select(c => c.Text));
        Assert.Equal([1L, 2L, 3L], chunks.Select(c => c.Sequence));
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
        Assert.Equal([1L, 2L, 3L], chunks.Select(c => c.Sequence));
        Assert.Equal(["Hello", " world", ""], chunks.Select(c => c.Text));
        Assert.All(chunks, c => Assert.Equal(("t1", "w1", 2), (c.TaskId, c.WorkerId, c.Attempt)));
        Assert.Equal("Hello world", chunks[^1].Result.AiResponse);
        Assert.Null(chunks[0].Result);
        Assert.Empty(received.Sent);
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

        // The next task does not try to stream to this master again.
        Assert.IsType<UnstreamedAnswer>(sender.OpenStream(TaskFor(endpoint, "t2"), "w1"));
    }
}
