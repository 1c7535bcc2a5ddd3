using Akka.Actor;
using Akka.Hosting;
using AiSystem.Master.Lifecycle;
using AiSystem.Master.Sessions;
using Microsoft.AspNetCore.SignalR;

namespace AiSystem.Master.Hubs;

/// <summary>
/// The browser edge (<c>/hubs/chat</c>): translates hub calls into session messages and nothing more.
/// </summary>
public sealed class ChatHub(IRequiredActor<SessionRegion> sessions, IRequiredActor<BrowserPushActor> pushes, ActorSystem system,
    MasterLifecycle lifecycle, ChatConnections connections, AiSystem.Master.Persistence.JournalHealth journal,
    AiSystem.Master.Security.MasterKeys keys, ClientLimits limits) : Hub
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);
    /// <summary>A deletion first waits for the session's writes in flight (each up to the journal's 20 s call timeout).</summary>
    private static readonly TimeSpan DeleteTimeout = TimeSpan.FromSeconds(30);
    private const string SessionKey = "sessionId";

    public override async Task OnConnectedAsync()
    {
        var http = Context.GetHttpContext();
        if (limits.TryConnect(http?.Connection.RemoteIpAddress) is { } refusal)
            throw new HubException(refusal.Message);
        var query = http?.Request.Query;
        var requested = query?["session"].ToString();
        // A valid id with its resume token gets its session back (from wherever it lives, or from its journal); anything
        // else, an id alone included, starts a new one: knowing a session id is not owning it.
        var resuming = SessionIds.IsValid(requested) && keys.IsResumeToken(requested!, query?["token"].ToString());
        var sessionId = resuming ? requested! : SessionIds.New();
        var node = Akka.Cluster.Cluster.Get(system).SelfAddress.ToString();
        // The push actor knows the connection before the session does: SessionStarted and everything after it reach
        // the browser through that one per-connection queue, in order, and none is dropped as "unknown connection".
        Context.Items[SessionKey] = sessionId;
        connections.Add(Context);
        pushes.ActorRef.Tell(new ConnectionOpened(Context.ConnectionId, sessionId));
        try
        {
            await sessions.ActorRef.Ask<SessionStartedDto>(new AttachConnection(sessionId, resuming, Context.ConnectionId, node, keys.ResumeToken(sessionId)), AskTimeout);
        }
        catch (AskTimeoutException)
        {
            connections.Remove(Context.ConnectionId);
            pushes.ActorRef.Tell(new ConnectionClosed(Context.ConnectionId));
            throw new HubException("The server is busy and could not open your session in time. Reload the page in a moment.");
        }
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        connections.Remove(Context.ConnectionId);
        pushes.ActorRef.Tell(new ConnectionClosed(Context.ConnectionId));
        if (Context.Items[SessionKey] is string sessionId)
            sessions.ActorRef.Tell(new DetachConnection(sessionId, Context.ConnectionId));
        return Task.CompletedTask;
    }

    public async Task<SubmitQueryResponseDto> SubmitQuery(SubmitQueryRequestDto? request)
    {
        if (request is null)
            throw new HubException("SubmitQuery needs an argument like { \"query\": \"your question\" }.");
        if (lifecycle.Draining)
            throw new HubException("The server is restarting. Send your question again in a few seconds.");
        if (Context.Items[SessionKey] is not string sessionId)
            throw new HubException("This connection has no session yet. Reconnect and try again.");
        if (limits.TryAsk(Context.GetHttpContext()?.Connection.RemoteIpAddress, !string.IsNullOrWhiteSpace(request.ApiKey)) is { } refusal)
            throw new HubException(refusal.Message);
        // The journal's database failed moments ago: no session could store the question (nor recover to say so).
        if (journal.IsFailing(DateTimeOffset.UtcNow, SessionActor.JournalRetryAfter))
            throw new HubException(SessionActor.JournalDown);

        SubmitReply reply;
        try
        {
            reply = await sessions.ActorRef.Ask<SubmitReply>(new SubmitQuestion(sessionId, request.TaskId, request.Query, request.ApiKey,
                Context.ConnectionId, request.Replaces, request.Model), AskTimeout);
        }
        catch (AskTimeoutException)
        {
            // A session that cannot recover or write (the journal's database is down) never answers: say why.
            throw new HubException(journal.LastAttemptFailed ? SessionActor.JournalDown
                : "The server is busy and did not accept the question in time. Please send it again.");
        }
        if (reply.Error is not null)
            throw new HubException(reply.Error);
        return new SubmitQueryResponseDto(reply.TaskId!, reply.Status!, reply.Position, reply.WorkerId, reply.Attempt);
    }

    /// <summary>
    /// Stops a question of this connection's own session: queued, it leaves the queue; on a worker, the worker aborts
    /// the model call. Every page of the session hears <see cref="TaskCancelledDto"/> with the text streamed so far,
    /// which stays in the history as the stopped answer. A question that had ended is left as it was.
    /// </summary>
    public async Task<CancelTaskResponseDto> CancelTask(string? taskId)
    {
        if (!Sessions.TaskIds.IsValid(taskId))
            throw new HubException("CancelTask needs the question's taskId, a UUID like 3f2b8c1e-6d4a-4b7e-9a15-2c8d0e6f4a91.");
        if (Context.Items[SessionKey] is not string sessionId)
            throw new HubException("This connection has no session yet. Reconnect and try again.");
        CancelReply reply;
        try
        {
            reply = await sessions.ActorRef.Ask<CancelReply>(new CancelQuestion(sessionId, taskId!), AskTimeout);
        }
        catch (AskTimeoutException)
        {
            throw new HubException(journal.LastAttemptFailed ? SessionActor.NotStopped
                : "The server is busy and did not stop the question in time. Press Stop again.");
        }
        if (reply.Error is not null)
            throw new HubException(reply.Error);
        return new CancelTaskResponseDto(reply.TaskId, reply.Status!);
    }

    /// <summary>
    /// Deletes the conversation of this connection's own session (no argument: the hub knows which one, and no caller
    /// can name another). Returns once every journal row and snapshot of it is gone, after every connection of the
    /// session has been sent <see cref="SessionDeletedDto"/>; refused with a message, and nothing deleted, otherwise.
    /// </summary>
    public async Task<SessionDeletedDto> DeleteSession()
    {
        if (lifecycle.Draining)
            throw new HubException("The server is restarting. Delete the conversation again in a few seconds.");
        if (Context.Items[SessionKey] is not string sessionId)
            throw new HubException("This connection has no session yet. Reconnect and try again.");
        if (journal.IsFailing(DateTimeOffset.UtcNow, SessionActor.JournalRetryAfter))
            throw new HubException(SessionActor.NotDeleted);

        DeleteSessionReply reply;
        try
        {
            reply = await sessions.ActorRef.Ask<DeleteSessionReply>(new DeleteSession(sessionId), DeleteTimeout);
        }
        catch (AskTimeoutException)
        {
            // The purge is one transaction, but whether it has committed by now is not known here.
            throw new HubException("The server did not finish deleting the conversation in time. Reload the page: if the conversation is still there, delete it again.");
        }
        if (reply.Error is not null)
            throw new HubException(reply.Error);
        return new SessionDeletedDto(sessionId);
    }
}
