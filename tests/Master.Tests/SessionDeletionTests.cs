using System.Collections.Immutable;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Serialization;
using AiSystem.Master.Dispatch;
using AiSystem.Master.Hubs;
using AiSystem.Master.Persistence;
using AiSystem.Master.Serialization;
using AiSystem.Master.Sessions;
using AiSystem.Master.Tests.Persistence;
using Microsoft.Extensions.Logging.Abstractions;

namespace AiSystem.Master.Tests;

/// <summary>
/// Deleting a session (<see cref="DeleteSession"/>), with the master's own journal on a SQLite file of the test's own
/// (the purge is our journal's), a probe as the dispatcher, one as this master's push actor and one as the shard.
/// </summary>
public sealed class SessionDeletionTests : Akka.TestKit.Xunit2.TestKit
{
    private const string SessionId = "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a0f";
    private const string PersistenceId = "session-" + SessionId;

    private readonly JournalConnection _journal;
    private readonly Akka.TestKit.TestProbe _dispatcher;
    private readonly Akka.TestKit.TestProbe _browser;
    private readonly Akka.TestKit.TestProbe _shard;
    private readonly string _node;
    private bool _journalFailing;

    public SessionDeletionTests() : this(new JournalConnection(JournalProvider.Sqlite,
        $"Data Source={Path.Combine(Directory.CreateTempSubdirectory("aisystem-session-deletion-").FullName, "journal.db")}"))
    {
    }

    private SessionDeletionTests(JournalConnection journal) : base(Setup(journal))
    {
        _journal = journal;
        _dispatcher = CreateTestProbe();
        _browser = CreateTestProbe();
        _shard = CreateTestProbe();
        _node = Akka.Cluster.Cluster.Get(Sys).SelfAddress.ToString();
    }

    /// <summary>The journal as the master configures it (WithAiPersistence and the "aisystem" serializer), without hosting.</summary>
    private static ActorSystemSetup Setup(JournalConnection journal) => ActorSystemSetup.Create(
        BootstrapSetup.Create().WithConfig(ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp.port = 0
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            """ + "\n" + SqlPersistenceSetup.Hocon)),
        new SqlPersistenceSetup(journal),
        SerializationSetup.Create(system => ImmutableHashSet.Create(SerializerDetails.Create("aisystem", new AiSerializer(system),
            ImmutableHashSet.Create(typeof(IJournalRecord), typeof(IClusterMessage))))));

    /// <summary>A session as the shard starts it: a child of the shard (here the probe), which it asks to passivate it.</summary>
    private IActorRef StartSession() => _shard.ChildActorOf(Props.Create(() => new SessionActor(SessionId, _dispatcher.Ref, _browser.Ref,
        new SessionSettings(new QueryValidator(100), TimeSpan.FromMinutes(5), 100, 50, () => _journalFailing), NullLogger.Instance)));

    private SessionStartedDto Attach(IActorRef session, string connection)
    {
        session.Tell(new AttachConnection(SessionId, true, connection, _node), TestActor);
        var started = ExpectMsg<SessionStartedDto>();
        Assert.Same(started, _browser.ExpectMsg<PushToBrowsers>().Event);
        return started;
    }

    /// <summary>Asks a question and has the dispatcher admit it; returns its task id once it is stored.</summary>
    private string Ask(IActorRef session, string query)
    {
        session.Tell(new SubmitQuestion(SessionId, null, query, "", "c1"), TestActor);
        var submit = _dispatcher.ExpectMsg<SubmitTask>();
        session.Tell(new TaskAdmitted(SessionId, submit.Task.TaskId, new TaskStatusView(TaskStatusView.Assigned, null, "w1", 1)), _dispatcher.Ref);
        Assert.Null(ExpectMsg<SubmitReply>().Error);
        _browser.ReceiveWhile<object>(TimeSpan.FromMilliseconds(200), m => m);
        return submit.Task.TaskId;
    }

    private void Answer(IActorRef session, string taskId)
    {
        session.Tell(new RecordOutcome(SessionId, new TaskOutcome(taskId, "the answer", null, true, "w1", "simulated", 7, 99)), _dispatcher.Ref);
        Assert.Equal(taskId, _dispatcher.ExpectMsg<OutcomeStored>().TaskId);
        _browser.ReceiveWhile<object>(TimeSpan.FromMilliseconds(200), m => m);
    }

    private static void Execute(System.Data.Common.DbConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private long Rows(string table) => Rows(table, PersistenceId);

    private long Rows(string table, string persistenceId)
    {
        using var db = _journal.Open();
        using var count = db.CreateCommand();
        count.CommandText = $"SELECT COUNT(*) FROM {table} WHERE persistence_id = '{persistenceId}'";
        return Convert.ToInt64(count.ExecuteScalar());
    }

    private void Stop(IActorRef session)
    {
        Watch(session);
        session.Tell(PoisonPill.Instance); // what the shard does on Passivate
        ExpectTerminated(session);
    }

    [Fact]
    public void Deleting_cancels_the_open_questions_purges_every_row_tells_every_page_and_hands_the_id_to_an_empty_session()
    {
        var session = StartSession();
        Attach(session, "c1");
        Attach(session, "c2");
        var answered = Ask(session, "first");
        Answer(session, answered);
        var open = Ask(session, "second");
        Assert.Equal(3, Rows("journal"));

        session.Tell(new DeleteSession(SessionId), TestActor);
        session.Tell(new DeleteSession(SessionId), TestActor); // the other tab, at the same time: the same deletion

        Assert.Equal(new CancelTask(open, SessionId), _dispatcher.ExpectMsg<CancelTask>()); // no answer comes for it
        var told = _browser.ExpectMsg<PushToBrowsers>();
        Assert.Equal(["c1", "c2"], told.ConnectionIds.Order());
        Assert.Equal(new SessionDeletedDto(SessionId), told.Event);
        Assert.Null(ExpectMsg<DeleteSessionReply>().Error);
        Assert.Null(ExpectMsg<DeleteSessionReply>().Error);
        _dispatcher.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // cancelled once
        _shard.ExpectMsg<Passivate>();
        Assert.Equal((0, 0, 0), (Rows("journal"), Rows("snapshot"), Rows("tags")));

        // Until the shard stops it, it answers as the empty session to come, and writes nothing: the open question's
        // outcome has nowhere to go, a page that connects finds nothing, a question is to be sent again.
        session.Tell(new RecordOutcome(SessionId, new TaskOutcome(open, "late", null, true, "w1", "simulated", 7, 99)), _dispatcher.Ref);
        Assert.Equal(open, _dispatcher.ExpectMsg<OutcomeStored>().TaskId);
        var early = Attach(session, "c0");
        Assert.False(early.Resumed);
        Assert.Empty(early.History);
        session.Tell(new SubmitQuestion(SessionId, null, "too soon", "", "c0"), TestActor);
        Assert.Equal(SessionActor.BeingDeleted, ExpectMsg<SubmitReply>().Error);
        _dispatcher.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal(0, Rows("journal"));
        Stop(session);

        // The next incarnation: nothing to resume, and its sequence numbers start over at 1.
        session = StartSession();
        var started = Attach(session, "c3");
        Assert.False(started.Resumed);
        Assert.Empty(started.History);
        Ask(session, "a new conversation");
        using var db = _journal.Open();
        using var first = db.CreateCommand();
        first.CommandText = $"SELECT MIN(sequence_number) || '..' || MAX(sequence_number) FROM journal WHERE persistence_id = '{PersistenceId}'";
        Assert.Equal("1..1", first.ExecuteScalar());
    }

    [Fact]
    public void A_question_being_written_when_the_deletion_starts_is_deleted_with_the_rest_and_refused_to_its_page()
    {
        var session = StartSession();
        Attach(session, "c1");
        Attach(session, "c2");
        Ask(session, "stored before");
        session.Tell(new SubmitQuestion(SessionId, null, "being written", "", "c1"), TestActor);
        var writing = _dispatcher.ExpectMsg<SubmitTask>().Task.TaskId;

        using (var other = _journal.Open())
        {
            // Another writer holds the SQLite write lock: the question's write waits for it.
            Execute(other, "BEGIN IMMEDIATE");
            session.Tell(new TaskAdmitted(SessionId, writing, new TaskStatusView(TaskStatusView.Assigned, null, "w1", 1)), _dispatcher.Ref);
            session.Tell(new DeleteSession(SessionId), TestActor);
            session.Tell(new SubmitQuestion(SessionId, null, "asked meanwhile", "", "c2"), TestActor);
            Assert.Equal(SessionActor.BeingDeleted, ExpectMsg<SubmitReply>().Error);
            // Its outcome, already: held, not written.
            session.Tell(new RecordOutcome(SessionId, new TaskOutcome(writing, "quick", null, true, "w1", "simulated", 7, 99)), _dispatcher.Ref);
            ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // no deletion while a write is under way
            _dispatcher.ExpectNoMsg(TimeSpan.Zero);
            Execute(other, "COMMIT");
        }

        // Its page hears nothing of it but that it was not kept; the other page never heard of it.
        Assert.Equal(SessionActor.DeletedBeforeAnswered, ExpectMsg<SubmitReply>().Error);
        var cancelled = _dispatcher.ReceiveN(3).ToList();
        Assert.Equal(2, cancelled.OfType<CancelTask>().Count());
        Assert.Contains(new CancelTask(writing, SessionId), cancelled);
        Assert.Contains(new OutcomeStored(writing), cancelled);
        Assert.Equal(new SessionDeletedDto(SessionId), _browser.ExpectMsg<PushToBrowsers>().Event);
        Assert.Null(ExpectMsg<DeleteSessionReply>().Error);
        Assert.Equal(0, Rows("journal"));
    }

    [Fact]
    public void While_the_journal_is_failing_a_deletion_is_refused_and_nothing_is_touched()
    {
        var session = StartSession();
        Attach(session, "c1");
        var open = Ask(session, "still open");
        _journalFailing = true;

        session.Tell(new DeleteSession(SessionId), TestActor);
        Assert.Equal(SessionActor.NotDeleted, ExpectMsg<DeleteSessionReply>().Error);
        _dispatcher.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        _browser.ExpectNoMsg(TimeSpan.Zero);
        _shard.ExpectNoMsg(TimeSpan.Zero);
        Assert.Equal(1, Rows("journal"));

        _journalFailing = false;
        Answer(session, open); // the session goes on as it was
        Assert.Equal(2, Rows("journal"));
    }

    [Fact]
    public void A_purge_that_fails_deletes_nothing_and_what_was_held_back_goes_on()
    {
        var session = StartSession();
        Attach(session, "c1");
        Attach(session, "c2");
        var open = Ask(session, "still open");
        session.Tell(new SubmitQuestion(SessionId, null, "being written", "", "c1"), TestActor);
        var writing = _dispatcher.ExpectMsg<SubmitTask>().Task.TaskId;
        using (var other = _journal.Open())
        {
            // The question's write waits for this transaction, which breaks the purge to come: its second
            // statement fails, after its first deleted the events.
            Execute(other, "BEGIN IMMEDIATE; DROP TABLE tags;");
            session.Tell(new TaskAdmitted(SessionId, writing, new TaskStatusView(TaskStatusView.Assigned, null, "w1", 1)), _dispatcher.Ref);
            session.Tell(new DeleteSession(SessionId), TestActor);
            ExpectNoMsg(TimeSpan.FromMilliseconds(300));
            Execute(other, "COMMIT");
        }

        // Nothing was deleted: the question held back is announced as if the deletion had never been asked for.
        var reply = ExpectMsg<SubmitReply>();
        Assert.Equal((writing, "assigned", "w1"), (reply.TaskId, reply.Status, reply.WorkerId));
        var accepted = _browser.ExpectMsg<PushToBrowsers>();
        Assert.Equal(["c2"], accepted.ConnectionIds);
        Assert.Equal(writing, Assert.IsType<TaskAcceptedDto>(accepted.Event).TaskId);
        Assert.IsType<TaskAssignedDto>(_browser.ExpectMsg<PushToBrowsers>().Event);
        Assert.Equal(SessionActor.NotDeleted, ExpectMsg<DeleteSessionReply>().Error);
        _shard.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        _dispatcher.ExpectNoMsg(TimeSpan.Zero);
        Assert.Equal(2, Rows("journal"));

        session.Tell(new RecordOutcome(SessionId, new TaskOutcome(open, "the answer", null, true, "w1", "simulated", 7, 99)), _dispatcher.Ref);
        Assert.IsType<AiResponseDto>(_browser.ExpectMsg<PushToBrowsers>().Event);
        Assert.Equal(open, _dispatcher.ExpectMsg<OutcomeStored>().TaskId);
        Assert.Equal(3, Rows("journal"));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing); // the actor system and with it the journal's writer
        if (disposing)
        {
            var file = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(_journal.ConnectionString).DataSource;
            SqliteFiles.Delete(Path.GetDirectoryName(file)!, _journal.ConnectionString);
        }
    }
}
