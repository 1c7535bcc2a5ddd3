using Akka.Actor;
using Akka.TestKit.Xunit2;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Hubs;
using AiSystem.Master.Sessions;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiSystem.Master.Tests;

/// <summary>The session actor with the in-memory journal, a probe as the dispatcher and a probe as this master's push actor.</summary>
public class SessionActorTests : TestKit
{
    private const string Config = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp.port = 0
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """;

    private const string SessionId = "3f2b8c1e-6d4a-4b7e-9a15-2c8d0e6f4a91";
    private readonly Akka.TestKit.TestProbe _dispatcher;
    private readonly Akka.TestKit.TestProbe _browser;
    private readonly string _node;

    public SessionActorTests() : base(Config)
    {
        _dispatcher = CreateTestProbe();
        _browser = CreateTestProbe();
        _node = Akka.Cluster.Cluster.Get(Sys).SelfAddress.ToString();
    }

    private IActorRef StartSession() => Sys.ActorOf(Props.Create(() => new SessionActor(SessionId, _dispatcher.Ref, _browser.Ref,
        new SessionSettings(new QueryValidator(100), TimeSpan.FromMinutes(5), 100, 50), NullLogger.Instance)));

    private SessionStartedDto Attach(IActorRef session, string connection = "c1")
    {
        session.Tell(new AttachConnection(SessionId, true, connection, _node), TestActor);
        var started = ExpectMsg<SessionStartedDto>();
        // The same goes to the browser, first in its connection's queue.
        var pushed = _browser.ExpectMsg<PushToBrowsers>();
        Assert.Equal([connection], pushed.ConnectionIds);
        Assert.Same(started, pushed.Event);
        return started;
    }

    private IBrowserEvent Pushed() => _browser.ExpectMsg<PushToBrowsers>().Event;

    private static TaskOutcome Answer(string taskId, string text = "the answer") => new(taskId, text, null, true, "w1", "simulated", 7, 99);

    [Fact]
    public void A_question_is_stored_once_the_dispatcher_has_it_and_the_browser_hears_of_it_only_then()
    {
        var session = StartSession();
        Attach(session);
        session.Tell(new SubmitQuestion(SessionId, "0b7e6f0e-8a2d-4d8e-9d41-0f3c9a1b2c3d", "What is MQTT?", " key "), TestActor);

        var submit = _dispatcher.ExpectMsg<SubmitTask>();
        Assert.Equal(("0b7e6f0e-8a2d-4d8e-9d41-0f3c9a1b2c3d", SessionId, "What is MQTT?", "key", false),
            (submit.Task.TaskId, submit.Task.SessionId, submit.Task.Query, submit.Task.ApiKey, submit.Resubmitted));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        _browser.ExpectNoMsg(TimeSpan.Zero);

        // Meanwhile a worker took it: held until the question is stored.
        session.Tell(new TaskStatusChanged(SessionId, submit.Task.TaskId, new TaskStatusView(TaskStatusView.Assigned, null, "w1", 1)));
        session.Tell(new TaskAdmitted(SessionId, submit.Task.TaskId, new TaskStatusView(TaskStatusView.Queued, 1, null, 0)), _dispatcher.Ref);

        var reply = ExpectMsg<SubmitReply>();
        Assert.Equal((submit.Task.TaskId, "queued", 1), (reply.TaskId, reply.Status, reply.Position));
        Assert.Equal(new TaskAcceptedDto(submit.Task.TaskId, "What is MQTT?", submit.Task.AskedAt), Pushed());
        Assert.IsType<TaskQueuedDto>(Pushed());
    }

    [Fact]
    public void The_asking_connection_learns_where_its_question_stands_from_the_reply_and_the_other_tabs_from_events()
    {
        var session = StartSession();
        Attach(session, "asker");
        Attach(session, "other-tab");
        session.Tell(new SubmitQuestion(SessionId, null, "Who has it?", "", ConnectionId: "asker"), TestActor);
        var submit = _dispatcher.ExpectMsg<SubmitTask>();
        session.Tell(new TaskAdmitted(SessionId, submit.Task.TaskId, new TaskStatusView(TaskStatusView.Assigned, null, "w7", 1)), _dispatcher.Ref);

        var reply = ExpectMsg<SubmitReply>();
        Assert.Equal(("assigned", "w7", 1), (reply.Status, reply.WorkerId, reply.Attempt));
        var accepted = _browser.ExpectMsg<PushToBrowsers>();
        Assert.Equal(["other-tab"], accepted.ConnectionIds);
        Assert.IsType<TaskAcceptedDto>(accepted.Event);
        var assigned = _browser.ExpectMsg<PushToBrowsers>();
        Assert.Equal(["other-tab"], assigned.ConnectionIds);
        Assert.IsType<TaskAssignedDto>(assigned.Event);

        // Later changes go to every connection.
        session.Tell(new TaskStatusChanged(SessionId, submit.Task.TaskId, new TaskStatusView(TaskStatusView.Assigned, null, "w8", 2)));
        Assert.Equal(2, _browser.ExpectMsg<PushToBrowsers>().ConnectionIds.Count);
    }

    [Fact]
    public void An_outcome_is_stored_then_pushed_then_confirmed_and_a_second_copy_changes_nothing()
    {
        var session = StartSession();
        Attach(session);
        var taskId = Ask(session);

        session.Tell(new RecordOutcome(SessionId, Answer(taskId)), _dispatcher.Ref);
        var response = Assert.IsType<AiResponseDto>(Pushed());
        Assert.Equal((taskId, "the question", "the answer", "w1"), (response.TaskId, response.Query, response.Response, response.WorkerId));
        Assert.Equal(new OutcomeStored(taskId), _dispatcher.ExpectMsg<OutcomeStored>());

        session.Tell(new RecordOutcome(SessionId, Answer(taskId, "another answer")), _dispatcher.Ref);
        Assert.Equal(new OutcomeStored(taskId), _dispatcher.ExpectMsg<OutcomeStored>());
        _browser.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal("the answer", Assert.Single(Attach(session, "c2").History).Response);
    }

    [Fact]
    public void An_outcome_for_a_question_never_stored_is_confirmed_and_dropped()
    {
        var session = StartSession();
        Attach(session);
        session.Tell(new RecordOutcome(SessionId, Answer("9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f")), _dispatcher.Ref);
        _dispatcher.ExpectMsg<OutcomeStored>();
        _browser.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Empty(Attach(session, "c2").History);
    }

    [Fact]
    public void A_question_the_dispatcher_refuses_is_never_stored()
    {
        var session = StartSession();
        session.Tell(new SubmitQuestion(SessionId, null, "too many", ""), TestActor);
        var submit = _dispatcher.ExpectMsg<SubmitTask>();
        session.Tell(new TaskRefused(SessionId, submit.Task.TaskId, "The queue is full."), _dispatcher.Ref);
        Assert.Equal("The queue is full.", ExpectMsg<SubmitReply>().Error);

        Restart(ref session);
        Assert.Empty(Attach(session).History);
    }

    [Fact]
    public void Sending_the_same_task_id_again_never_makes_a_second_question()
    {
        var session = StartSession();
        const string taskId = "0b7e6f0e-8a2d-4d8e-9d41-0f3c9a1b2c3d";
        session.Tell(new SubmitQuestion(SessionId, taskId, "once", ""), TestActor);
        session.Tell(new SubmitQuestion(SessionId, taskId, "once", ""), TestActor); // the page timed out and sent it again
        _dispatcher.ExpectMsg<SubmitTask>();
        _dispatcher.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        session.Tell(new TaskAdmitted(SessionId, taskId, new TaskStatusView(TaskStatusView.Assigned, null, "w1", 1)), _dispatcher.Ref);
        Assert.Equal(taskId, ExpectMsg<SubmitReply>().TaskId);
        Assert.Equal(taskId, ExpectMsg<SubmitReply>().TaskId);

        session.Tell(new SubmitQuestion(SessionId, taskId, "once", ""), TestActor); // and once more, after it was stored
        Assert.Equal("assigned", ExpectMsg<SubmitReply>().Status);
        _dispatcher.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Single(Attach(session).History);
    }

    [Fact]
    public void Bad_input_is_refused_with_what_was_wrong()
    {
        var session = StartSession();
        session.Tell(new SubmitQuestion(SessionId, "not-a-uuid", "hello", ""), TestActor);
        Assert.Contains("UUID", ExpectMsg<SubmitReply>().Error);
        session.Tell(new SubmitQuestion(SessionId, null, "   ", ""), TestActor);
        Assert.Contains("empty", ExpectMsg<SubmitReply>().Error);
        _dispatcher.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void After_a_restart_the_history_is_back_and_open_questions_are_sent_again_when_the_dispatcher_asks()
    {
        var session = StartSession();
        var answered = Ask(session, "first");
        var open = Ask(session, "second");
        session.Tell(new RecordOutcome(SessionId, Answer(answered)), _dispatcher.Ref);
        _dispatcher.ExpectMsg<OutcomeStored>();

        Restart(ref session);
        var history = Attach(session).History;
        Assert.Equal([("first", "the answer"), ("second", null)], history.Select(h => (h.Query, h.Response)));

        session.Tell(new ResubmitOpenTasks(SessionId));
        var again = _dispatcher.ExpectMsg<SubmitTask>();
        Assert.Equal((open, "second", "", true), (again.Task.TaskId, again.Task.Query, again.Task.ApiKey, again.Resubmitted));
        Assert.Equal([open], _dispatcher.ExpectMsg<OpenTasksListed>().TaskIds);
    }

    /// <summary>Asks a question and has the dispatcher admit it; returns its task id once it is stored.</summary>
    private string Ask(IActorRef session, string query = "the question")
    {
        session.Tell(new SubmitQuestion(SessionId, null, query, ""), TestActor);
        var submit = _dispatcher.ExpectMsg<SubmitTask>();
        session.Tell(new TaskAdmitted(SessionId, submit.Task.TaskId, new TaskStatusView(TaskStatusView.Assigned, null, "w1", 1)), _dispatcher.Ref);
        ExpectMsg<SubmitReply>();
        _browser.ReceiveWhile<object>(TimeSpan.FromMilliseconds(100), m => m);
        return submit.Task.TaskId;
    }

    private void Restart(ref IActorRef session)
    {
        Watch(session);
        Sys.Stop(session);
        ExpectTerminated(session);
        session = StartSession();
    }
}
