using Akka.Actor;
using Akka.Persistence;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Hubs;
using AiSystem.Master.Persistence;
using AiSystem.Messages;
using Microsoft.Extensions.Logging;

namespace AiSystem.Master.Sessions;

/// <summary>What every session actor is configured with.</summary>
/// <param name="JournalFailing">True while the journal is failing (a database outage): new questions are refused.</param>
public sealed record SessionSettings(QueryValidator Validator, TimeSpan IdleTimeout, int MaxQueriesPerMinute, int MaxHistory,
    Func<bool>? JournalFailing = null, ChatSettings? Chat = null);

/// <summary>What a question takes along (<c>Chat__*</c>) and which models a user may choose (<c>Llm__Models</c>; the first is the default).</summary>
public sealed record ChatSettings(int ContextChars, int ContextTurns, string SystemPrompt, IReadOnlyList<string> Models)
{
    public static readonly ChatSettings Default = new(24_000, 20, "", []);
}

/// <summary>
/// One chat session, the durable owner of its questions: it journals each question once (when the dispatcher has
/// admitted it) and its outcome once (before any browser sees it), and pushes what happens to every connection of
/// the session, in order: nothing about a question reaches a browser before the question is stored. Without browsers
/// and with nothing open it passivates; it comes back from its journal when it is needed again.
/// <para>
/// Deleted (<see cref="DeleteSession"/>), it writes nothing more, waits for what it is writing, and purges its journal
/// rows and snapshots in one transaction; then its open questions are cancelled at the dispatcher (no answer comes for
/// them), its pages hear <see cref="SessionDeletedDto"/>, and it stops, so the next message to its id starts an empty
/// session. A failed purge deleted nothing, and the session goes on as before.
/// </para>
/// </summary>
public sealed class SessionActor : ReceivePersistentActor, IWithTimers
{
    /// <summary>After a failed write, questions are refused for this long; the next one tries the journal again.</summary>
    public static readonly TimeSpan JournalRetryAfter = TimeSpan.FromSeconds(3);

    /// <summary>What a page hears when a question cannot be stored (the journal's database is down or full).</summary>
    public const string JournalDown = "Answers are not being saved right now, so no new question can be taken. Try again in a moment.";

    /// <summary>What a page hears when the conversation cannot be deleted (the journal is failing); nothing was deleted.</summary>
    public const string NotDeleted = "The conversation cannot be deleted right now because the server cannot reach its database. Nothing was deleted. Try again in a moment.";

    /// <summary>A question sent while the conversation is being deleted: not taken.</summary>
    public const string BeingDeleted = "This conversation is being deleted, so the question was not taken. Send it again in a moment to ask it in the new conversation.";

    /// <summary>A question stored while the deletion waited for its writes: deleted with the rest, never answered.</summary>
    public const string DeletedBeforeAnswered = "This conversation was deleted, so the question was not kept. Send it again to ask it in the new conversation.";

    /// <summary>A stop that could not be stored: the question goes on.</summary>
    public const string NotStopped = "Answers are not being saved right now, so the question could not be stopped. Try again in a moment.";

    /// <summary>A stop while the conversation is being deleted: its questions end with it.</summary>
    public const string StopWhileDeleting = "This conversation is being deleted, and its questions with it.";

    /// <summary>A question stopped before the dispatcher took it: its page hears this as the question's refusal.</summary>
    public const string StoppedBeforeTaken = "You stopped this question before it was taken.";

    /// <summary>A question the dispatcher has not admitted within this is refused (the page may send it again).</summary>
    private static readonly TimeSpan SubmitTimeout = TimeSpan.FromSeconds(10);
    /// <summary>An open question the dispatcher has said nothing about for this long is sent again (it dedupes).</summary>
    internal static readonly TimeSpan ResubmitAfter = TimeSpan.FromSeconds(15);
    /// <summary>A session started without a browser (woken by the dispatcher) passivates this soon once idle.</summary>
    private static readonly TimeSpan IdleWithoutBrowser = TimeSpan.FromSeconds(30);
    /// <summary>A session that never asked anything holds nothing worth keeping in memory: it sleeps soon after its pages leave.</summary>
    public static readonly TimeSpan IdleNeverAsked = TimeSpan.FromMinutes(1);

    private readonly string _sessionId;
    private readonly IActorRef _dispatcher;
    private readonly IActorRef _localPush;
    private readonly SessionSettings _settings;
    private readonly ChatSettings _chat;
    private readonly ILogger _log;
    private readonly SessionState _state;
    private readonly StreamingAnswers _streaming = new();
    private readonly RateLimiter _rate;
    private readonly string _selfAddress = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
    /// <summary>Live browser connections: connection id → the master that holds it.</summary>
    private readonly Dictionary<string, string> _connections = new(StringComparer.Ordinal);
    /// <summary>Questions sent to the dispatcher and not stored yet.</summary>
    private readonly Dictionary<string, PendingQuestion> _pending = new(StringComparer.Ordinal);
    /// <summary>Open questions: where each stands and when the dispatcher last spoke of it.</summary>
    private readonly Dictionary<string, (TaskStatusView Status, DateTimeOffset HeardAt)> _open = new(StringComparer.Ordinal);
    /// <summary>Outcomes (and stops) being written (a resent copy meanwhile is not written twice).</summary>
    private readonly HashSet<string> _recording = new(StringComparer.Ordinal);
    /// <summary>Stops being written, and who waits for each.</summary>
    private readonly Dictionary<string, List<IActorRef>> _stopsWriting = new(StringComparer.Ordinal);
    private bool _everConnected;
    private long _snapshotAt;
    /// <summary>Snapshot saves and the deletions after them still under way: a purge waits for them.</summary>
    private int _housekeeping;
    /// <summary>The deletion under way, if any.</summary>
    private Deletion? _deletion;

    public override string PersistenceId => "session-" + _sessionId;
    public ITimerScheduler Timers { get; set; } = null!;

    public SessionActor(string sessionId, IActorRef dispatcher, IActorRef localPush, SessionSettings settings, ILogger log)
    {
        _sessionId = sessionId;
        _dispatcher = dispatcher;
        _localPush = localPush;
        _settings = settings;
        _chat = settings.Chat ?? ChatSettings.Default;
        _log = log;
        _state = new SessionState(settings.MaxHistory);
        _rate = new RateLimiter(settings.MaxQueriesPerMinute, TimeSpan.FromMinutes(1));

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not SessionSnapshot s) return;
            _state.Restore(s);
            _snapshotAt = offer.Metadata.SequenceNr;
        });
        Recover<ISessionEvent>(_state.Apply);
        Recover<RecoveryCompleted>(_ =>
        {
            var now = DateTimeOffset.UtcNow;
            foreach (var q in _state.Open) _open[q.TaskId] = (new TaskStatusView(TaskStatusView.Queued, null, null, 0), now);
            UpdateIdleTimer();
            // Started anew (first use, after passivation, or on another master after ours died): browsers may still be
            // connected to some master. Ask every master which of its connections are ours.
            var cluster = Akka.Cluster.Cluster.Get(Context.System);
            foreach (var m in cluster.State.Members.Where(m => m.HasRole(Messages.Cluster.ClusterRoles.Master) && m.Status == Akka.Cluster.MemberStatus.Up))
                BrowserPushActor.At(Context.System, m.Address.ToString()).Tell(new FindConnections(_sessionId), Self);
        });

        Command<ConnectionsFound>(m =>
        {
            foreach (var id in m.ConnectionIds) _connections[id] = m.NodeAddress;
            _everConnected = true;
            UpdateIdleTimer();
        });

        Command<AttachConnection>(m =>
        {
            _connections[m.ConnectionId] = m.NodeAddress;
            _everConnected = true;
            UpdateIdleTimer();
            var started = new SessionStartedDto(_sessionId, m.Requested && LastSequenceNr > 0, _streaming.History(_state.Questions), m.ResumeToken,
                _chat.Models.Count > 0 ? _chat.Models : null);
            // First in the connection's queue: every later event of this session comes after it.
            Send(m.NodeAddress, new PushToBrowsers([m.ConnectionId], started));
            Sender.Tell(started);
        });

        Command<DetachConnection>(m =>
        {
            _connections.Remove(m.ConnectionId);
            UpdateIdleTimer();
        });

        Command<SubmitQuestion>(Submit);
        Command<CancelQuestion>(m => Stop(m.TaskId, [Sender]));
        Command<TaskAdmitted>(Admitted);
        Command<TaskRefused>(m =>
        {
            if (!_pending.Remove(m.TaskId, out var p) || p.Writing) return;
            Timers.Cancel(TimerKey(m.TaskId));
            p.Reply(SubmitReply.Refused(m.Reason));
            UpdateIdleTimer();
        });
        Command<SubmitTimedOut>(m =>
        {
            if (!_pending.TryGetValue(m.TaskId, out var p) || p.Writing) return;
            _pending.Remove(m.TaskId);
            p.Reply(SubmitReply.Refused("The dispatcher did not answer in time. Please send the question again."));
            UpdateIdleTimer();
        });

        Command<TaskStatusChanged>(m =>
        {
            if (_pending.TryGetValue(m.TaskId, out var p))
            {
                p.Status = m.Status; // told to the browsers once the question is stored
                if (m.Status.Status == TaskStatusView.Assigned) _streaming.Assigned(m.TaskId, m.Status.Attempt);
                return;
            }
            if (!_open.ContainsKey(m.TaskId)) return;
            _open[m.TaskId] = (m.Status, DateTimeOffset.UtcNow);
            if (Held(m.TaskId)) return; // its pages hear of it, and of where it stands, once the deletion has failed
            PushStatus(m.TaskId, m.Status);
        });

        Command<TaskTextStreamed>(m =>
        {
            var pending = _pending.ContainsKey(m.TaskId);
            if (!pending && !_open.ContainsKey(m.TaskId)) return;
            if (_streaming.Apply(m.TaskId, m.Attempt, m.Offset, m.Text) is { } chunk && !pending && !Held(m.TaskId)) Push(chunk);
        });

        Command<RecordOutcome>(m =>
        {
            if (_deletion is { } deleting)
            {
                // Nothing new is written while the session is deleted: confirmed once it is gone, stored if that fails.
                deleting.Outcomes[m.Outcome.TaskId] = (m.Outcome, Sender);
                return;
            }
            if (_pending.TryGetValue(m.Outcome.TaskId, out var p))
            {
                // Faster than the question's own write: journaled right behind it (the journal keeps our order), in the
                // same batch when it can be. Not admitted yet: kept until it is.
                if (p.Writing) Write(SessionState.EventFor(m.Outcome), Sender);
                else p.EarlyOutcome = (m.Outcome, Sender);
                return;
            }
            Record(m.Outcome, Sender);
        });

        Command<ResubmitOpenTasks>(_ =>
        {
            foreach (var q in _state.Open) Resubmit(q);
            _dispatcher.Tell(new OpenTasksListed(_sessionId, [.. _state.Open.Select(q => q.TaskId), .. _pending.Keys]));
            UpdateIdleTimer();
        });

        Command<ResubmitTick>(_ =>
        {
            var due = DateTimeOffset.UtcNow - ResubmitAfter;
            foreach (var q in _state.Open)
                if (_open.TryGetValue(q.TaskId, out var o) && o.HeardAt <= due) Resubmit(q);
        });

        // The journal stays bounded: once a snapshot holds the history, the events before it and older snapshots go
        // (unless the session is being deleted: the purge takes them all).
        Command<SaveSnapshotSuccess>(m =>
        {
            if (_deletion is null)
            {
                DeleteMessages(m.Metadata.SequenceNr);
                DeleteSnapshots(new SnapshotSelectionCriteria(m.Metadata.SequenceNr - 1));
                _housekeeping += 2;
            }
            Housekept();
        });
        Command<SaveSnapshotFailure>(m =>
        {
            _log.LogWarning("Session {SessionId}: snapshot not saved ({Error}); the events stay", SessionIds.Short(_sessionId), m.Cause.GetType().Name);
            Housekept();
        });
        Command<DeleteMessagesSuccess>(_ => Housekept());
        Command<DeleteMessagesFailure>(m =>
        {
            _log.LogWarning("Session {SessionId}: old events not deleted ({Error})", SessionIds.Short(_sessionId), m.Cause.GetType().Name);
            Housekept();
        });
        Command<DeleteSnapshotsSuccess>(_ => Housekept());
        Command<DeleteSnapshotsFailure>(m =>
        {
            _log.LogWarning("Session {SessionId}: old snapshots not deleted ({Error})", SessionIds.Short(_sessionId), m.Cause.GetType().Name);
            Housekept();
        });

        Command<DeleteSession>(_ => Delete());
        Command<PersistenceIdPurged>(_ => Deleted());
        Command<PersistenceIdPurgeFailed>(m => NotDeletedAfterAll(m.Cause));

        Command<ReceiveTimeout>(_ =>
        {
            if (!IsIdle) return;
            _log.LogInformation("Session {SessionId} passivated after {IdleTimeout} without a browser", SessionIds.Short(_sessionId),
                IdleAfter);
            Context.Parent.Tell(new Akka.Cluster.Sharding.Passivate(PoisonPill.Instance));
        });
    }

    private TimeSpan IdleAfter => !_everConnected ? IdleWithoutBrowser
        : LastSequenceNr == 0 ? TimeSpan.FromTicks(Math.Min(IdleNeverAsked.Ticks, _settings.IdleTimeout.Ticks)) : _settings.IdleTimeout;

    private bool IsIdle => _connections.Count == 0 && _pending.Count == 0 && _state.OpenCount == 0 && _recording.Count == 0 && _deletion is null;

    /// <summary>A question stored while the session is being deleted: nothing about it reaches a page until that ends.</summary>
    private bool Held(string taskId) => _deletion?.Holds(taskId) == true;

    private void Submit(SubmitQuestion m)
    {
        if (m.TaskId is { } given)
        {
            if (!TaskIds.IsValid(given))
            {
                Sender.Tell(SubmitReply.Refused("The question's taskId must be a UUID like 3f2b8c1e-6d4a-4b7e-9a15-2c8d0e6f4a91 (or left out)."));
                return;
            }
            // The same question again (the page timed out and retried): never a second question. One still waiting
            // for its write, or stored while the session is being deleted, is answered with the first call.
            if ((_pending.GetValueOrDefault(given) ?? _deletion?.Find(given)) is { } waiting)
            {
                waiting.ReplyTo.Add(Sender);
                return;
            }
            if (_state.Find(given) is { } known)
            {
                var status = _open.TryGetValue(given, out var o) ? o.Status : new TaskStatusView(TaskStatusView.Answered, null, known.WorkerId, 0);
                Sender.Tell(new SubmitReply(given, status.Status, status.Position, null, status.WorkerId, status.Attempt));
                return;
            }
        }
        if (_deletion is not null)
        {
            Sender.Tell(SubmitReply.Refused(BeingDeleted));
            return;
        }
        if (_settings.Validator.Validate(m.Query) is { } error)
        {
            Sender.Tell(SubmitReply.Refused(error));
            return;
        }
        // A question that cannot be stored is refused before anyone works on it (accepted ones stay accepted).
        if (_settings.JournalFailing?.Invoke() == true)
        {
            Sender.Tell(SubmitReply.Refused(JournalDown));
            return;
        }
        if (ChatRefusal(m, out var model) is { } chatRefusal)
        {
            Sender.Tell(SubmitReply.Refused(chatRefusal));
            return;
        }
        if (!_rate.TryAcquire(DateTimeOffset.UtcNow, out var wait))
        {
            Sender.Tell(SubmitReply.Refused(
                $"You are sending questions too fast (at most {_settings.MaxQueriesPerMinute} a minute). Wait {Math.Ceiling(wait.TotalSeconds)} s and send it again."));
            return;
        }
        var taskId = m.TaskId ?? TaskIds.New();
        var request = new TaskRequest(taskId, _sessionId, m.Query!, m.ApiKey?.Trim() ?? "", EpochMs.Now(),
            ContextFor(m.Query!, m.Replaces), SystemPrompt, model);
        _pending[taskId] = new PendingQuestion(request, [Sender], m.ConnectionId, m.Replaces);
        // Admission first: a question the dispatcher refuses is never journaled, so it can never be answered later.
        _dispatcher.Tell(new SubmitTask(request));
        Timers.StartSingleTimer(TimerKey(taskId), new SubmitTimedOut(taskId), SubmitTimeout);
        SetReceiveTimeout(null);
    }

    private string? SystemPrompt => string.IsNullOrWhiteSpace(_chat.SystemPrompt) ? null : _chat.SystemPrompt;

    /// <summary>
    /// Why the question cannot be taken as the conversation stands (its model, what it replaces, its length against the
    /// context budget), or null; <paramref name="model"/> is the model it goes to (null: the workers' own).
    /// </summary>
    private string? ChatRefusal(SubmitQuestion m, out string? model)
    {
        model = _chat.Models.Count > 0 ? _chat.Models[0] : null;
        if (!string.IsNullOrWhiteSpace(m.Model))
        {
            var chosen = m.Model.Trim();
            if (!_chat.Models.Contains(chosen, StringComparer.Ordinal))
                return _chat.Models.Count == 0
                    ? "This server offers no choice of model: send the question without one."
                    : $"The model '{(chosen.Length > 64 ? chosen[..64] + "…" : chosen)}' is not offered here. Choose one of: {string.Join(", ", _chat.Models)}.";
            model = chosen;
        }
        if (m.Replaces is { } replaces)
        {
            if (_state.ReplaceRefusal(replaces) is { } refusal) return refusal;
            if (_pending.Values.Any(p => p.Replaces == replaces)) return "That question is being asked again already.";
        }
        var room = _chat.ContextChars - (SystemPrompt?.Length ?? 0);
        if (m.Query!.Length > room)
            return $"The question is {m.Query.Length} characters long; with this server's context budget it can be at most {room} (Chat__ContextChars).";
        return null;
    }

    /// <summary>The conversation before a question (one replacing a turn: before that turn), within the context budget.</summary>
    private IReadOnlyList<Messages.ChatTurn>? ContextFor(string query, string? before)
    {
        var turns = _state.Context(before, _chat.ContextChars - query.Length - (SystemPrompt?.Length ?? 0), _chat.ContextTurns);
        return turns.Count > 0 ? turns : null;
    }

    /// <summary>
    /// The user stops a question. Not taken by the dispatcher yet: refused now. Being stored: stopped once it is.
    /// Open: the stop is journaled with what had streamed (kept as its stopped answer), the pages hear
    /// <see cref="TaskCancelledDto"/>, and the dispatcher drops the task and tells its worker. Ended already (or its
    /// outcome being written now): nothing changes, and the reply says how it ended.
    /// </summary>
    private void Stop(string taskId, List<IActorRef> replyTo)
    {
        void Reply(CancelReply r) { foreach (var to in replyTo) to.Tell(r); }
        if (_deletion is not null)
        {
            Reply(new CancelReply(taskId, null, StopWhileDeleting));
            return;
        }
        if (_pending.TryGetValue(taskId, out var p))
        {
            if (p.Writing)
            {
                p.StopRequests.AddRange(replyTo); // stopped the moment it is stored
                return;
            }
            _pending.Remove(taskId);
            Timers.Cancel(TimerKey(taskId));
            p.Reply(SubmitReply.Refused(StoppedBeforeTaken));
            _dispatcher.Tell(new CancelTask(taskId, _sessionId));
            Reply(new CancelReply(taskId, CancelReply.Cancelled));
            UpdateIdleTimer();
            return;
        }
        if (_state.Find(taskId) is not { } q)
        {
            Reply(new CancelReply(taskId, null, "There is no question with this id in this conversation."));
            return;
        }
        if (_stopsWriting.TryGetValue(taskId, out var waiting))
        {
            waiting.AddRange(replyTo); // being stopped already
            return;
        }
        if (!q.IsOpen || _recording.Contains(taskId))
        {
            // Its outcome is stored, or being stored now: the answer stands.
            Reply(new CancelReply(taskId, q.Cancelled == true ? CancelReply.Cancelled : q.Error is not null ? CancelReply.Failed : CancelReply.Answered));
            return;
        }
        var stop = _state.Cancel(taskId, _streaming.Partial(taskId) ?? "", EpochMs.Now())!;
        _recording.Add(taskId);
        _stopsWriting[taskId] = replyTo;
        PersistAsync(stop, written =>
        {
            _state.Apply(written);
            _recording.Remove(written.TaskId);
            _open.Remove(written.TaskId);
            _streaming.Finished(written.TaskId);
            _dispatcher.Tell(new CancelTask(written.TaskId, _sessionId)); // its worker stops; a late answer is not stored
            if (!Held(written.TaskId)) Push(new TaskCancelledDto(written.TaskId, written.Text));
            if (_stopsWriting.Remove(written.TaskId, out var to))
                foreach (var r in to) r.Tell(new CancelReply(written.TaskId, CancelReply.Cancelled));
            _log.LogInformation("Session {SessionId}: task {TaskId} stopped by the user", SessionIds.Short(_sessionId), written.TaskId);
            AfterWrite();
            UpdateIdleTimer();
            PurgeWhenQuiet();
        });
    }

    private void Admitted(TaskAdmitted m)
    {
        if (_pending.TryGetValue(m.TaskId, out var p))
        {
            p.Status = m.Status;
            if (p.Writing) return;
            p.Writing = true;
            Timers.Cancel(TimerKey(m.TaskId));
            // The dispatcher already works on it; the browser hears of it once the question is stored.
            PersistAsync(new QuestionAsked(m.TaskId, p.Request.Query, p.Request.AskedAt, p.Replaces, p.Request.Model), e =>
            {
                _state.Apply(e);
                _pending.Remove(e.TaskId);
                _open[e.TaskId] = (p.Status, DateTimeOffset.UtcNow);
                if (_deletion is { } deleting)
                {
                    // Stored while the session is being deleted: it goes with the rest, or is announced if that fails.
                    deleting.Questions.Add(p);
                    PurgeWhenQuiet();
                    return;
                }
                Announce(p);
                AfterWrite();
                EnsureResubmitTimer();
                if (p.StopRequests.Count > 0) Stop(e.TaskId, p.StopRequests);
            });
            if (p.EarlyOutcome is var (outcome, confirmTo)) Write(SessionState.EventFor(outcome), confirmTo);
            return;
        }
        if (_open.ContainsKey(m.TaskId))
        {
            // A resubmitted question: the dispatcher still has it.
            _open[m.TaskId] = (m.Status, DateTimeOffset.UtcNow);
            if (!Held(m.TaskId)) PushStatus(m.TaskId, m.Status);
            return;
        }
        if (_state.Find(m.TaskId) is null)
            _dispatcher.Tell(new CancelTask(m.TaskId, _sessionId)); // admitted after we gave up waiting: nobody will store it
    }

    /// <summary>A question is stored: its page gets the reply, the other pages of the session hear of it now.</summary>
    private void Announce(PendingQuestion p)
    {
        var taskId = p.Request.TaskId;
        var at = _open.TryGetValue(taskId, out var o) ? o.Status : p.Status;
        var status = at.Status == TaskStatusView.Answered ? TaskStatusView.Assigned : at.Status;
        p.Reply(new SubmitReply(taskId, status, at.Position, null, at.WorkerId, at.Attempt));
        // The asking page has all of it in its reply.
        Push(new TaskAcceptedDto(taskId, p.Request.Query, p.Request.AskedAt, p.Replaces), except: p.ConnectionId);
        PushStatus(taskId, at, except: p.ConnectionId);
        if (_streaming.Partial(taskId) is { } text && !_recording.Contains(taskId))
            Push(new AiResponseChunkDto(taskId, _streaming.AttemptOf(taskId), 0, text));
        // Its outcome was written while it was held (a deletion that then failed): it follows its question.
        if (_state.Find(taskId) is { IsOpen: false } done)
            Push(done.Error is { } error ? new TaskFailedDto(taskId, error, done.Retryable ?? true)
                : done.Cancelled == true ? new TaskCancelledDto(taskId, done.Answer ?? "")
                : new AiResponseDto(taskId, done.Query, done.Answer ?? "", done.WorkerId ?? "", done.Provider ?? "", done.ProcessingTimeMs ?? 0,
                    done.FinishedAt ?? 0, done.PromptTokens, done.OutputTokens));
    }

    private void Record(TaskOutcome outcome, IActorRef confirmTo)
    {
        if (_recording.Contains(outcome.TaskId)) return; // the first copy is being written; it confirms
        if (_state.Record(outcome) is not { } e)
        {
            // Not ours (never stored) or answered already: nothing to record, and nothing to resend.
            _streaming.Finished(outcome.TaskId);
            confirmTo.Tell(new OutcomeStored(outcome.TaskId));
            return;
        }
        Write(e, confirmTo);
    }

    /// <summary>Journals an outcome, then tells the browsers, then confirms: nobody sees an answer that could be lost.</summary>
    private void Write(ISessionEvent e, IActorRef confirmTo)
    {
        if (!_recording.Add(e.TaskId)) return;
        PersistAsync(e, written =>
        {
            _state.Apply(written);
            _recording.Remove(written.TaskId);
            _open.Remove(written.TaskId);
            _streaming.Finished(written.TaskId);
            var q = _state.Find(written.TaskId);
            // A question held by a deletion is not announced yet: its outcome follows it when it is (Announce).
            if (!Held(written.TaskId))
            {
                if (written is QuestionAnswered a)
                    Push(new AiResponseDto(a.TaskId, q?.Query ?? "", a.Answer, a.WorkerId, a.Provider, a.ProcessingTimeMs, a.AnsweredAt,
                        a.PromptTokens, a.OutputTokens));
                else if (written is QuestionFailed f)
                    Push(new TaskFailedDto(f.TaskId, f.Error, f.Retryable));
            }
            // Pushed before confirming: a master draining for shutdown waits for the confirmations, then for its pushes.
            confirmTo.Tell(new OutcomeStored(written.TaskId));
            AfterWrite();
            UpdateIdleTimer();
            PurgeWhenQuiet();
        });
    }

    private void Resubmit(QuestionRecord q)
    {
        _dispatcher.Tell(new SubmitTask(new TaskRequest(q.TaskId, _sessionId, q.Query, "", q.AskedAt, ContextFor(q.Query, q.Replaces ?? q.TaskId),
            SystemPrompt, q.Model), Resubmitted: true));
        if (_open.TryGetValue(q.TaskId, out var o)) _open[q.TaskId] = o with { HeardAt = DateTimeOffset.UtcNow };
    }

    /// <summary>
    /// A snapshot once the events since the last one could hold the whole history twice over: it then costs about
    /// as much as the events it replaces, recovery replays at most that many events, and the events it covers go.
    /// </summary>
    private void AfterWrite()
    {
        if (_deletion is not null || LastSequenceNr - _snapshotAt < 2L * _settings.MaxHistory) return;
        _snapshotAt = LastSequenceNr; // one at a time; a failed one is tried again after as many events
        _housekeeping++;
        SaveSnapshot(_state.ToSnapshot());
    }

    private void Housekept()
    {
        _housekeeping--;
        PurgeWhenQuiet();
    }

    /// <summary>
    /// <see cref="DeleteSession"/>: from now on the session writes nothing new (questions are refused, outcomes held),
    /// and once what it is writing is written, it purges. Refused at once, with nothing touched, while the journal is
    /// failing: the purge could not succeed.
    /// </summary>
    private void Delete()
    {
        if (_deletion is { } underWay)
        {
            underWay.ReplyTo.Add(Sender); // another tab asked too: one deletion, told to both
            return;
        }
        if (_settings.JournalFailing?.Invoke() == true)
        {
            Sender.Tell(DeleteSessionReply.Refused(NotDeleted));
            return;
        }
        _deletion = new Deletion(Sender);
        SetReceiveTimeout(null);
        // Not admitted yet, so not stored: refused now. The dispatcher drops them (and any it admits later).
        foreach (var (taskId, p) in _pending.Where(kv => !kv.Value.Writing).ToList())
        {
            _pending.Remove(taskId);
            Timers.Cancel(TimerKey(taskId));
            p.Reply(SubmitReply.Refused(BeingDeleted));
            _dispatcher.Tell(new CancelTask(taskId, _sessionId));
        }
        PurgeWhenQuiet();
    }

    /// <summary>
    /// The purge goes to the journal once nothing of this session is being written (questions, outcomes, snapshots and
    /// their clean-up): it must be the last word of this incarnation in the journal (see JournalDatabase.PurgeAsync).
    /// </summary>
    private void PurgeWhenQuiet()
    {
        if (_deletion is not { Purging: false } deletion || _pending.Count > 0 || _recording.Count > 0 || _housekeeping > 0) return;
        deletion.Purging = true;
        Journal.Tell(new PurgePersistenceId(PersistenceId));
    }

    /// <summary>
    /// Every row is gone. Open questions are cancelled at the dispatcher (a worker still on one has its result refused),
    /// outcomes held meanwhile are confirmed (there is nothing left to store them in), the questions stored meanwhile
    /// are refused to their pages; then every page hears <see cref="SessionDeletedDto"/>, the callers get their reply,
    /// and the shard stops this incarnation.
    /// </summary>
    private void Deleted()
    {
        var deletion = _deletion!;
        var open = _state.Open.Select(q => q.TaskId).ToList();
        foreach (var taskId in open) _dispatcher.Tell(new CancelTask(taskId, _sessionId));
        foreach (var (taskId, (_, confirmTo)) in deletion.Outcomes) confirmTo.Tell(new OutcomeStored(taskId));
        foreach (var p in deletion.Questions) p.Reply(SubmitReply.Refused(DeletedBeforeAnswered));
        var deleted = new SessionDeletedDto(_sessionId);
        Push(deleted); // the last event of this conversation on every connection, behind everything pushed before
        foreach (var r in deletion.ReplyTo) r.Tell(DeleteSessionReply.Deleted);
        _log.LogInformation("Session {SessionId} deleted: {Questions} question(s) in its history, {Open} open one(s) cancelled",
            _sessionId, _state.Questions.Count, open.Count);
        Timers.CancelAll();
        SetReceiveTimeout(null);
        Become(Gone);
        Context.Parent.Tell(new Akka.Cluster.Sharding.Passivate(PoisonPill.Instance));
    }

    /// <summary>The purge failed: nothing was deleted (one transaction), and the session goes on as if never asked.</summary>
    private void NotDeletedAfterAll(Exception cause)
    {
        var deletion = _deletion!;
        _deletion = null;
        _log.LogWarning("Session {SessionId} not deleted ({Error}); it goes on as it was", SessionIds.Short(_sessionId), cause.GetType().Name);
        foreach (var p in deletion.Questions) Announce(p);
        foreach (var (outcome, confirmTo) in deletion.Outcomes.Values) Record(outcome, confirmTo);
        foreach (var r in deletion.ReplyTo) r.Tell(DeleteSessionReply.Refused(NotDeleted));
        AfterWrite();
        UpdateIdleTimer();
    }

    /// <summary>
    /// Deleted, until the shard has stopped this incarnation (moments later): there is nothing of the old session left,
    /// and it answers as the empty session to come would, writing nothing. A page that connects now gets an empty
    /// SessionStarted (the next incarnation finds its connection when it starts); a question is refused, to be sent
    /// again to that next incarnation.
    /// </summary>
    private void Gone()
    {
        Command<AttachConnection>(m =>
        {
            var started = new SessionStartedDto(_sessionId, false, [], m.ResumeToken);
            Send(m.NodeAddress, new PushToBrowsers([m.ConnectionId], started));
            Sender.Tell(started);
        });
        Command<SubmitQuestion>(_ => Sender.Tell(SubmitReply.Refused(BeingDeleted)));
        Command<RecordOutcome>(m => Sender.Tell(new OutcomeStored(m.Outcome.TaskId))); // nothing left to store it in
        Command<TaskAdmitted>(m => _dispatcher.Tell(new CancelTask(m.TaskId, _sessionId)));
        Command<ResubmitOpenTasks>(_ => _dispatcher.Tell(new OpenTasksListed(_sessionId, [])));
        Command<DeleteSession>(_ => Sender.Tell(DeleteSessionReply.Deleted));
        CommandAny(_ => { }); // news of the deleted questions, timers, connections
    }

    private void EnsureResubmitTimer()
    {
        if (!Timers.IsTimerActive("resubmit"))
            Timers.StartPeriodicTimer("resubmit", ResubmitTick.Instance, ResubmitAfter / 3);
    }

    private void UpdateIdleTimer()
    {
        if (_state.OpenCount > 0) EnsureResubmitTimer();
        else Timers.Cancel("resubmit");
        SetReceiveTimeout(IsIdle ? IdleAfter : null);
    }

    private void PushStatus(string taskId, TaskStatusView status, string? except = null)
    {
        if (status.Status == TaskStatusView.Assigned && status.WorkerId is { } worker)
        {
            _streaming.Assigned(taskId, status.Attempt); // the page drops older text when it sees the higher attempt
            Push(new TaskAssignedDto(taskId, worker, status.Attempt), except);
        }
        else if (status.Status == TaskStatusView.Queued && status.Position is { } position)
        {
            Push(new TaskQueuedDto(taskId, position), except);
        }
    }

    /// <summary>To each master holding connections of this session, its share (the local one directly).</summary>
    private void Push(IBrowserEvent e, string? except = null)
    {
        if (_connections.Count == 0) return; // kept in the journal; the browser gets the history when it comes back
        if (_connections.Count == 1)
        {
            foreach (var (id, node) in _connections)
                if (id != except) Send(node, new PushToBrowsers([id], e));
            return;
        }
        foreach (var node in _connections.Where(c => c.Key != except).GroupBy(c => c.Value))
            Send(node.Key, new PushToBrowsers([.. node.Select(c => c.Key)], e));
    }

    private void Send(string node, PushToBrowsers push)
    {
        if (node == _selfAddress) _localPush.Tell(push);
        else BrowserPushActor.At(Context.System, node).Tell(push);
    }

    private static string TimerKey(string taskId) => "submit:" + taskId;

    /// <summary>
    /// A write failed (the database is down, or full): the actor stops, as every persistent actor does, and comes back
    /// from its journal on the next message. A question whose own write failed is not stored: its page hears that it
    /// was refused, and the dispatcher drops it. Others still being written are not told anything they could not
    /// know: their pages send them again under the same id, and the restarted session knows whether it has them.
    /// An outcome whose write failed comes back from the dispatcher, which resends it until it is stored.
    /// </summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (_deletion is { } deletion)
            foreach (var r in deletion.ReplyTo) r.Tell(DeleteSessionReply.Refused(NotDeleted));
        if (@event is QuestionAsked asked && _pending.Remove(asked.TaskId, out var p))
        {
            p.Reply(SubmitReply.Refused(JournalDown));
            foreach (var r in p.StopRequests) r.Tell(new CancelReply(asked.TaskId, CancelReply.Cancelled)); // never stored, never answered
            _dispatcher.Tell(new CancelTask(asked.TaskId, _sessionId));
        }
        // A stop not stored: the question goes on (its answer still comes), and the user hears why.
        foreach (var (taskId, replyTo) in _stopsWriting)
            foreach (var r in replyTo) r.Tell(new CancelReply(taskId, null, NotStopped));
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    private sealed class PendingQuestion(TaskRequest request, List<IActorRef> replyTo, string? connectionId, string? replaces)
    {
        public TaskRequest Request { get; } = request;
        /// <summary>The turn this question takes the place of (regenerate, edit).</summary>
        public string? Replaces { get; } = replaces;
        /// <summary>Who asked to stop it while it was being stored: it is stopped once it is.</summary>
        public List<IActorRef> StopRequests { get; } = [];
        /// <summary>The asking connection (its reply says everything the first pushes would).</summary>
        public string? ConnectionId { get; } = connectionId;
        public List<IActorRef> ReplyTo { get; } = replyTo;
        public TaskStatusView Status { get; set; } = new(TaskStatusView.Queued, null, null, 0);
        public bool Writing { get; set; }
        public (TaskOutcome Outcome, IActorRef ConfirmTo)? EarlyOutcome { get; set; }

        public void Reply(SubmitReply reply)
        {
            foreach (var r in ReplyTo) r.Tell(reply);
        }
    }

    /// <summary>A deletion under way: who waits for it, and what it holds back meanwhile.</summary>
    private sealed class Deletion(IActorRef requestedBy)
    {
        public List<IActorRef> ReplyTo { get; } = [requestedBy];
        /// <summary>Questions whose write ended while it waited: their pages have not heard of them.</summary>
        public List<PendingQuestion> Questions { get; } = [];
        /// <summary>Outcomes that came meanwhile (the latest copy of each): not written.</summary>
        public Dictionary<string, (TaskOutcome Outcome, IActorRef ConfirmTo)> Outcomes { get; } = new(StringComparer.Ordinal);
        public bool Purging { get; set; }

        public PendingQuestion? Find(string taskId) => Questions.Find(p => p.Request.TaskId == taskId);

        public bool Holds(string taskId) => Find(taskId) is not null;
    }

    private sealed record SubmitTimedOut(string TaskId);

    private sealed record ResubmitTick
    {
        public static readonly ResubmitTick Instance = new();
    }
}

/// <summary>Task ids are UUIDs, made by the page (or by the session when the page sends none).</summary>
public static class TaskIds
{
    public static string New() => Guid.NewGuid().ToString("D");

    /// <summary>Lowercase 8-4-4-4-12 only: ids are compared exactly, so one question has one spelling.</summary>
    public static bool IsValid(string? candidate) =>
        Guid.TryParseExact(candidate, "D", out var id) && string.Equals(id.ToString("D"), candidate, StringComparison.Ordinal);
}
