using System.Collections.Concurrent;
using AiSystem.Messages.Grpc;
using Grpc.Core;
using Grpc.Net.Client;

namespace AiSystem.Worker;

/// <summary>Sends results to the master that asked (<c>grpc_endpoint</c>), one pooled channel per endpoint.</summary>
public interface IResultSender
{
    Task<ResultAck> SendAsync(string grpcEndpoint, TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken);
}

public sealed class GrpcResultSender(ILogger<GrpcResultSender> log) : IResultSender, IDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Retries with backoff while the master is unreachable, until <paramref name="giveUpAt"/>.</summary>
    public async Task<ResultAck> SendAsync(string grpcEndpoint, TaskResult result, DateTimeOffset giveUpAt, CancellationToken cancellationToken)
    {
        var client = new WorkerCallback.WorkerCallbackClient(Channel(grpcEndpoint));
        var backoff = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await client.SendResultAsync(result, deadline: DateTime.UtcNow.AddSeconds(15), cancellationToken: cancellationToken);
            }
            catch (RpcException e) when (IsTransient(e.StatusCode) && DateTimeOffset.UtcNow + backoff < giveUpAt && !cancellationToken.IsCancellationRequested)
            {
                log.LogWarning("Result of task {TaskId} not delivered to {Endpoint} (attempt {Attempt}: {Status}); retrying in {Delay} ms",
                    result.TaskId, grpcEndpoint, attempt, e.StatusCode, (int)backoff.TotalMilliseconds);
                await Task.Delay(backoff, cancellationToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            }
        }
    }

    private static bool IsTransient(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.ResourceExhausted or StatusCode.Unknown;

    private GrpcChannel Channel(string endpoint) => _channels.GetOrAdd(endpoint, e =>
        GrpcChannel.ForAddress(e.Contains("://", StringComparison.Ordinal) ? e : "http://" + e,
            new GrpcChannelOptions { MaxReceiveMessageSize = 4 * 1024 * 1024 }));

    public void Dispose()
    {
        foreach (var channel in _channels.Values) channel.Dispose();
    }
}
