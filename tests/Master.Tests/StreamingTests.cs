using AiSystem.Master.Dispatch;
using AiSystem.Master.Grpc;
using AiSystem.Master.Hubs;
using AiSystem.Master.Sessions;
using AiSystem.Messages.Grpc;

namespace AiSystem.Master.Tests;

/// <summary>The decisions of the streamed-answer path: which chunks count, how they are coalesced, what a session keeps.</summary>
public class StreamingTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);
    private static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch.AddHours(1);

    private static TaskChunk Chunk(long sequence, string text, bool restart = false, TaskResult? result = null, string taskId = "t1",
        string workerId = "w1", int attempt = 2)
    {
        var chunk = new TaskChunk { TaskId = taskId, WorkerId = workerId, SessionId = "s1", Attempt = attempt, Sequence = sequence, Text = text, Restart = restart };
        if (result is not null) chunk.Result = result;
        return chunk;
    }

    [Fact]
    public void Only_the_worker_and_attempt_that_hold_a_task_may_stream_its_answer()
    {
        var state = new DispatchState(new DispatchPolicy(10, TimeSpan.FromMinutes(1), 3), () => T0, TestKeys.Shared);
        state.Register("w1", 1);
        state.Submit(new TaskRequest("t1", "s1", "q", "", 1), resubmitted: false);
        Assert.Equal(1, state.StreamingTask("t1", "w1", 1, TestKeys.Alias("t1", "w1"))!.Attempt);
        Assert.NotNull(state.StreamingTask("t1", "w1", 0, TestKeys.Alias("t1", "w1"))); // a worker that does not know its attempt

        state.RemoveWorker("w1");                          // gone: the task goes to w2 as attempt 2
        state.Register("w2", 1);
        Assert.Null(state.StreamingTask("t1", "w1", 1, TestKeys.Alias("t1", "w1")));  // the old worker's late text
        Assert.Null(state.StreamingTask("t1", "w2", 1, TestKeys.Alias("t1", "w2")));  // a stale attempt
        Assert.Null(state.StreamingTask("t1", "w3", 2, TestKeys.Alias("t1", "w3")));  // a forger
        Assert.Null(state.StreamingTask("t1", "w2", 2, "s1")); // the right ids without the assignment's alias
        Assert.Equal("w2", state.StreamingTask("t1", "w2", 2, TestKeys.Alias("t1", "w2"))!.WorkerId);

        state.Complete(new WorkerResult("w2", "t1", TestKeys.Alias("t1", "w2"), 1, "a", "", false, "", 0, 0));
        Assert.Null(state.StreamingTask("t1", "w2", 2, TestKeys.Alias("t1", "w2")));  // finished: nothing streams any more
        Assert.Null(state.StreamingTask("nope", "w2", 0, TestKeys.Alias("nope", "w2")));
    }

    [Fact]
    public void Chunks_are_coalesced_to_one_progress_per_interval_and_the_rest_is_flushed_at_the_end()
    {
        var stream = new AnswerStream(Interval);
        Assert.Null(stream.Add(Chunk(1, "Hel")));
        Assert.Equal(new StreamTaskText("t1", "w1", "s1", 2, 0, "Hel"), stream.Flush(T0)); // the first piece goes at once

        Assert.Null(stream.Add(Chunk(2, "lo ")));
        Assert.Null(stream.Flush(T0.AddMilliseconds(10)));                       // too soon: held
        Assert.Null(stream.Add(Chunk(3, "world")));
        Assert.Equal(TimeSpan.FromMilliseconds(20), stream.DueIn(T0.AddMilliseconds(30)));
        Assert.Equal(new StreamTaskText("t1", "w1", "s1", 2, 3, "lo world"), stream.Flush(T0.AddMilliseconds(50)));

        Assert.Null(stream.Add(Chunk(4, "!")));
        Assert.Equal(new StreamTaskText("t1", "w1", "s1", 2, 11, "!"), stream.Flush(T0.AddMilliseconds(51), force: true));
        Assert.Null(stream.Flush(T0.AddSeconds(9), force: true));                 // nothing pending
    }

    [Fact]
    public void A_restart_replaces_the_text_from_the_beginning()
    {
        var stream = new AnswerStream(Interval);
        stream.Add(Chunk(1, "wrong start"));
        stream.Flush(T0);
        stream.Add(Chunk(2, "Right", restart: true));
        Assert.Equal(new StreamTaskText("t1", "w1", "s1", 2, 0, "Right"), stream.Flush(T0.AddSeconds(1)));
        stream.Add(Chunk(3, "!"));
        Assert.Equal(5, stream.Flush(T0.AddSeconds(2))!.Offset);
    }

    [Theory]
    [InlineData("t2", "w1", 2, 2, "same task_id")]   // another task on the same call
    [InlineData("t1", "w9", 2, 2, "same task_id")]   // another worker
    [InlineData("t1", "w1", 3, 2, "same task_id")]   // another attempt
    [InlineData("t1", "w1", 2, 1, "must increase")]  // a repeated sequence number
    public void A_chunk_that_does_not_belong_to_the_call_is_refused(string taskId, string workerId, int attempt, long sequence, string expected)
    {
        var stream = new AnswerStream(Interval);
        Assert.Null(stream.Add(Chunk(1, "a")));
        Assert.Contains(expected, stream.Add(Chunk(sequence, "b", taskId: taskId, workerId: workerId, attempt: attempt)));
    }

    [Fact]
    public void A_result_for_another_task_than_its_chunks_is_refused()
    {
        var stream = new AnswerStream(Interval);
        stream.Add(Chunk(1, "a"));
        Assert.NotNull(stream.Add(Chunk(2, "", result: new TaskResult { TaskId = "other", WorkerId = "w1" })));
        Assert.NotNull(new AnswerStream(Interval).Add(Chunk(1, "", taskId: "")));
    }

    [Fact]
    public void A_session_keeps_the_text_streamed_so_far_for_a_reloaded_page()
    {
        var answers = new StreamingAnswers();
        Assert.Equal(new AiResponseChunkDto("t1", 1, 0, "Hello"), answers.Apply("t1", 1, 0, "Hello"));
        Assert.NotNull(answers.Apply("t1", 1, 5, " world"));
        Assert.Equal("Hello world", answers.Partial("t1"));

        var items = answers.History([
            new QuestionRecord("t1", "q1", 1),
            new QuestionRecord("t0", "q0", 0, Answer: "done", WorkerId: "w", Provider: "simulated", ProcessingTimeMs: 1),
        ]);
        Assert.Equal(["Hello world", null], items.Select(i => i.Partial));

        answers.Finished("t1");
        Assert.Null(answers.Partial("t1"));
        Assert.Equal(0, answers.Count);
    }

    [Fact]
    public void A_new_attempt_drops_the_old_text_and_late_text_of_the_old_attempt_is_ignored()
    {
        var answers = new StreamingAnswers();
        answers.Apply("t1", 1, 0, "first try");
        Assert.True(answers.Assigned("t1", 2));
        Assert.Null(answers.Partial("t1"));
        Assert.NotNull(answers.Apply("t1", 2, 0, "second"));
        Assert.Null(answers.Apply("t1", 1, 9, " more of the first")); // stale
        Assert.False(answers.Assigned("t1", 2));                     // the same attempt again changes nothing
        Assert.Equal("second", answers.Partial("t1"));
    }

    [Fact]
    public void Text_with_a_gap_is_refused_and_an_overlap_replaces_the_tail()
    {
        var answers = new StreamingAnswers();
        answers.Apply("t1", 1, 0, "abc");
        Assert.Null(answers.Apply("t1", 1, 7, "xyz"));
        Assert.NotNull(answers.Apply("t1", 1, 2, "Z!"));
        Assert.Equal("abZ!", answers.Partial("t1"));
    }
}
