using AiSystem.Master.Sessions;
using AiSystem.Messages;

namespace AiSystem.Master.Tests;

/// <summary>What a question takes to the model (issue 15): the answered turns before it, newest kept within the budget.</summary>
public class ConversationContextTests
{
    private static long _clock = 1_000;

    private static SessionState Conversation(params (string Id, string Query, string? Answer, string? Error)[] turns)
    {
        var state = new SessionState();
        foreach (var (id, query, answer, error) in turns)
        {
            state.Apply(state.Ask(id, query, ++_clock)!);
            if (answer is not null) state.Apply(new QuestionAnswered(id, answer, "w1", "simulated", 5, ++_clock));
            else if (error is not null) state.Apply(new QuestionFailed(id, error, true, "w1", ++_clock));
        }
        return state;
    }

    private static string Roles(IReadOnlyList<ChatTurn> turns) => string.Join("/", turns.Select(t => t.Role));

    [Fact]
    public void The_answered_turns_go_in_order_as_user_and_model()
    {
        var state = Conversation(("a", "What is the capital of France?", "Paris.", null), ("b", "And its population?", "About 2.1 million.", null));

        var context = state.Context(before: null, budgetChars: 10_000, maxExchanges: 20);

        Assert.Equal("user/model/user/model", Roles(context));
        Assert.Equal(["What is the capital of France?", "Paris.", "And its population?", "About 2.1 million."], context.Select(t => t.Text));
    }

    [Fact]
    public void Failed_and_stopped_turns_and_open_questions_are_left_out()
    {
        var state = Conversation(("a", "q1", "a1", null), ("b", "q2", null, "The model is overloaded."), ("c", "q3", null, null));
        state.Apply(state.Cancel("c", "half an ans", ++_clock)!);
        state.Apply(state.Ask("d", "q4", ++_clock)!); // still open

        var context = state.Context(before: null, budgetChars: 10_000, maxExchanges: 20);

        Assert.Equal(["q1", "a1"], context.Select(t => t.Text));
    }

    [Fact]
    public void The_budget_drops_the_oldest_turns_first_and_leaves_no_gap()
    {
        var state = Conversation(("a", "old question", "old answer", null), ("b", "tiny", "x", null), ("c", "newer question", "newer answer", null));

        // "newer question"+"newer answer" = 26, "tiny"+"x" = 5, the oldest = 22: 31 fit in 40, all three do not.
        var context = state.Context(before: null, budgetChars: 40, maxExchanges: 20);

        Assert.Equal(["tiny", "x", "newer question", "newer answer"], context.Select(t => t.Text));
    }

    [Fact]
    public void An_exchange_too_big_for_the_budget_ends_the_context_there()
    {
        var state = Conversation(("a", "small", "one", null), ("b", new string('q', 50), "big", null), ("c", "last", "two", null));

        var context = state.Context(before: null, budgetChars: 30, maxExchanges: 20);

        Assert.Equal(["last", "two"], context.Select(t => t.Text)); // never "small" without what came between
    }

    [Fact]
    public void The_number_of_exchanges_is_bounded_too()
    {
        var state = Conversation([.. Enumerable.Range(1, 30).Select(i => ($"t{i}", $"q{i}", (string?)$"a{i}", (string?)null))]);

        var context = state.Context(before: null, budgetChars: 1_000_000, maxExchanges: 3);

        Assert.Equal(["q28", "a28", "q29", "a29", "q30", "a30"], context.Select(t => t.Text));
        Assert.Empty(state.Context(before: null, budgetChars: 1_000_000, maxExchanges: 0));
    }

    [Fact]
    public void A_replacement_takes_the_context_before_the_turn_it_replaces()
    {
        var state = Conversation(("a", "q1", "a1", null), ("b", "q2", "a2", null));

        Assert.Null(state.ReplaceRefusal("b"));
        Assert.Equal(["q1", "a1"], state.Context(before: "b", 10_000, 20).Select(t => t.Text));

        state.Apply(state.Ask("c", "q2, better put", ++_clock, replaces: "b")!);
        state.Apply(new QuestionAnswered("c", "a2 again", "w1", "simulated", 5, ++_clock));

        // The replaced turn is kept (the page shows it as an alternate) but no longer part of the conversation.
        Assert.Equal("c", state.Find("b")!.ReplacedBy);
        Assert.Equal("b", state.Find("c")!.Replaces);
        Assert.Equal(["q1", "a1", "q2, better put", "a2 again"], state.Context(before: null, 10_000, 20).Select(t => t.Text));
        Assert.Same(state.Find("c"), state.LastTurn);
    }

    [Fact]
    public void Only_the_last_finished_turn_can_be_replaced()
    {
        var state = Conversation(("a", "q1", "a1", null), ("b", "q2", "a2", null));

        Assert.Contains("Only the last question", state.ReplaceRefusal("a"));
        Assert.Contains("not in this conversation", state.ReplaceRefusal("zzz"));

        state.Apply(state.Ask("c", "q3", ++_clock)!);
        Assert.Contains("stop it first", state.ReplaceRefusal("c"));
    }

    [Fact]
    public void A_stop_keeps_the_streamed_text_as_the_stopped_answer_and_is_final()
    {
        var state = Conversation(("a", "q1", null, null));

        var stop = state.Cancel("a", "The first half", ++_clock);
        Assert.NotNull(stop);
        state.Apply(stop);

        var q = state.Find("a")!;
        Assert.False(q.IsOpen);
        Assert.True(q.Cancelled);
        Assert.Equal("The first half", q.Answer);
        Assert.False(q.IsContext);
        Assert.Null(state.Cancel("a", "again", ++_clock)); // ended: nothing more to stop
        Assert.Null(state.Record(new TaskOutcome("a", "late answer", null, true, "w1", "simulated", 5, ++_clock))); // a late answer is not stored
        Assert.Equal(0, state.OpenCount);
    }

    [Fact]
    public void Token_counts_are_kept_with_the_answer_and_survive_a_snapshot()
    {
        var state = new SessionState();
        state.Apply(state.Ask("a", "q1", ++_clock, model: "gemini-2.5-pro")!);
        state.Apply(SessionState.EventFor(new TaskOutcome("a", "a1", null, true, "w1", "gemini:gemini-2.5-pro", 5, ++_clock, 12, 48)));

        var restored = new SessionState();
        restored.Restore(state.ToSnapshot());

        var q = restored.Find("a")!;
        Assert.Equal((12, 48), (q.PromptTokens, q.OutputTokens));
        Assert.Equal("gemini-2.5-pro", q.Model);
    }
}
