using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace AiSystem.Ctl;

/// <summary>
/// The master's <c>/api</c> over HTTP. Every failure leaves as a <see cref="CtlException"/> whose message names
/// what went wrong and what to do (master down, wrong URL, missing token, unknown member, a server error).
/// </summary>
public sealed class MasterClient : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly string? _token;
    private readonly TimeSpan _timeout;

    /// <param name="baseUri">From <see cref="Endpoints.ParseMaster"/>: absolute, path ending in <c>/</c>.</param>
    /// <param name="token">Sent as <c>Authorization: Bearer</c> when not empty.</param>
    /// <param name="handler">For tests; null: a real socket handler.</param>
    /// <param name="ca">For an <c>https://</c> master with a private CA (<c>--ca-file</c>): its certificate must chain to it.</param>
    public MasterClient(Uri baseUri, string? token, HttpMessageHandler? handler = null, TimeSpan? timeout = null,
        AiSystem.Messages.Tls.TrustedCa? ca = null)
    {
        _base = baseUri;
        _token = string.IsNullOrWhiteSpace(token) ? null : token.Trim();
        if (_token is not null && _token.Any(char.IsControl))
            throw new CtlException("the token contains control characters; check --token or AICTL_TOKEN.", 2);
        _timeout = timeout ?? DefaultTimeout;
        _http = handler is null
            ? new HttpClient(new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(5),
                SslOptions = ca is null ? new() : new() { RemoteCertificateValidationCallback = ca.ServerValidator() },
            }, disposeHandler: true)
            : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = Timeout.InfiniteTimeSpan; // our own deadlines: the event stream must stay open
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("aictl", typeof(MasterClient).Assembly.GetName().Version?.ToString(3) ?? "0"));
    }

    /// <summary>The master's URL as the messages show it.</summary>
    public string Display => Endpoints.Display(_base);

    public void Dispose() => _http.Dispose();

    /// <summary>GET <paramref name="path"/> (relative, e.g. <c>api/cluster</c>) and return the 2xx body.</summary>
    public async Task<string> GetStringAsync(string path, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        return await SendForBodyAsync(request, memberAddress: null, ct).ConfigureAwait(false);
    }

    public async Task<(ClusterState State, string Body)> GetClusterAsync(CancellationToken ct)
    {
        var body = await GetStringAsync("api/cluster", ct).ConfigureAwait(false);
        return (ApiJson.ParseCluster(body), body);
    }

    public async Task<(List<WorkerInfo> Workers, string Body)> GetWorkersAsync(CancellationToken ct)
    {
        var body = await GetStringAsync("api/workers", ct).ConfigureAwait(false);
        return (ApiJson.ParseWorkers(body), body);
    }

    public async Task<(List<TaskInfo> Tasks, string Body)> GetTasksAsync(CancellationToken ct)
    {
        var body = await GetStringAsync("api/tasks", ct).ConfigureAwait(false);
        return (ApiJson.ParseTasks(body), body);
    }

    public async Task<(JournalInfo Journal, string Body)> GetJournalAsync(CancellationToken ct)
    {
        var body = await GetStringAsync("api/journal", ct).ConfigureAwait(false);
        return (ApiJson.ParseJournal(body), body);
    }

    /// <summary>POST <c>api/cluster/leave</c> or <c>api/cluster/down</c> for <paramref name="address"/>.</summary>
    /// <param name="action"><c>leave</c> or <c>down</c>.</param>
    public async Task<(MemberActionResponse Response, string Body)> MemberActionAsync(string action, string address, CancellationToken ct)
    {
        if (action is not ("leave" or "down")) throw new ArgumentOutOfRangeException(nameof(action), action, "leave or down");
        if (AkkaAddressComparer.TryParse(address) is null)
            throw new CtlException($"'{Text.OneLine(address, 200)}' is not a cluster member address; expected akka.tcp://ai-system@host:port (see 'aictl cluster show').", 2);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/cluster/{action}")
        {
            Content = new StringContent(ApiJson.Serialize(new MemberActionRequest(address)), Encoding.UTF8, "application/json"),
        };
        var body = await SendForBodyAsync(request, address, ct).ConfigureAwait(false);
        var response = string.IsNullOrWhiteSpace(body)
            ? new MemberActionResponse { Address = address, Action = action }
            : ApiJson.ParseAction(body, $"POST /api/cluster/{action}");
        return (response, body);
    }

    /// <summary>
    /// Opens GET <c>api/cluster/events</c> and returns a reader over the event stream. The deadline covers only the
    /// answer's headers; the stream then stays open until the master ends it or <paramref name="ct"/> fires.
    /// </summary>
    public async Task<EventStream> OpenClusterEventsAsync(CancellationToken ct)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "api/cluster/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        HttpResponseMessage? response = null;
        var handedOver = false;
        try
        {
            response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            await EnsureSuccessAsync(request, response, memberAddress: null, ct).ConfigureAwait(false);
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (!string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase))
                throw new CtlException($"the master at {Display} answered GET /api/cluster/events with {mediaType ?? "no content type"}, not an event stream. " +
                    "Is --master an AiSystem master of the same version?");
            Stream stream;
            try { stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false); }
            catch (Exception e) when (e is HttpRequestException or IOException) { throw Unreachable(e); }
            handedOver = true;
            return new EventStream(request, response, new StreamReader(stream, Encoding.UTF8));
        }
        finally
        {
            if (!handedOver)
            {
                response?.Dispose();
                request.Dispose();
            }
        }
    }

    /// <summary>An open event stream; dispose to close the connection.</summary>
    public sealed class EventStream(HttpRequestMessage request, HttpResponseMessage response, TextReader reader) : IDisposable
    {
        public TextReader Reader { get; } = reader;

        public void Dispose()
        {
            Reader.Dispose();
            response.Dispose();
            request.Dispose();
        }
    }

    /// <summary>The message for a stream that broke off in the middle (not a clean end).</summary>
    public CtlException StreamBroken(Exception e) =>
        new($"the event stream from the master at {Display} broke off ({Reason(e)}). Run the command again when the master is back.", 1, e);

    private async Task<string> SendForBodyAsync(HttpRequestMessage request, string? memberAddress, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(_timeout);
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, ct, deadline.Token).ConfigureAwait(false);
        await EnsureSuccessAsync(request, response, memberAddress, deadline.Token).ConfigureAwait(false);
        try
        {
            return await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw NoAnswer();
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw Unreachable(e);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken ct,
        CancellationToken? deadlineToken = null)
    {
        request.RequestUri = new Uri(_base, request.RequestUri!.OriginalString);
        if (_token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        CancellationTokenSource? own = null;
        if (deadlineToken is null)
        {
            own = CancellationTokenSource.CreateLinkedTokenSource(ct);
            own.CancelAfter(_timeout);
        }
        try
        {
            return await _http.SendAsync(request, completion, deadlineToken ?? own!.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw NoAnswer();
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(e);
        }
        finally
        {
            own?.Dispose();
        }
    }

    private async Task EnsureSuccessAsync(HttpRequestMessage request, HttpResponseMessage response, string? memberAddress, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        string body;
        try { body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false); }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException) { body = ""; }
        throw Failure(request.Method.Method, request.RequestUri!.AbsolutePath, response.StatusCode, body, memberAddress);
    }

    /// <summary>The message for a non-2xx answer.</summary>
    public CtlException Failure(string method, string path, HttpStatusCode status, string body, string? memberAddress = null)
    {
        var code = (int)status;
        var said = ApiJson.TryParseError(body) ?? FirstLine(body);
        var what = $"{method} {path}";
        return status switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden when _token is null =>
                new CtlException($"the master refused the request ({code}): set --token or AICTL_TOKEN."),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                new CtlException($"the master refused the token ({code}): check --token or AICTL_TOKEN."),
            HttpStatusCode.BadRequest when memberAddress is not null =>
                new CtlException($"no cluster member at {Text.OneLine(memberAddress, 200)} (see 'aictl cluster show')."),
            HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed =>
                new CtlException($"the master at {Display} has no {what} ({code}). Is --master an AiSystem master of the same version?"),
            _ when code >= 500 =>
                new CtlException($"the master failed on {what} ({code}{(said is null ? "" : ": " + said)}). See the master's log."),
            _ => new CtlException($"the master refused {what} ({code}{(said is null ? "" : ": " + said)})."),
        };
    }

    private CtlException NoAnswer() =>
        new($"the master at {Display} did not answer within {_timeout.TotalSeconds:0}s. Is it running and not overloaded? Use --master URL.");

    private CtlException Unreachable(Exception e)
    {
        if (e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded or HttpRequestError.InvalidResponse } && FindSocketError(e) is null)
            return new($"the master at {Display} did not answer in HTTP ({Reason(e)}). Does --master point at the master's HTTP port (default 8888)?", 1, e);
        return new($"cannot reach the master at {Display} ({Reason(e)}). Is it running? Use --master URL.", 1, e);
    }

    /// <summary>A few words for a transport failure: <c>connection refused</c>, <c>host not found</c>, ...</summary>
    public static string Reason(Exception e)
    {
        switch (FindSocketError(e))
        {
            case SocketError.ConnectionRefused: return "connection refused";
            case SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData: return "host not found";
            case SocketError.TimedOut: return "timed out";
            case SocketError.HostUnreachable: return "host unreachable";
            case SocketError.NetworkUnreachable or SocketError.NetworkDown: return "network unreachable";
            case SocketError.ConnectionReset: return "connection reset";
            case SocketError.ConnectionAborted: return "connection aborted";
        }
        if (e is HttpRequestException h)
        {
            switch (h.HttpRequestError)
            {
                case HttpRequestError.NameResolutionError: return "host not found";
                case HttpRequestError.SecureConnectionError: return "TLS handshake failed";
                case HttpRequestError.ResponseEnded: return "the connection closed before the answer was complete";
                case HttpRequestError.InvalidResponse: return "the answer is not HTTP";
            }
        }
        var inner = e;
        while (inner.InnerException is not null) inner = inner.InnerException;
        return Text.OneLine(inner.Message.TrimEnd('.'), 160);
    }

    private static SocketError? FindSocketError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is SocketException s) return s.SocketErrorCode;
        return null;
    }

    private static string? FirstLine(string body)
    {
        var line = body.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? null : Text.OneLine(line, 160);
    }
}
