using AiSystem.Master.Dispatch;
using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Tests;

public class DispatchStateTests
{
    private DateTimeOffset _now = DateTimeOffset.UnixEpoch;
    private readonly DispatchState _state;
    private int _next;

    public DispatchStateTests() =>
        _state = new DispatchState(new DispatchPolicy(MaxQueuedTasks: 3, TaskTimeout: TimeSpan.FromSeconds(60), MaxAttempts: 3), () => _now);

    /// <summary>Moves the clock in tick-sized steps, ticking as the actor's timer would.</summary>
    private List<DispatchEffect> Advance(TimeSpan by)
    {
        var effects = new List<DispatchEffect>();
        var end = _now + by;
        while (_now < end)
        {
            _now += DispatchPolicy.TickInterval;
            effects.AddRange(_state.Tick());
        }
        return effects;
    }

    private void RegisterWithHeartbeat(string id, int capacity = 1) =>
        _state.Register(id, capacity, w => w.HeartbeatInterval = TimeSpan.FromSeconds(1));

    private DispatchTask NewTask(string session = "s1") => new($"t{++_next}", session, $"question {_next}", "", 1000 + _next);

    private static TaskResult ResultFor(DispatchTask task, string workerId, bool withTaskId = true) => new()
    {
        WorkerId = workerId, SessionId = task.SessionId, TaskId = withTaskId ? task.TaskId : "",
        QueryTimestamp = task.Timestamp, AiResponse = "answer", OriginalQuery = task.Query,
    };

    [Fact]
    public void A_task_goes_to_an_idle_worker_at_once()
    {
        _state.Register("w1", 1);
        var decision = _state.Submit(NewTask());
        Assert.Equal(SubmitStatus.Assigned, decision.Status);
        var assign = Assert.IsType<AssignEffect>(Assert.Single(decision.Effects));
        Assert.Equal("w1", assign.Task.WorkerId);
        Assert.Equal(1, assign.Task.Attempt);
    }

    [Fact]
    public void Without_a_free_worker_tasks_queue_with_their_positions()
    {
        var first = _state.Submit(NewTask());
        var second = _state.Submit(NewTask());
        Assert.Equal((SubmitStatus.Queued, 1), (first.Status, first.Position));
        Assert.Equal((SubmitStatus.Queued, 2), (second.Status, second.Position));
        Assert.Equal(2, _state.Queue.Count);
    }

    [Fact]
    public void The_worker_with_the_most_free_slots_gets_the_task()
    {
        _state.Register("small", 1);
        _state.Register("big", 3);
        var picks = Enumerable.Range(0, 4).Select(_ => ((AssignEffect)_state.Submit(NewTask()).Effects[0]).Task.WorkerId).ToList();
        // big 3 free, big 2 free, then a 1-1 tie goes to the one registered first (small), then big's last slot.
        Assert.Equal(["big", "big", "small", "big"], picks);
        Assert.Equal(SubmitStatus.Queued, _state.Submit(NewTask()).Status);
    }

    [Fact]
    public void A_registering_worker_drains_the_queue_and_the_rest_hear_new_positions()
    {
        var tasks = Enumerable.Range(0, 3).Select(_ => NewTask()).ToList();
        foreach (var t in tasks) _state.Submit(t);

        var effects = _state.Register("w1", 2);

        var assigned = effects.OfType<AssignEffect>().Select(e => e.Task.TaskId).ToList();
        Assert.Equal([tasks[0].TaskId, tasks[1].TaskId], assigned);
        var queued = Assert.Single(effects.OfType<QueuedEffect>());
        Assert.Equal((tasks[2].TaskId, 1), (queued.Task.TaskId, queued.Position));
    }

    [Fact]
    public void A_full_queue_refuses_with_a_message()
    {
        for (var i = 0; i < 3; i++) _state.Submit(NewTask());
        var refused = _state.Submit(NewTask());
        Assert.Equal(SubmitStatus.Rejected, refused.Status);
        Assert.Contains("queue is full", refused.Error);
        Assert.Empty(refused.Effects);
        Assert.Equal(3, _state.Queue.Count);
    }

    [Fact]
    public void A_result_frees_the_slot_and_the_next_queued_task_is_assigned()
    {
        _state.Register("w1", 1);
        var first = NewTask();
        var second = NewTask();
        _state.Submit(first);
        _state.Submit(second);

        var decision = _state.Complete(ResultFor(first, "w1"));

        Assert.Equal(ResultStatus.Accepted, decision.Status);
        Assert.Equal(first.TaskId, Assert.IsType<CompletedEffect>(decision.Effects[0]).Task.TaskId);
        Assert.Equal(second.TaskId, Assert.IsType<AssignEffect>(decision.Effects[1]).Task.TaskId);
        Assert.Equal(1, _state.Workers.Find("w1")!.Completed);
    }

    [Fact]
    public void An_old_worker_result_without_task_id_matches_by_session_and_timestamp()
    {
        _state.Register("py", null);
        var task = NewTask();
        _state.Submit(task);
        Assert.Equal(ResultStatus.Accepted, _state.Complete(ResultFor(task, "py", withTaskId: false)).Status);
    }

    [Fact]
    public void Results_from_the_wrong_worker_or_for_unknown_tasks_are_refused_and_change_nothing()
    {
        _state.Register("w1", 1);
        _state.Register("w2", 1);
        var task = NewTask();
        _state.Submit(task); // to w1

        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(task, "w2")).Status);
        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(NewTask(), "w1")).Status);
        Assert.Single(_state.InFlight);
        Assert.Equal(0, _state.Workers.Find("w1")!.FreeSlots);
    }

    [Fact]
    public void A_second_result_for_a_finished_task_is_a_duplicate()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        _state.Submit(task);
        _state.Complete(ResultFor(task, "w1"));
        var again = _state.Complete(ResultFor(task, "w1"));
        Assert.Equal(ResultStatus.Duplicate, again.Status);
        Assert.Empty(again.Effects);
    }

    [Fact]
    public void An_offline_worker_gives_its_tasks_back_to_the_head_of_the_queue()
    {
        _state.Register("w1", 2);
        var a = NewTask();
        var b = NewTask();
        var c = NewTask();
        _state.Submit(a);
        _state.Submit(b);
        _state.Submit(c); // queued

        var effects = _state.RemoveWorker("w1");

        Assert.Empty(effects.OfType<AssignEffect>());
        Assert.Equal([a.TaskId, b.TaskId, c.TaskId], _state.Queue.All.Select(t => t.TaskId));
        var reassigned = _state.Register("w2", 1).OfType<AssignEffect>().Single().Task;
        Assert.Equal((a.TaskId, 2), (reassigned.TaskId, reassigned.Attempt));
    }

    [Theory]
    [InlineData(-5, 1)]
    [InlineData(0, 1)]
    [InlineData(1_000_000, WorkerRegistry.MaxCapacity)]
    public void Absurd_capacities_are_clamped(int announced, int expected)
    {
        _state.Register("w", announced);
        Assert.Equal(expected, _state.Workers.Find("w")!.Capacity);
    }

    [Fact]
    public void A_silent_worker_is_gone_after_three_missed_heartbeats_and_its_task_goes_to_another()
    {
        RegisterWithHeartbeat("w1");
        var task = NewTask();
        _state.Submit(task);
        RegisterWithHeartbeat("w2");

        Assert.DoesNotContain(Advance(TimeSpan.FromSeconds(2.5)).OfType<WorkerLostEffect>(), e => e.WorkerId == "w1");
        _state.Touch("w2", "idle"); // w2 keeps talking

        var effects = Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("w1", Assert.Single(effects.OfType<WorkerLostEffect>()).WorkerId);
        var again = Assert.Single(effects.OfType<AssignEffect>()).Task;
        Assert.Equal((task.TaskId, "w2", 2), (again.TaskId, again.WorkerId, again.Attempt));
    }

    [Fact]
    public void Old_workers_without_a_heartbeat_interval_are_never_judged_by_silence()
    {
        _state.Register("python-1", null);
        _state.Submit(NewTask());
        Assert.Empty(Advance(TimeSpan.FromSeconds(30)).OfType<WorkerLostEffect>());
        Assert.NotNull(_state.Workers.Find("python-1"));
    }

    [Fact]
    public void A_task_past_its_deadline_goes_to_another_worker_and_fails_after_max_attempts()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        var first = ((AssignEffect)_state.Submit(task).Effects[0]).Task;
        Assert.Equal(_now + TimeSpan.FromSeconds(60), first.Deadline);
        _state.Register("w2", 1);
        _state.Register("w3", 1);

        var second = Advance(TimeSpan.FromSeconds(60)).OfType<AssignEffect>().Single().Task;
        Assert.Equal(2, second.Attempt);
        Assert.NotEqual("w1", second.WorkerId);
        var third = Advance(TimeSpan.FromSeconds(60)).OfType<AssignEffect>().Single().Task;
        Assert.Equal(3, third.Attempt);

        var failed = Advance(TimeSpan.FromSeconds(60)).OfType<FailedEffect>().Single();
        Assert.Equal(task.TaskId, failed.Task.TaskId);
        Assert.Contains("3 attempt", failed.Error);
        Assert.Empty(_state.InFlight);
        // A late answer from the last worker changes nothing: the user already has the failure.
        var late = _state.Complete(new TaskResult { WorkerId = third.WorkerId, TaskId = task.TaskId, AiResponse = "late" });
        Assert.Equal(ResultStatus.Duplicate, late.Status);
    }

    [Fact]
    public void The_first_worker_of_a_redispatched_task_is_refused_and_after_the_answer_it_is_a_duplicate()
    {
        RegisterWithHeartbeat("w1");
        var task = NewTask();
        _state.Submit(task);
        _state.Register("w2", 1); // an old worker: no heartbeats to miss
        Advance(TimeSpan.FromSeconds(3.5)); // w1 silent: the task moves to w2
        Assert.Equal("w2", Assert.Single(_state.InFlight).WorkerId);

        Assert.Equal(ResultStatus.Refused, _state.Complete(new TaskResult { WorkerId = "w1", TaskId = task.TaskId }).Status);
        Assert.Equal(ResultStatus.Accepted, _state.Complete(new TaskResult { WorkerId = "w2", TaskId = task.TaskId }).Status);
        Assert.Equal(ResultStatus.Duplicate, _state.Complete(new TaskResult { WorkerId = "w1", TaskId = task.TaskId }).Status);
    }

    [Fact]
    public void A_frozen_worker_that_speaks_again_is_taken_back_but_one_that_said_goodbye_is_not()
    {
        RegisterWithHeartbeat("frozen");
        _state.Register("leaver", 1);
        Advance(TimeSpan.FromSeconds(4));
        _state.RemoveWorker("leaver");
        Assert.Equal(0, _state.Workers.Count);

        _state.Touch("frozen", "idle", 1);
        _state.Touch("leaver", "idle", 1);

        Assert.Equal(TimeSpan.FromSeconds(1), _state.Workers.Find("frozen")!.HeartbeatInterval);
        Assert.Null(_state.Workers.Find("leaver"));
        _state.Register("leaver", 1); // a proper registration always counts
        Assert.NotNull(_state.Workers.Find("leaver"));
    }

    [Fact]
    public void A_worker_a_restarted_master_never_saw_register_is_learned_from_its_heartbeat()
    {
        _state.Touch("survivor", "idle", capacity: 4, heartbeatInterval: TimeSpan.FromSeconds(2));
        var w = _state.Workers.Find("survivor")!;
        Assert.Equal((4, TimeSpan.FromSeconds(2)), (w.Capacity, w.HeartbeatInterval));
        Assert.Empty(_state.Touch("stranger", "offline", 1));
        Assert.Null(_state.Workers.Find("stranger"));
    }

    [Fact]
    public void While_the_broker_is_down_nothing_is_assigned_and_nobody_is_judged_by_silence()
    {
        RegisterWithHeartbeat("w1");
        _state.SetBrokerConnected(false);

        var decision = _state.Submit(NewTask());
        Assert.Equal(SubmitStatus.Queued, decision.Status);
        Assert.Empty(Advance(TimeSpan.FromSeconds(10)).OfType<WorkerLostEffect>());

        var effects = _state.SetBrokerConnected(true);
        Assert.Single(effects.OfType<AssignEffect>());
        Assert.Empty(Advance(TimeSpan.FromSeconds(2)).OfType<WorkerLostEffect>()); // a fresh grace period
    }

    [Fact]
    public void A_task_that_could_not_be_published_goes_back_unchanged()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        var assigned = ((AssignEffect)_state.Submit(task).Effects[0]).Task;

        _state.PublishFailed(task.TaskId, assigned.Attempt);

        Assert.Empty(_state.InFlight);
        Assert.Equal(0, Assert.Single(_state.Queue.All).Attempt);
        var retried = Advance(DispatchPolicy.TickInterval).OfType<AssignEffect>().Single().Task;
        Assert.Equal((task.TaskId, 1), (retried.TaskId, retried.Attempt));
    }

    [Fact]
    public void When_the_master_itself_stood_still_nobody_is_blamed_for_its_silence()
    {
        RegisterWithHeartbeat("w1");
        var task = NewTask();
        _state.Submit(task);
        _state.Tick();

        _now += TimeSpan.FromSeconds(70); // frozen: no ticks, past both the heartbeat limit and the deadline
        var effects = _state.Tick();

        Assert.Empty(effects);
        Assert.Equal("w1", Assert.Single(_state.InFlight).WorkerId);
    }

    [Fact]
    public void When_the_cluster_removes_a_node_its_worker_is_gone_at_once_and_its_task_moves()
    {
        _state.Register("w1", 1, w => w.ClusterAddress = "akka.tcp://ai-system@host-1:4100");
        var task = NewTask();
        _state.Submit(task);
        _state.Register("w2", 1, w => w.ClusterAddress = "akka.tcp://ai-system@host-2:4100");

        var effects = _state.RemoveWorkersAt("akka.tcp://ai-system@host-1:4100");

        Assert.Equal("w1", Assert.Single(effects.OfType<WorkerLostEffect>()).WorkerId);
        Assert.Single(effects.OfType<RedispatchEffect>());
        Assert.Equal((task.TaskId, "w2", 2), effects.OfType<AssignEffect>().Select(e => (e.Task.TaskId, e.Task.WorkerId!, e.Task.Attempt)).Single());
        Assert.Empty(_state.RemoveWorkersAt("akka.tcp://ai-system@nowhere:1"));
    }
}
