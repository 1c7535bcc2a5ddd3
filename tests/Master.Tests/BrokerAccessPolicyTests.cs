using System.Buffers;
using System.Net;
using System.Text;
using AiSystem.Master.Mqtt;
using AiSystem.Messages;
using Publish = AiSystem.Master.Mqtt.BrokerAccessPolicy.Publish;
using Connect = AiSystem.Master.Mqtt.BrokerAccessPolicy.Connect;

namespace AiSystem.Master.Tests;

/// <summary>The embedded broker's rules (issue 14), without a broker: identity is the client id.</summary>
public class BrokerAccessPolicyTests
{
    private static readonly Topics Topics = new("upb");
    private readonly BrokerAccessPolicy _open = new(Topics, null, null, allowAnonymousAnywhere: false);
    private readonly BrokerAccessPolicy _locked = new(Topics, "workers", "pa55", allowAnonymousAnywhere: false);
    private static readonly IPAddress Remote = IPAddress.Parse("192.0.2.10");

    private static ReadOnlySequence<byte> Json(string s) => new(Encoding.UTF8.GetBytes(s));

    [Fact]
    public void Anonymous_clients_only_from_loopback_unless_allowed_everywhere()
    {
        Assert.Equal(Connect.Accept, _open.CanConnect(null, null, IPAddress.Loopback));
        Assert.Equal(Connect.Accept, _open.CanConnect("", "", IPAddress.IPv6Loopback));
        Assert.Equal(Connect.Accept, _open.CanConnect(null, null, IPAddress.Loopback.MapToIPv6()));
        Assert.Equal(Connect.NotAuthorized, _open.CanConnect(null, null, Remote));
        Assert.Equal(Connect.NotAuthorized, _open.CanConnect(null, null, null));
        Assert.Equal(Connect.Accept, new BrokerAccessPolicy(Topics, null, null, allowAnonymousAnywhere: true).CanConnect(null, null, Remote));
    }

    [Fact]
    public void Credentials_when_configured_must_match_exactly()
    {
        Assert.Equal(Connect.Accept, _locked.CanConnect("workers", "pa55", Remote));
        Assert.Equal(Connect.BadCredentials, _locked.CanConnect("workers", "pa5", Remote));
        Assert.Equal(Connect.BadCredentials, _locked.CanConnect("worker", "pa55", IPAddress.Loopback));
        Assert.Equal(Connect.BadCredentials, _locked.CanConnect("workers", null, Remote));
        Assert.Equal(Connect.Accept, _locked.CanConnect(null, null, IPAddress.Loopback)); // old workers on the same machine
        Assert.Equal(Connect.NotAuthorized, _locked.CanConnect(null, null, Remote));
        Assert.Equal(Connect.BadCredentials, _open.CanConnect("someone", "x", IPAddress.Loopback)); // nothing to check them against
    }

    [Theory]
    [InlineData("upb/workers/w1/tasks", true)]
    [InlineData("upb/logs", true)]
    [InlineData("upb/workers/w2/tasks", false)]
    [InlineData("upb/workers/+/tasks", false)]
    [InlineData("upb/workers/#", false)]
    [InlineData("#", false)]
    [InlineData("upb/workers/register", false)]
    [InlineData("upb/workers/w1/#", false)]
    public void A_client_subscribes_only_to_its_own_tasks_and_the_logs(string filter, bool allowed) =>
        Assert.Equal(allowed, _open.CanSubscribe("w1", filter));

    [Fact]
    public void A_client_with_a_wildcard_id_gets_no_task_topic() => Assert.False(_open.CanSubscribe("+", "upb/workers/+/tasks"));

    [Fact]
    public void Announcements_must_name_their_publisher()
    {
        Assert.Equal(Publish.Allow, _open.CanPublish("w1", "upb/workers/register", Json("""{"worker_id":"w1","status":"idle"}"""), out _));
        Assert.Equal(Publish.ForgedIdentity, _open.CanPublish("w1", "upb/workers/status", Json("""{"status":"offline","worker_id":"w2"}"""), out var claimed));
        Assert.Equal("w2", claimed);
        Assert.Equal(Publish.ForgedIdentity, _open.CanPublish("w1", "upb/workers/heartbeat", Json("""{"worker_id":"w1","worker_id":"w2"}"""), out _)); // the last one counts
        Assert.Equal(Publish.ForgedIdentity, _open.CanPublish("w1", "upb/workers/register", Json("""{"worker\u005fid":"w2"}"""), out _)); // escaped name
        Assert.Equal(Publish.Allow, _open.CanPublish("w1", "upb/workers/register", Json("""{"nested":{"worker_id":"w2"},"worker_id":"w1"}"""), out _));
        Assert.Equal(Publish.Refuse, _open.CanPublish("w1", "upb/workers/register", Json("""{"status":"idle"}"""), out _));
        Assert.Equal(Publish.Refuse, _open.CanPublish("w1", "upb/workers/register", Json("not json"), out _));
        Assert.Equal(Publish.Refuse, _open.CanPublish("w1", "upb/workers/register", Json("""{"worker_id":7}"""), out _));
    }

    [Fact]
    public void Nobody_publishes_tasks_logs_are_open()
    {
        Assert.Equal(Publish.Refuse, _open.CanPublish("w1", "upb/workers/w1/tasks", Json("{}"), out _));
        Assert.Equal(Publish.Refuse, _open.CanPublish("w1", "upb/workers/w2/tasks", Json("{}"), out _));
        Assert.Equal(Publish.Allow, _open.CanPublish("w1", "upb/logs", Json("""{"message":"hi"}"""), out _));
    }
}
