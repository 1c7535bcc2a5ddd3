using Akka.Actor;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Hubs;
using AiSystem.Messages;
using Microsoft.Extensions.Logging;

namespace AiSystem.Master.Sessions;

/// <summary>
/// One chat session: its history and its live browser connections. Turns questions into tasks for the dispatcher
/// and pushes what happens to them to every connection of the session.
/// </summary>
public sealed class SessionActor : ReceiveActor
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    private readonly string _sessionId;
    private readonly IActorRef _dispatcher;
    private readonly IBrowserPush _browser;
    private readonly QueryValidator _validator;
    private readonly TimeSpan _idleTimeout;
    private readonly ILogger _log;
    private readonly SessionHistory _history = new();
    private readonly HashSet<string> _connections = [];
    private readonly RateLimiter _rate;
    private Task _pushes = Task.CompletedTask;

    public SessionActor(string sessionId, IActorRef dispatcher, IBrowserPush browser, QueryValidator validator,
        TimeSpan idleTimeout, int maxQueriesPerMinute, ILogger log)
    {
        _rate = new RateLimiter(maxQueriesPerMinute, TimeSpan.FromMinutes(1));
        _sessionId = sessionId;
        _dispatcher = dispatcher;
        _browser = browser;
        _validator = validator;
        _idleTimeout = idleTimeout;
        _log = log;

        Receive<AttachConnection>(m =>
        {
            var resumed = m.RequestedSessionId == _sessionId;
            _connections.Add(m.ConnectionId);
            SetReceiveTimeout(null);
            Sender.Tell(new SessionStartedEvent(_sessionId, resumed, _history.Items.ToList()));
        });

        Receive<DetachConnection>(m =>
        {
            _connections.Remove(m.ConnectionId);
            if (_connections.Count == 0) SetReceiveTimeout(_idleTimeout);
        });

        Receive<SubmitQuery>(m =>
        {
            if (_validator.Validate(m.Query) is { } error)
            {
                Sender.Tell(SubmitOutcome.Refused(error));
                return;
            }
            if (!_rate.TryAcquire(DateTimeOffset.UtcNow, out var wait))
            {
                Sender.Tell(SubmitOutcome.Refused(
                    $"You are sending questions too fast (at most {maxQueriesPerMinute} a minute). Wait {Math.Ceiling(wait.TotalSeconds)} s and send it again."));
                return;
            }
            var task = new DispatchTask(Guid.NewGuid().ToString(), _sessionId, m.Query!, m.ApiKey?.Trim() ?? "", EpochMs.Now());
            _history.Add(task.TaskId, task.Query, task.Timestamp);
            var replyTo = Sender;
            _dispatcher.Ask<SubmitDecision>(new SubmitTask(task), AskTimeout).PipeTo(Self,
                success: d => new SubmitDecided(task.TaskId, d, replyTo),
                failure: e => new SubmitDecided(task.TaskId, new SubmitDecision(SubmitStatus.Rejected, null,
                    "The dispatcher did not answer in time. Please try again.", []), replyTo));
        });

        Receive<SubmitDecided>(m =>
        {
            var d = m.Decision;
            if (d.Status == SubmitStatus.Rejected)
            {
                _history.Remove(m.TaskId);
                m.ReplyTo.Tell(SubmitOutcome.Refused(d.Error ?? "The question was refused."));
                return;
            }
            m.ReplyTo.Tell(new SubmitOutcome(m.TaskId, d.Status == SubmitStatus.Assigned ? "assigned" : "queued", d.Position, null));
        });

        Receive<TaskQueuedNotice>(m => Push(HubEvents.TaskQueued, new TaskQueuedEvent(m.TaskId, m.Position)));
        Receive<TaskAssignedNotice>(m => Push(HubEvents.TaskAssigned, new TaskAssignedEvent(m.TaskId, m.WorkerId, m.Attempt)));

        Receive<TaskCompletedNotice>(m =>
        {
            if (!_history.Complete(m.TaskId, m.Result)) return; // unknown or already answered: exactly one answer
            var r = m.Result;
            var item = _history.Find(m.TaskId)!;
            if (string.IsNullOrEmpty(r.Error))
                Push(HubEvents.AiResponse, new AiResponseEvent(m.TaskId, item.Query, r.AiResponse, r.WorkerId, r.Provider, r.ProcessingTimeMs,
                    r.CompletionTimestamp != 0 ? r.CompletionTimestamp : EpochMs.Now()));
            else
                Push(HubEvents.TaskFailed, new TaskFailedEvent(m.TaskId, r.Error, Retryable: !r.PermanentError));
        });

        Receive<TaskFailedNotice>(m =>
        {
            if (_history.Fail(m.TaskId, m.Error, m.Retryable))
                Push(HubEvents.TaskFailed, new TaskFailedEvent(m.TaskId, m.Error, m.Retryable));
        });

        Receive<FlushPushes>(_ => _pushes.ContinueWith(_ => PushesFlushed.Instance, TaskScheduler.Default).PipeTo(Sender));

        Receive<ReceiveTimeout>(_ =>
        {
            if (_connections.Count > 0 || _history.Pending > 0) return;
            _log.LogInformation("Session {SessionId} expired after {IdleTimeout} without a browser", _sessionId, _idleTimeout);
            Context.Stop(Self);
        });
    }

    /// <summary>Pushes are chained so every browser sees a session's events in the order they happened.</summary>
    private void Push(string method, object payload)
    {
        if (_connections.Count == 0) return; // kept in history; delivered when the browser comes back
        var targets = _connections.ToArray();
        _pushes = _pushes.ContinueWith(_ => _browser.SendAsync(targets, method, payload), TaskScheduler.Default).Unwrap();
    }

    private sealed record SubmitDecided(string TaskId, SubmitDecision Decision, IActorRef ReplyTo);
}
