using AiSystem.Master.Dispatch;
using AiSystem.Master.Sessions;

namespace AiSystem.Master.Tests;

public class DispatchStateTests
{
    private DateTimeOffset _now = DateTimeOffset.UnixEpoch;
    private readonly DispatchState _state;
    private int _next;

    public DispatchStateTests() =>
        _state = new DispatchState(new DispatchPolicy(MaxQueuedTasks: 3, TaskTimeout: TimeSpan.FromSeconds(60), MaxAttempts: 3), () => _now, TestKeys.Shared);

    /// <summary>Moves the clock in tick-sized steps, ticking as the actor's timer would.</summary>
    private List<DispatchEvent> Advance(TimeSpan by)
    {
        var events = new List<DispatchEvent>();
        var end = _now + by;
        while (_now < end)
        {
            _now += DispatchPolicy.TickInterval;
            events.AddRange(_state.Tick());
        }
        return events;
    }

    private void RegisterWithHeartbeat(string id, int capacity = 1) =>
        _state.Register(id, capacity, new WorkerDescription(HeartbeatInterval: TimeSpan.FromSeconds(1)));

    private TaskRequest NewTask(string session = "s1") => new($"t{++_next}", session, $"question {_next}", "", 1000 + _next);

    private Admission Submit(TaskRequest task) => _state.Submit(task, resubmitted: false);

    private static WorkerResult ResultFor(TaskRequest task, string workerId, bool withTaskId = true, string answer = "answer") =>
        new(workerId, withTaskId ? task.TaskId : "", TestKeys.Alias(task.TaskId, workerId), task.AskedAt, answer, "", false, "simulated", 5, 0);

    private static IEnumerable<TaskAssigned> Assigned(IEnumerable<DispatchEvent> events) => events.OfType<TaskAssigned>();

    /// <summary>A task answered and stored by its session: finished.</summary>
    private void Finish(TaskRequest task, string workerId)
    {
        Assert.Equal(ResultStatus.Accepted, _state.Complete(ResultFor(task, workerId)).Status);
        _state.OutcomeStored(task.TaskId);
    }

    [Fact]
    public void A_task_goes_to_an_idle_worker_at_once()
    {
        _state.Register("w1", 1);
        var admission = Submit(NewTask());
        Assert.Equal(AdmissionStatus.Admitted, admission.Status);
        Assert.Equal(("assigned", "w1", 1), (admission.Task!.Status, admission.Task.WorkerId, admission.Task.Attempt));
        var assigned = Assert.Single(Assigned(admission.Events));
        Assert.Equal(("w1", 1, _now + TimeSpan.FromSeconds(60)), (assigned.WorkerId, assigned.Attempt, assigned.Deadline));
    }

    [Fact]
    public void Without_a_free_worker_tasks_queue_with_their_positions()
    {
        var first = Submit(NewTask());
        var second = Submit(NewTask());
        Assert.Equal(("queued", 1), (first.Task!.Status, first.Task.Position));
        Assert.Equal(("queued", 2), (second.Task!.Status, second.Task.Position));
        Assert.Equal(2, _state.Queue.Count);
        Assert.Empty(_state.ChangedPositions()); // both were told their positions with the admission
    }

    [Fact]
    public void Submitting_is_idempotent_by_task_id()
    {
        var task = NewTask();
        Submit(task);
        var again = Submit(task);
        Assert.Equal(("queued", 1), (again.Task!.Status, again.Task.Position));
        Assert.Empty(again.Events);
        Assert.Equal(1, _state.Queue.Count);
        var stolen = Submit(task with { SessionId = "another-session" });
        Assert.Equal(AdmissionStatus.Refused, stolen.Status);
    }

    [Fact]
    public void The_worker_with_the_most_free_slots_gets_the_task()
    {
        _state.Register("small", 1);
        _state.Register("big", 3);
        var picks = Enumerable.Range(0, 4).Select(_ => Submit(NewTask()).Task!.WorkerId).ToList();
        // big 3 free, big 2 free, then a 1-1 tie goes to the one registered first (small), then big's last slot.
        Assert.Equal(["big", "big", "small", "big"], picks);
        Assert.Equal("queued", Submit(NewTask()).Task!.Status);
    }

    [Fact]
    public void A_draining_worker_keeps_its_task_gets_nothing_new_and_registering_again_opens_it()
    {
        _state.Register("leaving", 2);
        _state.Register("staying", 1);
        var first = NewTask();
        Assert.Equal("leaving", Submit(first).Task!.WorkerId);

        _state.Touch("leaving", "busy", draining: true);
        var next = Submit(NewTask());
        Assert.Equal("staying", next.Task!.WorkerId);
        Assert.Equal("queued", Submit(NewTask()).Task!.Status); // the leaving worker's free slot is not offered
        _state.Touch("leaving", "busy"); // a heartbeat or status without the flag does not open it again
        Assert.Equal(0, _state.Workers.Find("leaving")!.FreeSlots);
        Finish(first, "leaving"); // its own task is still accepted

        var events = _state.Register("leaving", 2); // restarted
        Assert.Single(Assigned(events));
    }

    [Fact]
    public void A_registering_worker_drains_the_queue_and_the_rest_hear_their_new_positions()
    {
        var tasks = Enumerable.Range(0, 3).Select(_ => NewTask()).ToList();
        foreach (var t in tasks) Submit(t);

        var events = _state.Register("w1", 2);

        Assert.Equal([tasks[0].TaskId, tasks[1].TaskId], Assigned(events).Select(e => e.TaskId));
        var moved = Assert.Single(_state.ChangedPositions());
        Assert.Equal((tasks[2].TaskId, 1), (moved.Task.TaskId, moved.Position));
        Assert.Empty(_state.ChangedPositions()); // reported once
    }

    [Fact]
    public void A_full_queue_refuses_new_questions_with_a_message_but_never_a_resubmitted_one()
    {
        for (var i = 0; i < 3; i++) Submit(NewTask());
        var refused = Submit(NewTask());
        Assert.Equal(AdmissionStatus.Refused, refused.Status);
        Assert.Contains("queue is full", refused.Error);
        Assert.Empty(refused.Events);
        Assert.Equal(3, _state.Queue.Count);

        Assert.Equal(AdmissionStatus.Admitted, _state.Submit(NewTask(), resubmitted: true).Status);
    }

    [Fact]
    public void A_result_frees_the_slot_at_once_and_the_next_queued_task_is_assigned_in_the_same_decision()
    {
        _state.Register("w1", 1);
        var first = NewTask();
        var second = NewTask();
        Submit(first);
        Submit(second);

        var decision = _state.Complete(ResultFor(first, "w1"));

        Assert.Equal(ResultStatus.Accepted, decision.Status);
        var completed = Assert.IsType<TaskCompleted>(decision.Events[0]);
        Assert.Equal((first.TaskId, "answer", "w1"), (completed.TaskId, completed.Outcome.Answer, completed.Outcome.WorkerId));
        Assert.Equal(second.TaskId, Assert.Single(Assigned(decision.Events)).TaskId);
        Assert.Equal(1, _state.Workers.Find("w1")!.Completed);
        // The outcome waits for its session; nothing about the slot does.
        Assert.Equal(TaskPhase.Completing, _state.Find(first.TaskId)!.Phase);
    }

    [Fact]
    public void An_outcome_waits_for_its_session_is_sent_again_until_stored_and_then_it_is_finished()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        Submit(task);
        _state.Complete(ResultFor(task, "w1"));

        Assert.Equal(ResultStatus.AwaitingStorage, _state.Complete(ResultFor(task, "w1")).Status);
        var resent = Advance(DispatchPolicy.OutcomeResendAfter).OfType<OutcomeSent>().ToList();
        Assert.Equal(task.TaskId, Assert.Single(resent).TaskId);

        Assert.IsType<TaskFinished>(Assert.Single(_state.OutcomeStored(task.TaskId)));
        Assert.Null(_state.Find(task.TaskId));
        Assert.Equal(ResultStatus.Duplicate, _state.Complete(ResultFor(task, "w1")).Status);
        Assert.Equal(AdmissionStatus.AlreadyFinished, Submit(task).Status);
        Assert.Empty(Advance(TimeSpan.FromSeconds(10)).OfType<OutcomeSent>());
    }

    [Fact]
    public void Finished_tasks_are_forgotten_after_every_retry_window_has_closed()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        Submit(task);
        Finish(task, "w1");
        _now += _state.Policy.FinishedMemory - TimeSpan.FromSeconds(1);
        _state.Tick();
        Assert.Equal(ResultStatus.Duplicate, _state.Complete(ResultFor(task, "w1")).Status);
        _now += TimeSpan.FromSeconds(2);
        _state.Tick();
        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(task, "w1")).Status);
    }

    [Fact]
    public void An_old_worker_result_without_task_id_matches_by_session_and_timestamp()
    {
        _state.Register("py", null);
        var task = NewTask();
        Submit(task);
        Assert.Equal(ResultStatus.Accepted, _state.Complete(ResultFor(task, "py", withTaskId: false)).Status);
    }

    [Fact]
    public void Results_from_the_wrong_worker_or_for_unknown_tasks_are_refused_and_change_nothing()
    {
        _state.Register("w1", 1);
        _state.Register("w2", 1);
        var task = NewTask();
        Submit(task); // to w1

        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(task, "w2")).Status);
        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(NewTask(), "w1")).Status);
        Assert.Equal(1, _state.InFlightCount);
        Assert.Equal(0, _state.Workers.Find("w1")!.FreeSlots);
    }

    [Fact]
    public void An_offline_worker_gives_its_tasks_back_to_the_head_of_the_queue()
    {
        _state.Register("w1", 2);
        var a = NewTask();
        var b = NewTask();
        var c = NewTask();
        Submit(a);
        Submit(b);
        Submit(c); // queued

        var events = _state.RemoveWorker("w1");

        Assert.Empty(Assigned(events));
        Assert.Equal(2, Assert.Single(events.OfType<WorkerLost>()).TasksReturned);
        Assert.Equal([a.TaskId, b.TaskId, c.TaskId], _state.Queue.All.Select(t => t.TaskId));
        var reassigned = Assert.Single(Assigned(_state.Register("w2", 1)));
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
        Submit(task);
        RegisterWithHeartbeat("w2");

        Assert.DoesNotContain(Advance(TimeSpan.FromSeconds(2.5)).OfType<WorkerLost>(), e => e.WorkerId == "w1");
        _state.Touch("w2", "idle"); // w2 keeps talking

        var events = Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("w1", Assert.Single(events.OfType<WorkerLost>()).WorkerId);
        var again = Assert.Single(Assigned(events));
        Assert.Equal((task.TaskId, "w2", 2), (again.TaskId, again.WorkerId, again.Attempt));
    }

    [Fact]
    public void Old_workers_without_a_heartbeat_interval_are_never_judged_by_silence()
    {
        _state.Register("python-1", null);
        Submit(NewTask());
        Assert.Empty(Advance(TimeSpan.FromSeconds(30)).OfType<WorkerLost>());
        Assert.NotNull(_state.Workers.Find("python-1"));
    }

    [Fact]
    public void A_task_past_its_deadline_goes_to_another_worker_and_fails_after_max_attempts()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        Submit(task);
        _state.Register("w2", 1);
        _state.Register("w3", 1);

        var second = Assert.Single(Assigned(Advance(TimeSpan.FromSeconds(60))));
        Assert.Equal(2, second.Attempt);
        Assert.NotEqual("w1", second.WorkerId);
        var third = Assert.Single(Assigned(Advance(TimeSpan.FromSeconds(60))));
        Assert.Equal(3, third.Attempt);

        var failed = Assert.Single(Advance(TimeSpan.FromSeconds(60)).OfType<TaskGaveUp>());
        Assert.Equal(task.TaskId, failed.TaskId);
        Assert.Contains("3 attempt", failed.Outcome.Error);
        Assert.True(failed.Outcome.Retryable);
        Assert.Equal(0, _state.InFlightCount);
        // A late answer from the last worker changes nothing: the failure is the outcome.
        var late = _state.Complete(new WorkerResult(third.WorkerId, task.TaskId, TestKeys.Alias(task.TaskId, third.WorkerId!), 0, "late", "", false, "", 0, 0));
        Assert.Equal(ResultStatus.AwaitingStorage, late.Status);
        Assert.Empty(late.Events);
    }

    [Fact]
    public void The_first_worker_of_a_redispatched_task_is_refused_and_after_the_answer_it_is_a_duplicate()
    {
        RegisterWithHeartbeat("w1");
        var task = NewTask();
        Submit(task);
        _state.Register("w2", 1); // an old worker: no heartbeats to miss
        Advance(TimeSpan.FromSeconds(3.5)); // w1 silent: the task moves to w2
        Assert.Equal("w2", _state.Find(task.TaskId)!.WorkerId);

        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(task, "w1")).Status);
        Finish(task, "w2");
        Assert.Equal(ResultStatus.Duplicate, _state.Complete(ResultFor(task, "w1")).Status);
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

        Assert.Equal(TimeSpan.FromSeconds(1), _state.Workers.Find("frozen")!.Description.HeartbeatInterval);
        Assert.Null(_state.Workers.Find("leaver"));
        _state.Register("leaver", 1); // a proper registration always counts
        Assert.NotNull(_state.Workers.Find("leaver"));
    }

    [Fact]
    public void A_worker_a_restarted_master_never_saw_register_is_learned_from_its_heartbeat()
    {
        _state.Touch("survivor", "idle", capacity: 4, heartbeatInterval: TimeSpan.FromSeconds(2));
        var w = _state.Workers.Find("survivor")!;
        Assert.Equal((4, TimeSpan.FromSeconds(2)), (w.Capacity, w.Description.HeartbeatInterval));
        Assert.Empty(_state.Touch("stranger", "offline", 1));
        Assert.Null(_state.Workers.Find("stranger"));
    }

    [Fact]
    public void While_the_broker_is_down_nothing_is_assigned_and_nobody_is_judged_by_silence()
    {
        RegisterWithHeartbeat("w1");
        _state.SetBrokerConnected(false);

        Assert.Equal("queued", Submit(NewTask()).Task!.Status);
        Assert.Empty(Advance(TimeSpan.FromSeconds(10)).OfType<WorkerLost>());

        Assert.Single(Assigned(_state.SetBrokerConnected(true)));
        Assert.Empty(Advance(TimeSpan.FromSeconds(2)).OfType<WorkerLost>()); // a fresh grace period
    }

    [Fact]
    public void A_task_that_could_not_be_published_goes_back_unchanged()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        var assigned = Assert.Single(Assigned(Submit(task).Events));

        _state.PublishFailed(task.TaskId, assigned.Attempt);

        Assert.Equal(0, _state.InFlightCount);
        Assert.Equal(0, Assert.Single(_state.Queue.All).Attempt);
        var retried = Assert.Single(Assigned(Advance(DispatchPolicy.TickInterval)));
        Assert.Equal((task.TaskId, 1), (retried.TaskId, retried.Attempt));
    }

    [Fact]
    public void When_the_master_itself_stood_still_nobody_is_blamed_for_its_silence()
    {
        RegisterWithHeartbeat("w1");
        var task = NewTask();
        Submit(task);
        _state.Tick();

        _now += TimeSpan.FromSeconds(70); // frozen: no ticks, past both the heartbeat limit and the deadline
        var events = _state.Tick();

        Assert.IsType<DispatcherPaused>(Assert.Single(events));
        Assert.Equal("w1", _state.Find(task.TaskId)!.WorkerId);
    }

    [Fact]
    public void When_the_cluster_removes_a_node_its_worker_is_gone_at_once_and_its_task_moves()
    {
        _state.Register("w1", 1, new WorkerDescription(ClusterAddress: "akka.tcp://ai-system@host-1:4100"));
        var task = NewTask();
        Submit(task);
        _state.Register("w2", 1, new WorkerDescription(ClusterAddress: "akka.tcp://ai-system@host-2:4100"));

        var events = _state.RemoveWorkersAt("akka.tcp://ai-system@host-1:4100");

        Assert.Equal("w1", Assert.Single(events.OfType<WorkerLost>()).WorkerId);
        Assert.Single(events.OfType<TaskReturned>());
        Assert.Equal((task.TaskId, "w2", 2), Assigned(events).Select(e => (e.TaskId, e.WorkerId, e.Attempt)).Single());
        Assert.Empty(_state.RemoveWorkersAt("akka.tcp://ai-system@nowhere:1"));
    }

    [Fact]
    public void A_cancelled_task_leaves_the_queue_or_its_worker_slot()
    {
        _state.Register("w1", 1);
        var running = NewTask();
        var waiting = NewTask();
        Submit(running);
        Submit(waiting);

        _state.Cancel(waiting.TaskId, "s1");
        Assert.Equal(0, _state.Queue.Count);
        Assert.Empty(_state.Cancel(running.TaskId, "not-its-session"));
        _state.Cancel(running.TaskId, "s1");
        Assert.Equal(1, _state.Workers.Find("w1")!.FreeSlots);
        Assert.Equal(0, _state.OpenCount);
        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(running, "w1")).Status);
    }

    [Fact]
    public void Streamed_text_is_taken_only_from_the_worker_and_attempt_holding_the_task()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        Submit(task);
        Assert.NotNull(_state.StreamingTask(task.TaskId, "w1", 1, TestKeys.Alias(task.TaskId, "w1")));
        Assert.NotNull(_state.StreamingTask(task.TaskId, "w1", 0, TestKeys.Alias(task.TaskId, "w1")));
        Assert.Null(_state.StreamingTask(task.TaskId, "w1", 2, TestKeys.Alias(task.TaskId, "w1")));
        Assert.Null(_state.StreamingTask(task.TaskId, "intruder", 1, TestKeys.Alias(task.TaskId, "intruder")));
    }

    [Fact]
    public void Far_back_in_a_long_queue_small_moves_are_not_reported()
    {
        var state = new DispatchState(new DispatchPolicy(1000, TimeSpan.FromSeconds(60), 3), () => _now, TestKeys.Shared);
        var tasks = Enumerable.Range(0, 300).Select(_ => NewTask()).ToList();
        foreach (var t in tasks) state.Submit(t, false);
        state.Register("w1", 5); // five leave the head: everyone moves up by five

        var changed = state.ChangedPositions().ToDictionary(c => c.Task.TaskId, c => c.Position);
        Assert.Equal(1, changed[tasks[5].TaskId]);
        Assert.Equal(96, changed[tasks[100].TaskId]);          // up to position 100 every move counts
        Assert.False(changed.ContainsKey(tasks[250].TaskId));  // 251 → 246: not worth a message
    }

    // ------------------------------------------------------------------ snapshot and recovery

    private DispatchState Restarted(DispatcherSnapshot snapshot)
    {
        var state = new DispatchState(new DispatchPolicy(3, TimeSpan.FromSeconds(60), 3), () => _now, TestKeys.Shared);
        state.Restore(snapshot);
        return state;
    }

    /// <summary>A dispatcher that has just taken over, from a snapshot older than the tasks asked last: its grace is on.</summary>
    private DispatchState TakenOver()
    {
        var state = Restarted(new DispatcherSnapshot(0, []));
        state.Register("w2", 1);
        return state;
    }

    [Fact]
    public void After_a_takeover_a_result_before_its_question_is_kept_and_becomes_the_outcome_when_the_question_comes_back()
    {
        var task = NewTask();
        var state = TakenOver();

        // The worker that ran it on the dead master's watch sends its result here before the session resends the question.
        var decision = state.Complete(ResultFor(task, "w1", answer: "the first and only answer"));
        Assert.Equal(ResultStatus.Kept, decision.Status);
        Assert.Equal(ResultStatus.Kept, state.Complete(ResultFor(task, "w1")).Status); // a retry of it: kept once

        var admission = state.Submit(task, resubmitted: true);
        Assert.Equal(AdmissionStatus.Admitted, admission.Status);
        var completed = Assert.Single(admission.Events.OfType<TaskCompleted>());
        Assert.Equal(("the first and only answer", "w1"), (completed.Outcome.Answer, completed.Outcome.WorkerId));
        Assert.Empty(Assigned(admission.Events)); // not run again, although w2 is free
        Assert.Empty(Assigned(Advance(TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public void A_takeover_before_the_first_snapshot_holds_the_questions_sent_again_for_the_workers_still_running_them()
    {
        // The old dispatcher died before it saved anything: recovery completes without a snapshot.
        var state = new DispatchState(new DispatchPolicy(3, TimeSpan.FromSeconds(60), 3), () => _now, TestKeys.Shared);
        state.BeginRecoveryGrace();
        state.Register("w2", 1);
        var claimed = NewTask();
        var early = NewTask();

        // The result of one comes before its question; the other's question comes back while w1 still runs it.
        Assert.Equal(ResultStatus.Kept, state.Complete(ResultFor(early, "w1")).Status);
        Assert.Empty(Assigned(state.Submit(claimed, resubmitted: true).Events)); // held, although w2 is free
        Assert.Single(state.Submit(early, resubmitted: true).Events.OfType<TaskCompleted>());
        state.Touch("w1", "busy", capacity: 1, runningTaskIds: [claimed.TaskId]);
        Assert.Equal(ResultStatus.Accepted, state.Complete(ResultFor(claimed, "w1")).Status);
        var later = new List<DispatchEvent>();
        for (var t = TimeSpan.Zero; t < TimeSpan.FromSeconds(20); t += DispatchPolicy.TickInterval)
        {
            _now += DispatchPolicy.TickInterval;
            later.AddRange(state.Tick());
        }
        Assert.Empty(Assigned(later)); // neither runs again

        // A second call does not extend the grace: an unknown result is refused once it is over.
        state.BeginRecoveryGrace();
        Assert.Equal(ResultStatus.Refused, state.Complete(ResultFor(NewTask(), "w1")).Status);
    }

    [Fact]
    public void A_kept_result_whose_question_never_comes_back_is_dropped_when_the_grace_ends()
    {
        var state = TakenOver();
        var task = NewTask();
        Assert.Equal(ResultStatus.Kept, state.Complete(ResultFor(task, "w1")).Status);

        var events = new List<DispatchEvent>();
        for (var t = TimeSpan.Zero; t < new DispatchPolicy(3, TimeSpan.FromSeconds(60), 3).RecoveryGrace + TimeSpan.FromSeconds(1); t += DispatchPolicy.TickInterval)
        {
            _now += DispatchPolicy.TickInterval;
            events.AddRange(state.Tick());
        }
        Assert.Equal(task.TaskId, Assert.Single(events.OfType<KeptResultDropped>()).TaskId);

        // After the grace an unknown result is refused, and the question coming back now is a question like any other.
        Assert.Equal(ResultStatus.Refused, state.Complete(ResultFor(task, "w1")).Status);
        Assert.Equal("w2", Assert.Single(Assigned(state.Submit(task, resubmitted: true).Events)).WorkerId);
    }

    [Fact]
    public void A_result_without_its_assignments_alias_is_refused_even_with_the_right_task_and_worker_ids()
    {
        // In flight: the forger knows the task id and the worker id (from logs, say), not the alias.
        _state.Register("w1", 1);
        var task = NewTask();
        Submit(task);
        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(task, "w1") with { SessionId = task.SessionId }).Status);
        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(task, "w1") with { SessionId = TestKeys.Alias(task.TaskId, "w2") }).Status);
        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(task, "w1", withTaskId: false) with { SessionId = task.SessionId }).Status);
        Assert.Equal(ResultStatus.Accepted, _state.Complete(ResultFor(task, "w1")).Status); // the real one still counts

        // Just after a takeover: a forged early result is not kept, so it cannot become the outcome.
        var state = TakenOver();
        var other = NewTask();
        Assert.Equal(ResultStatus.Refused, state.Complete(ResultFor(other, "w1") with { SessionId = "forged" }).Status);
        Assert.Empty(state.Submit(other, resubmitted: true).Events.OfType<TaskCompleted>());
    }

    [Fact]
    public void Without_a_restart_an_unknown_result_is_refused_at_once()
    {
        _state.Register("w1", 1);
        Assert.Equal(ResultStatus.Refused, _state.Complete(ResultFor(NewTask(), "w1")).Status);
    }

    [Fact]
    public void The_snapshot_holds_open_tasks_without_texts_or_keys()
    {
        _state.Register("w1", 1);
        Submit(NewTask() with { ApiKey = "secret-key" });
        Submit(NewTask());

        var snapshot = _state.ToSnapshot(watermark: 42);

        Assert.Equal(42, snapshot.Watermark);
        Assert.Equal([("t1", "w1", 1), ("t2", null, 0)], snapshot.Tasks.Select(t => (t.TaskId, t.WorkerId, t.Attempt)));
        var json = System.Text.Json.JsonSerializer.Serialize(snapshot);
        Assert.DoesNotContain("secret-key", json);
        Assert.DoesNotContain("question", json);
    }

    [Fact]
    public void After_a_restart_a_task_in_flight_stays_on_its_worker_and_its_late_result_is_taken()
    {
        _state.Register("w1", 1);
        var task = NewTask();
        Submit(task);
        var state = Restarted(_state.ToSnapshot(0));

        state.Register("w1", 1); // the worker shows up again: the task counts in its slot
        Assert.Equal(0, state.Workers.Find("w1")!.FreeSlots);
        Assert.Equal(ResultStatus.Accepted, state.Complete(ResultFor(task, "w1")).Status);
    }

    [Fact]
    public void After_a_restart_queued_tasks_wait_for_their_text_from_their_session()
    {
        var task = NewTask();
        Submit(task);
        var state = Restarted(_state.ToSnapshot(0));
        state.Register("w1", 1);

        Assert.Empty(Assigned(Ticks(state, state.Policy.RecoveryGrace + TimeSpan.FromSeconds(1)))); // no text: nothing to dispatch
        var resubmitted = state.Submit(task with { ApiKey = "" }, resubmitted: true);
        Assert.Equal(AdmissionStatus.Admitted, resubmitted.Status);
        Assert.IsType<TaskTextRestored>(resubmitted.Events[0]);
        var assigned = Assert.Single(Assigned(Ticks(state, DispatchPolicy.TickInterval)));
        Assert.Equal((task.TaskId, "w1", 1), (assigned.TaskId, assigned.WorkerId, assigned.Attempt));
        Assert.Equal("question 1", state.Find(task.TaskId)!.Query);
    }

    [Fact]
    public void After_a_restart_a_task_found_only_in_the_journal_is_held_until_its_worker_claims_it()
    {
        var state = Restarted(new DispatcherSnapshot(0, []));
        state.Register("w1", 1);
        state.Register("w2", 1);
        var running = NewTask(); // asked after the last snapshot, running on w2 when the master died
        var waiting = NewTask(); // asked after the last snapshot, never dispatched

        Assert.Equal("queued", state.Submit(running, resubmitted: true).Task!.Status);
        state.Submit(waiting, resubmitted: true);
        Assert.Empty(Assigned(Ticks(state, TimeSpan.FromSeconds(1))));

        var claimed = state.Touch("w2", "busy", runningTaskIds: [running.TaskId]);
        Assert.Equal(running.TaskId, Assert.Single(claimed.OfType<TaskClaimed>()).TaskId);
        Assert.Equal(("w2", TaskPhase.InFlight), (state.Find(running.TaskId)!.WorkerId, state.Find(running.TaskId)!.Phase));

        var released = Ticks(state, state.Policy.RecoveryGrace);
        Assert.Equal(waiting.TaskId, Assert.Single(released.OfType<TaskReleased>()).TaskId);
        Assert.Equal(("w1", 1), Assigned(released).Select(a => (a.WorkerId, a.Attempt)).Single());
    }

    [Fact]
    public void After_a_restart_a_held_task_takes_a_result_from_whichever_worker_ran_it()
    {
        var state = Restarted(new DispatcherSnapshot(0, []));
        var task = NewTask();
        state.Submit(task, resubmitted: true);
        Assert.Equal(ResultStatus.Accepted, state.Complete(ResultFor(task, "some-worker")).Status);
    }

    [Fact]
    public void A_session_listing_its_open_questions_ends_tasks_it_no_longer_has()
    {
        _state.Register("w1", 1);
        var answered = NewTask();
        var stored = NewTask();
        var open = NewTask();
        Submit(answered);
        Submit(stored);
        Submit(open);
        _state.Complete(ResultFor(answered, "w1")); // completing when the master died: its session stored it meanwhile
        var state = Restarted(_state.ToSnapshot(0));

        state.Submit(open, resubmitted: true);
        var events = state.OpenTasksListed("s1", [open.TaskId]);

        Assert.Equal([answered.TaskId, stored.TaskId], events.OfType<TaskCancelled>().Select(c => c.TaskId).Order());
        Assert.NotNull(state.Find(open.TaskId));
        Assert.Equal(1, state.OpenCount);
    }

    /// <summary>Like <see cref="Advance"/>, for a restarted state (it reads the same clock).</summary>
    private List<DispatchEvent> Ticks(DispatchState state, TimeSpan by)
    {
        var events = new List<DispatchEvent>();
        var end = _now + by;
        while (_now < end)
        {
            _now += DispatchPolicy.TickInterval;
            events.AddRange(state.Tick());
        }
        return events;
    }
}
