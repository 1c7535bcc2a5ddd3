using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Configuration;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Sessions;
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
/// Stop taking questions, then wait (at most <c>Master__DrainTimeout</c>) until the tasks in flight are answered and
/// pushed to their browsers, so a rolling restart does not drop work that is almost done.
/// </summary>
public sealed class MasterDrain(MasterLifecycle lifecycle, IRequiredActor<DispatcherActor> dispatcher,
    IRequiredActor<BrowserPushActor> pushes, IOptions<MasterOptions> options, ILogger<MasterDrain> log)
{
    private static readonly TimeSpan TransportGrace = TimeSpan.FromMilliseconds(500);

    public async Task DrainAsync()
    {
        lifecycle.BeginDrain();
        var deadline = DateTime.UtcNow + options.Value.DrainTimeout;
        var inFlight = 0;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var snapshot = await dispatcher.ActorRef.Ask<DispatchView>(GetDispatchView.Instance, TimeSpan.FromSeconds(2));
                // In flight, or answered and not yet stored by its session (whose push may still be on its way).
                inFlight = snapshot.Tasks.Count(t => t.State == "in-flight") + snapshot.Undelivered;
            }
            catch (AskTimeoutException)
            {
                break;
            }
            if (inFlight == 0) break;
            log.LogInformation("Shutting down: waiting for {Count} task(s) in flight", inFlight);
            await Task.Delay(500);
        }
        if (inFlight > 0) log.LogWarning("Shutting down with {Count} task(s) still in flight", inFlight);
        // The last answers are on their way to the browsers: let them arrive before the connections close.
        try { await pushes.ActorRef.Ask<PushesFlushed>(FlushPushes.Instance, TimeSpan.FromSeconds(5)); }
        catch (AskTimeoutException) { log.LogWarning("Shutting down before every browser got its last events"); }
        // A push is "sent" once it is in the connection's buffer; stopping closes the connections at once, so give
        // the transports a moment to put the last bytes on the wire.
        await Task.Delay(TransportGrace);
    }
}

/// <summary>
/// The master's host lifetime: SIGTERM or Ctrl+C first drains (<see cref="MasterDrain"/>), and only then stops the
/// host. The stop must wait: stopping closes every SignalR connection at once, and answers still in flight would
/// have nowhere to go. A second signal stops at once.
/// </summary>
public sealed class DrainingLifetime(IHostApplicationLifetime application, MasterDrain drain, ILogger<DrainingLifetime> log)
    : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _signals;

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
            _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
        return Task.CompletedTask;
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the host decides when the process ends
        if (Interlocked.Increment(ref _signals) > 1)
        {
            application.StopApplication();
            return;
        }
        log.LogInformation("{Signal} received: draining before shutdown", context.Signal);
        _ = Task.Run(async () =>
        {
            try { await drain.DrainAsync(); }
            catch (Exception e) { log.LogError("Drain failed: {Error}", e.Message); }
            finally { application.StopApplication(); }
        });
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
