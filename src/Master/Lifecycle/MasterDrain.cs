using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dispatch;
using Microsoft.Extensions.Options;

namespace AiSystem.Master.Lifecycle;

/// <summary>Whether the master still takes new questions.</summary>
public sealed class MasterLifecycle
{
    private volatile bool _draining;
    public bool Draining => _draining;
    public void BeginDrain() => _draining = true;
}

/// <summary>
/// On SIGTERM: stop taking questions, then wait (at most <c>Master__DrainTimeout</c>) until the tasks in flight are
/// answered, so a rolling restart does not drop work that is almost done. Registered last, so it stops first,
/// while the broker, the workers and the gRPC port are still up.
/// </summary>
public sealed class MasterDrain(MasterLifecycle lifecycle, IRequiredActor<DispatcherActor> dispatcher, IOptions<MasterOptions> options,
    ILogger<MasterDrain> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        lifecycle.BeginDrain();
        var deadline = DateTime.UtcNow + options.Value.DrainTimeout;
        var inFlight = 0;
        while (DateTime.UtcNow < deadline && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                var snapshot = await dispatcher.ActorRef.Ask<DispatchSnapshot>(GetDispatchSnapshot.Instance, TimeSpan.FromSeconds(2), cancellationToken);
                inFlight = snapshot.Tasks.Count(t => t.State == "in-flight");
            }
            catch (Exception e) when (e is AskTimeoutException or OperationCanceledException)
            {
                break;
            }
            if (inFlight == 0) break;
            log.LogInformation("Shutting down: waiting for {Count} task(s) in flight", inFlight);
            await Task.Delay(500, CancellationToken.None);
        }
        if (inFlight > 0) log.LogWarning("Shutting down with {Count} task(s) still in flight", inFlight);
    }
}
