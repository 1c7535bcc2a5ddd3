using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Hubs;
using AiSystem.Master.Serialization;

namespace AiSystem.Master.Sessions;

/// <summary>Events for browsers connected to one master: <paramref name="ConnectionIds"/> are connections of that master.</summary>
public sealed record PushToBrowsers(IReadOnlyList<string> ConnectionIds, IBrowserEvent Event) : IClusterMessage;

/// <summary>From the hub: a browser connection of this master belongs to a session, or is gone.</summary>
public sealed record ConnectionOpened(string ConnectionId, string SessionId);
public sealed record ConnectionClosed(string ConnectionId);

/// <summary>
/// From a session that (re)started, maybe on another master after its old one died: which live connections of this
/// master are its browsers? Answered with <see cref="ConnectionsFound"/> when there are any.
/// </summary>
public sealed record FindConnections(string SessionId) : IClusterMessage;
public sealed record ConnectionsFound(IReadOnlyList<string> ConnectionIds, string NodeAddress) : IClusterMessage;

/// <summary>
/// The only way from actors to SignalR, one per master at <c>/user/browser-push</c>: a session (which may live on
/// another master) sends here the events for the connections this master holds. Each connection has its own queue:
/// its events go out in the order the session sent them, one send at a time, and a browser that stops reading
/// delays only itself. A queued question's new position replaces its old one while that is still waiting (a stalled
/// browser of a long queue would otherwise collect one per move). Past <see cref="MaxBacklog"/> waiting events its
/// connection is closed (the page reconnects and gets its history back).
/// </summary>
public sealed class BrowserPushActor : ReceiveActor
{
    public const string Name = "browser-push";
    public const int MaxBacklog = 1_000;
    /// <summary>Sends that complete at once are chained without a message round trip, up to this many in a row.</summary>
    private const int SynchronousBurst = 64;

    private readonly IBrowserPush _browser;
    private readonly Dictionary<string, string> _sessionOf = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Outbox> _outboxes = new(StringComparer.Ordinal);
    private readonly List<IActorRef> _flushWaiters = [];
    private int _busy;

    public BrowserPushActor(IBrowserPush browser)
    {
        _browser = browser;
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<ConnectionOpened>(m => _sessionOf[m.ConnectionId] = m.SessionId);
        Receive<ConnectionClosed>(m =>
        {
            _sessionOf.Remove(m.ConnectionId);
            if (_outboxes.Remove(m.ConnectionId, out var box) && box.Sending) Done();
        });
        Receive<FindConnections>(m =>
        {
            var ids = _sessionOf.Where(c => c.Value == m.SessionId).Select(c => c.Key).ToList();
            if (ids.Count > 0) Sender.Tell(new ConnectionsFound(ids, self));
        });
        Receive<PushToBrowsers>(m =>
        {
            foreach (var id in m.ConnectionIds)
            {
                if (!_sessionOf.ContainsKey(id)) continue; // gone: the session keeps everything in its journal
                if (!_outboxes.TryGetValue(id, out var box)) _outboxes[id] = box = new Outbox();
                box.Add(m.Event);
                if (box.Count > MaxBacklog)
                {
                    _outboxes.Remove(id);
                    if (box.Sending) Done();
                    _browser.Abort(id, $"more than {MaxBacklog} events were waiting for this browser");
                    continue;
                }
                if (!box.Sending) SendNext(id, box);
            }
        });
        Receive<Sent>(m =>
        {
            if (!_outboxes.TryGetValue(m.ConnectionId, out var box) || !box.Sending) return;
            box.Sending = false;
            Done();
            SendNext(m.ConnectionId, box);
        });
        Receive<FlushPushes>(_ =>
        {
            if (_busy == 0) Sender.Tell(PushesFlushed.Instance);
            else _flushWaiters.Add(Sender);
        });
    }

    private void SendNext(string connectionId, Outbox box)
    {
        for (var i = 0; i < SynchronousBurst && box.TryTake(out var e); i++)
        {
            var send = _browser.SendAsync(connectionId, HubEvents.NameOf(e), e);
            if (send.IsCompleted) continue;
            box.Sending = true;
            _busy++;
            var self = Self;
            send.ContinueWith(_ => self.Tell(new Sent(connectionId)), TaskContinuationOptions.ExecuteSynchronously);
            return;
        }
        if (box.Count > 0)
        {
            // A long burst: let other connections and messages in before going on.
            box.Sending = true;
            _busy++;
            Self.Tell(new Sent(connectionId));
        }
        else
        {
            _outboxes.Remove(connectionId);
            if (_busy == 0) ReleaseFlushWaiters();
        }
    }

    private void Done()
    {
        _busy--;
        if (_busy == 0 && _outboxes.Values.All(b => b.Count == 0)) ReleaseFlushWaiters();
    }

    private void ReleaseFlushWaiters()
    {
        foreach (var w in _flushWaiters) w.Tell(PushesFlushed.Instance);
        _flushWaiters.Clear();
    }

    /// <summary>The push actor of the master at <paramref name="address"/> (this one when it is ours).</summary>
    public static ActorSelection At(ActorSystem system, string address) => system.ActorSelection($"{address}/user/{Name}");

    /// <summary>
    /// One connection's waiting events, in order. A <see cref="TaskQueuedDto"/> takes the place of the same task's
    /// waiting one when nothing else of that task, and no session-wide event, waits after it: the browser then skips
    /// positions it would only have shown for a moment, and every other event keeps its place.
    /// </summary>
    internal sealed class Outbox
    {
        private sealed class Slot(IBrowserEvent e)
        {
            public IBrowserEvent Event = e;
        }

        private readonly Queue<Slot> _pending = new();
        /// <summary>Task → its waiting position, while that is the task's last waiting event.</summary>
        private readonly Dictionary<string, Slot> _position = new(StringComparer.Ordinal);

        public int Count => _pending.Count;
        public bool Sending { get; set; }

        public void Add(IBrowserEvent e)
        {
            if (e is TaskQueuedDto queued && _position.TryGetValue(queued.TaskId, out var waiting))
            {
                waiting.Event = queued;
                return;
            }
            var slot = new Slot(e);
            _pending.Enqueue(slot);
            if (TaskOf(e) is not { } taskId)
            {
                _position.Clear(); // a session-wide event (a start, a deletion): nothing moves before it
                return;
            }
            if (e is TaskQueuedDto) _position[taskId] = slot;
            else _position.Remove(taskId);
        }

        public bool TryTake(out IBrowserEvent e)
        {
            if (!_pending.TryDequeue(out var slot))
            {
                e = null!;
                return false;
            }
            e = slot.Event;
            if (e is TaskQueuedDto queued && _position.TryGetValue(queued.TaskId, out var waiting) && waiting == slot)
                _position.Remove(queued.TaskId);
            return true;
        }

        private static string? TaskOf(IBrowserEvent e) => e switch
        {
            TaskAcceptedDto a => a.TaskId,
            TaskQueuedDto q => q.TaskId,
            TaskAssignedDto a => a.TaskId,
            AiResponseChunkDto c => c.TaskId,
            AiResponseDto r => r.TaskId,
            TaskFailedDto f => f.TaskId,
            TaskCancelledDto c => c.TaskId,
            _ => null,
        };
    }

    private sealed record Sent(string ConnectionId);
}

public static class BrowserPushHosting
{
    public static AkkaConfigurationBuilder AddBrowserPushActor(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
            registry.Register<BrowserPushActor>(system.ActorOf(resolver.Props<BrowserPushActor>(), BrowserPushActor.Name)));
}
