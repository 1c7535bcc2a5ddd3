using Akka.Actor;
using Akka.Persistence;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Hubs;
using AiSystem.Messages;
using Microsoft.Extensions.Logging;

namespace AiSystem.Master.Sessions;

// What a session writes to its journal.
public interface ISessionEvent;
public sealed record QuestionAsked(string TaskId, string Query, long Timestamp) : ISessionEvent;
public sealed record OutcomeRecorded(TaskOutcome Outcome) : ISessionEvent;
public sealed record SessionSnapshot(IReadOnlyList<HistoryItem> Items);

/// <summary>What every session actor is configured with.</summary>
public sealed record SessionSettings(QueryValidator Validator, TimeSpan IdleTimeout, int MaxQueriesPerMinute, int MaxHistory);

/// <summary>
/// One chat session: its history (journaled: questions, answers, failures) and its live browser connections.
/// Turns questions into tasks for the dispatcher and pushes what happens to them to every connection of the
/// session. Without browsers and with nothing pending it passivates after <c>Sessions__IdleTimeout</c>; it comes
/// back from its journal when it is needed again.
/// </summary>
public sealed class SessionActor : ReceivePersistentActor
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);
    private const int SnapshotEvery = 100;

    private readonly string _sessionId;
    private readonly IActorRef _dispatcher;
    private readonly IActorRef _localPush;
    private readonly SessionSettings _settings;
    private readonly ILogger _log;
    private readonly SessionHistory _history;
    private readonly StreamingAnswers _streaming = new();
    /// <summary>Live browser connections: connection id → the master that holds it.</summary>
    private readonly Dictionary<string, string> _connections = [];
    private readonly RateLimiter _rate;
    private readonly string _selfAddress = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();

    public override string PersistenceId => "session-" + _sessionId;

    public SessionActor(string sessionId, IActorRef dispatcher, IActorRef localPush, SessionSettings settings, ILogger log)
    {
        _sessionId = sessionId;
        _dispatcher = dispatcher;
        _localPush = localPush;
        _settings = settings;
        _log = log;
        _history = new SessionHistory(settings.MaxHistory);
        _rate = new RateLimiter(settings.MaxQueriesPerMinute, TimeSpan.FromMinutes(1));

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is SessionSnapshot s) _history.Restore(s.Items);
        });
        Recover<QuestionAsked>(e => _history.Add(e.TaskId, e.Query, e.Timestamp));
        Recover<OutcomeRecorded>(e => _history.Record(e.Outcome));
        Recover<RecoveryCompleted>(_ =>
        {
            SetReceiveTimeout(_settings.IdleTimeout);
            // Started anew (first use, after passivation, or on another master after ours died): browsers may still be
            // connected to some master. Ask every master which of its connections are ours.
            var cluster = Akka.Cluster.Cluster.Get(Context.System);
            foreach (var m in cluster.State.Members.Where(m => m.HasRole(Messages.Cluster.ClusterRoles.Master) && m.Status == Akka.Cluster.MemberStatus.Up))
                BrowserPushActor.At(Context.System, m.Address.ToString()).Tell(new FindConnections(_sessionId), Self);
        });

        Command<ConnectionsFound>(m =>
        {
            foreach (var id in m.ConnectionIds) _connections[id] = m.NodeAddress;
            SetReceiveTimeout(null);
        });

        Command<AttachConnection>(m =>
        {
            _connections[m.ConnectionId] = m.NodeAddress;
            SetReceiveTimeout(null);
            // Resumed: this browser asked for this session and it has a past.
            var resumed = m.RequestedSessionId == _sessionId && LastSequenceNr > 0;
            Sender.Tell(new SessionStartedEvent(_sessionId, resumed, _streaming.WithPartials(_history.Items)));
        });

        Command<DetachConnection>(m =>
        {
            _connections.Remove(m.ConnectionId);
            if (_connections.Count == 0) SetReceiveTimeout(_settings.IdleTimeout);
        });

        Command<SubmitQuery>(m =>
        {
            if (_settings.Validator.Validate(m.Query) is { } error)
            {
                Sender.Tell(SubmitOutcome.Refused(error));
                return;
            }
            if (!_rate.TryAcquire(DateTimeOffset.UtcNow, out var wait))
            {
                Sender.Tell(SubmitOutcome.Refused(
                    $"You are sending questions too fast (at most {_settings.MaxQueriesPerMinute} a minute). Wait {Math.Ceiling(wait.TotalSeconds)} s and send it again."));
                return;
            }
            var task = new DispatchTask(Guid.NewGuid().ToString(), _sessionId, m.Query!, m.ApiKey?.Trim() ?? "", EpochMs.Now());
            var replyTo = Sender;
            _dispatcher.Ask<SubmitReply>(new SubmitTask(task), AskTimeout).PipeTo(Self,
                success: d => new SubmitDecided(task, d, replyTo),
                failure: _ => new SubmitDecided(task, new SubmitReply(SubmitStatus.Rejected, null,
                    "The dispatcher did not answer in time. Please try again."), replyTo));
        });

        Command<SubmitDecided>(m =>
        {
            var d = m.Decision;
            if (d.Status == SubmitStatus.Rejected)
            {
                m.ReplyTo.Tell(SubmitOutcome.Refused(d.Error ?? "The question was refused."));
                return;
            }
            var reply = new SubmitOutcome(m.Task.TaskId, d.Status == SubmitStatus.Assigned ? "assigned" : "queued", d.Position, null);
            Write(new QuestionAsked(m.Task.TaskId, m.Task.Query, m.Task.Timestamp), () => m.ReplyTo.Tell(reply));
        });

        Command<TaskQueuedNotice>(m => Push(HubEvents.TaskQueued, new TaskQueuedEvent(m.TaskId, m.Position)));
        Command<TaskAssignedNotice>(m =>
        {
            _streaming.Assigned(m.TaskId, m.Attempt); // the page drops older text when it sees the higher attempt
            Push(HubEvents.TaskAssigned, new TaskAssignedEvent(m.TaskId, m.WorkerId, m.Attempt));
        });

        Command<TaskProgressNotice>(m =>
        {
            if (_history.Find(m.TaskId) is { } item && (item.Response is not null || item.Error is not null)) return;
            if (_streaming.Apply(m.TaskId, m.Attempt, m.Offset, m.Text) is { } chunk)
                Push(HubEvents.AiResponseChunk, chunk);
        });

        Command<TaskOutcomeNotice>(m =>
        {
            var o = m.Outcome;
            var confirmTo = Sender;
            _streaming.Finished(o.TaskId);
            if (!_history.Needs(o))
            {
                confirmTo.Tell(new OutcomeStored(o.TaskId)); // already stored: exactly one answer per task
                return;
            }
            Write(new OutcomeRecorded(o), () =>
            {
                // Pushed before confirming: a master draining for shutdown waits for the confirmations, then for its pushes.
                if (o.Error is null)
                    Push(HubEvents.AiResponse, new AiResponseEvent(o.TaskId, o.Query, o.Response ?? "", o.WorkerId, o.Provider, o.ProcessingTimeMs, o.CompletedAt));
                else
                    Push(HubEvents.TaskFailed, new TaskFailedEvent(o.TaskId, o.Error, o.Retryable));
                confirmTo.Tell(new OutcomeStored(o.TaskId));
            });
        });

        Command<ReceiveTimeout>(_ =>
        {
            if (_connections.Count > 0 || _history.Pending > 0) return;
            _log.LogInformation("Session {SessionId} passivated after {IdleTimeout} without a browser", _sessionId, _settings.IdleTimeout);
            Context.Parent.Tell(new Akka.Cluster.Sharding.Passivate(PoisonPill.Instance));
        });
    }

    private void Write(ISessionEvent e, Action then) => Persist(e, written =>
    {
        switch (written)
        {
            case QuestionAsked q: _history.Add(q.TaskId, q.Query, q.Timestamp); break;
            case OutcomeRecorded r: _history.Record(r.Outcome); break;
        }
        if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(new SessionSnapshot(_history.Items.ToList()));
        then();
    });

    /// <summary>To each master holding connections of this session, its share (the local one directly).</summary>
    private void Push(string method, object payload)
    {
        if (_connections.Count == 0) return; // kept in history; delivered when the browser comes back
        foreach (var node in _connections.GroupBy(c => c.Value))
        {
            var push = new PushToBrowsers(node.Select(c => c.Key).ToList(), method, payload);
            if (node.Key == _selfAddress) _localPush.Tell(push);
            else BrowserPushActor.At(Context.System, node.Key).Tell(push);
        }
    }

    private sealed record SubmitDecided(DispatchTask Task, SubmitReply Decision, IActorRef ReplyTo);
}
