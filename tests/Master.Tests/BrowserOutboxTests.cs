using AiSystem.Master.Hubs;
using AiSystem.Master.Sessions;

namespace AiSystem.Master.Tests;

/// <summary>A browser that does not read collects at most one waiting position per question, and nothing else is lost or reordered.</summary>
public class BrowserOutboxTests
{
    private static List<IBrowserEvent> Drain(BrowserPushActor.Outbox box)
    {
        var events = new List<IBrowserEvent>();
        while (box.TryTake(out var e)) events.Add(e);
        return events;
    }

    [Fact]
    public void A_new_position_replaces_the_waiting_one_of_the_same_task_in_its_place()
    {
        var box = new BrowserPushActor.Outbox();
        box.Add(new TaskAcceptedDto("a", "q", 1));
        box.Add(new TaskQueuedDto("a", 50));
        box.Add(new TaskQueuedDto("b", 51));
        for (var p = 49; p >= 1; p--) box.Add(new TaskQueuedDto("a", p));
        box.Add(new TaskQueuedDto("b", 2));

        Assert.Equal(3, box.Count);
        Assert.Equal<IBrowserEvent>([new TaskAcceptedDto("a", "q", 1), new TaskQueuedDto("a", 1), new TaskQueuedDto("b", 2)], Drain(box));
    }

    [Fact]
    public void A_position_after_another_event_of_its_task_never_jumps_before_it()
    {
        var box = new BrowserPushActor.Outbox();
        box.Add(new TaskQueuedDto("a", 3));
        box.Add(new TaskAssignedDto("a", "w1", 1));
        box.Add(new TaskQueuedDto("a", 1)); // its worker died: queued again, after the assignment
        box.Add(new AiResponseChunkDto("a", 2, 0, "par"));
        box.Add(new AiResponseChunkDto("a", 2, 3, "tial"));

        Assert.Equal<IBrowserEvent>(
        [
            new TaskQueuedDto("a", 3), new TaskAssignedDto("a", "w1", 1), new TaskQueuedDto("a", 1),
            new AiResponseChunkDto("a", 2, 0, "par"), new AiResponseChunkDto("a", 2, 3, "tial"),
        ], Drain(box));
    }

    [Fact]
    public void A_position_already_taken_for_sending_is_not_changed_afterwards()
    {
        var box = new BrowserPushActor.Outbox();
        box.Add(new TaskQueuedDto("a", 5));
        Assert.True(box.TryTake(out var sent));
        box.Add(new TaskQueuedDto("a", 4));

        Assert.Equal(new TaskQueuedDto("a", 5), sent);
        Assert.Equal<IBrowserEvent>([new TaskQueuedDto("a", 4)], Drain(box));
    }

    [Fact]
    public void Nothing_moves_before_a_session_wide_event()
    {
        var box = new BrowserPushActor.Outbox();
        box.Add(new TaskQueuedDto("a", 2));
        box.Add(new SessionDeletedDto("s"));
        box.Add(new TaskQueuedDto("a", 1));

        Assert.Equal<IBrowserEvent>([new TaskQueuedDto("a", 2), new SessionDeletedDto("s"), new TaskQueuedDto("a", 1)], Drain(box));
    }
}
