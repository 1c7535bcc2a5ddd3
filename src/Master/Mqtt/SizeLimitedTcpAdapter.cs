using System.Net;
using System.Net.Sockets;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Server;

namespace AiSystem.Master.Mqtt;

/// <summary>
/// The embedded broker's TCP endpoint. MQTTnet's own reads a whole packet into memory before anyone can look at it (a
/// 200 MB publish is 200 MB of heap); this one reads each packet's length from its header and closes the connection
/// when it is over the limit, before a byte of the body is buffered. It also binds only the addresses it is given.
/// </summary>
public sealed class SizeLimitedTcpAdapter(IReadOnlyList<IPAddress> addresses, int port, int maxPacketBytes, ILogger log) : IMqttServerAdapter
{
    private readonly List<TcpListener> _listeners = [];
    private readonly CancellationTokenSource _stop = new();

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        foreach (var address in addresses)
        {
            var listener = new TcpListener(address, port);
            if (address.Equals(IPAddress.IPv6Any)) listener.Server.DualMode = true;
            try
            {
                listener.Start();
            }
            catch (SocketException e) when (address.AddressFamily == AddressFamily.InterNetworkV6 && _listeners.Count > 0)
            {
                listener.Dispose(); // no IPv6 here: the IPv4 listener serves
                log.LogDebug("Embedded MQTT broker: not listening on {Address} ({Error})", address, e.Message);
                continue;
            }
            _listeners.Add(listener);
            _ = Task.Run(() => AcceptAsync(listener, options, logger, _stop.Token));
        }
        return Task.CompletedTask;
    }

    private async Task AcceptAsync(TcpListener listener, MqttServerOptions options, IMqttNetLogger logger, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(ct);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                log.LogWarning("Embedded MQTT broker: accepting a connection failed: {Error}", e.Message);
                continue;
            }
            _ = Task.Run(() => ServeAsync(socket, options, logger), CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket socket, MqttServerOptions options, IMqttNetLogger logger)
    {
        socket.NoDelay = true;
        var remote = socket.RemoteEndPoint;
        var tcp = new MqttTcpChannel(new NetworkStream(socket, ownsSocket: true), socket.LocalEndPoint, remote, null);
        var channel = new SizeLimitedChannel(tcp, maxPacketBytes, length =>
            log.LogWarning("Embedded MQTT broker: closed the connection from {Remote}: a packet of {Bytes} bytes, the limit is {Limit} (Mqtt__MaxMessageBytes)",
                remote, length, maxPacketBytes));
        var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        using var adapter = new MqttChannelAdapter(channel, formatter, logger)
        {
            AllowPacketFragmentation = options.DefaultEndpointOptions.AllowPacketFragmentation,
        };
        try
        {
            if (ClientHandler is { } handler) await handler(adapter);
        }
        catch (Exception e)
        {
            log.LogDebug("Embedded MQTT broker: connection from {Remote} ended: {Error}", remote, e.Message);
        }
    }

    public Task StopAsync()
    {
        _stop.Cancel();
        foreach (var l in _listeners) l.Stop();
        _listeners.Clear();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        StopAsync();
        _stop.Dispose();
    }

    /// <summary>
    /// Follows the MQTT framing of what the client sends (type byte, variable-length remaining length, body) and fails
    /// the read that completes a header announcing more than the limit, so the adapter never allocates the body.
    /// </summary>
    private sealed class SizeLimitedChannel(IMqttChannel inner, int limit, Action<long> oversize) : IMqttChannel
    {
        private int _state; // 0: the type byte is next, 1: inside the remaining length, 2: inside the body
        private long _length, _remaining;
        private int _lengthBytes;

        public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            var read = await inner.ReadAsync(buffer, offset, count, cancellationToken).ConfigureAwait(false);
            Follow(buffer.AsSpan(offset, read));
            return read;
        }

        private void Follow(ReadOnlySpan<byte> bytes)
        {
            var i = 0;
            while (i < bytes.Length)
            {
                switch (_state)
                {
                    case 0:
                        i++;
                        (_state, _length, _lengthBytes) = (1, 0, 0);
                        break;
                    case 1:
                        var b = bytes[i++];
                        _length |= (long)(b & 0x7F) << (7 * _lengthBytes++);
                        if ((b & 0x80) != 0)
                        {
                            if (_lengthBytes == 4) throw new IOException("malformed MQTT remaining length");
                            break;
                        }
                        if (_length > limit)
                        {
                            oversize(_length);
                            throw new IOException($"MQTT packet of {_length} bytes is over the limit of {limit}");
                        }
                        _remaining = _length;
                        _state = _remaining == 0 ? 0 : 2;
                        break;
                    default:
                        var take = (int)Math.Min(_remaining, bytes.Length - i);
                        i += take;
                        _remaining -= take;
                        if (_remaining == 0) _state = 0;
                        break;
                }
            }
        }

        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);
        public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);
        public Task WriteAsync(System.Buffers.ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken) =>
            inner.WriteAsync(buffer, isEndOfPacket, cancellationToken);
        public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate => inner.ClientCertificate;
        public EndPoint RemoteEndPoint => inner.RemoteEndPoint;
        public EndPoint LocalEndPoint => inner.LocalEndPoint;
        public bool IsSecureConnection => inner.IsSecureConnection;
        public void Dispose() => inner.Dispose();
    }
}
