using AiSystem.Master.Serialization;

namespace AiSystem.Master.Dashboard;

/// <summary>To the dispatcher: replies <see cref="AnswerSeriesView"/> (plain data, it may cross masters).</summary>
public sealed record GetAnswerSeries : IClusterMessage
{
    public static readonly GetAnswerSeries Instance = new();
}

/// <summary>From the dashboard hub: a page connected (it gets the log tail and the last snapshot at once) or left.</summary>
public sealed record DashboardViewerJoined(string ConnectionId);
public sealed record DashboardViewerLeft(string ConnectionId);

/// <summary>From the MQTT log feed: one parsed line of <c>upb/logs</c>.</summary>
public sealed record LogLineReceived(AiSystem.Messages.LogMessage Line);

/// <summary>The names of the hub events the dashboard page listens to.</summary>
public static class DashboardEvents
{
    /// <summary>Payload: <see cref="DashboardSnapshot"/>.</summary>
    public const string Snapshot = "Snapshot";
    /// <summary>Payload: an array of <see cref="DashboardLogLine"/>, oldest first.</summary>
    public const string LogLines = "LogLines";
}
