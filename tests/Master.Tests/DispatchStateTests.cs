using AiSystem.Master.Dispatch;
using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Tests;

public class DispatchStateTests
{
    private readonly DispatchState _state = new(maxQueuedTasks: 3, () => DateTimeOffset.UnixEpoch);
    private int _next;

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
}
