using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace SynthTwin.Core.Net
{
    /// <summary>What the transport received or went through, in order.</summary>
    public enum WsEventKind
    {
        /// <summary>A connection opened (the first, or again after a loss); its subscriptions
        /// were sent again.</summary>
        Connected,

        /// <summary>The connection closed or failed; the transport reconnects.</summary>
        Disconnected,

        /// <summary>A PUB message: <see cref="WsEvent.Topic"/> and <see cref="WsEvent.Payload"/>.</summary>
        Message,

        /// <summary>A reply's payload.</summary>
        Reply,

        /// <summary>A text message of the gateway: <see cref="WsEvent.Text"/>.</summary>
        Control,
    }

    /// <summary>One thing the transport received or went through.</summary>
    public sealed class WsEvent
    {
        public WsEventKind Kind;
        public string Topic;
        public byte[] Payload;
        public string Text;
    }

    /// <summary>
    /// The gateway's WebSocket (<see cref="WsFrame"/>) over
    /// <see cref="System.Net.WebSockets.ClientWebSocket"/>, with reconnect: a background task
    /// connects, sends the subscriptions held, and receives into a thread-safe queue that the
    /// owner drains from its own thread (<see cref="TryReceive"/>: Unity's main thread); a lost
    /// connection is retried after a delay that doubles from <see cref="ReconnectMinS"/> to
    /// <see cref="ReconnectMaxS"/>. Nothing here blocks the caller: sends are queued.
    /// </summary>
    public sealed class WebSocketTransport : IDisposable
    {
        /// <summary>First and longest wait before reconnecting, wall s.</summary>
        public double ReconnectMinS = 0.1, ReconnectMaxS = 2.0;

        /// <summary>Largest message received, bytes (the gateway's replies and snapshots are
        /// far smaller); a larger one closes the connection.</summary>
        public int MaxMessageBytes = 64 << 20;

        readonly Uri _uri;
        readonly string _token;
        readonly ConcurrentQueue<WsEvent> _events = new ConcurrentQueue<WsEvent>();
        readonly HashSet<string> _prefixes = new HashSet<string>();
        readonly SemaphoreSlim _sending = new SemaphoreSlim(1, 1);
        readonly CancellationTokenSource _stop = new CancellationTokenSource();
        ClientWebSocket _socket;
        Task _loop;
        int _malformed;

        /// <summary>A transport to <paramref name="uri"/> (e.g. ws://127.0.0.1:8000/ws), with
        /// an access token (sent as <c>Authorization: Bearer</c>) or none.</summary>
        public WebSocketTransport(Uri uri, string token = null)
        {
            _uri = uri;
            _token = token;
        }

        /// <summary>Connections opened so far.</summary>
        public int Connections { get; private set; }

        /// <summary>Binary messages dropped because their topic overran them.</summary>
        public int Malformed
        {
            get { return _malformed; }
        }

        /// <summary>Whether a connection is open now.</summary>
        public bool IsConnected
        {
            get
            {
                ClientWebSocket socket = _socket;
                return socket != null && socket.State == WebSocketState.Open;
            }
        }

        /// <summary>Start connecting (once).</summary>
        public void Start()
        {
            if (_loop == null) _loop = Task.Run(() => Run(_stop.Token));
        }

        /// <summary>The next event, if any.</summary>
        public bool TryReceive(out WsEvent next)
        {
            return _events.TryDequeue(out next);
        }

        /// <summary>Receive the topics that start with <paramref name="prefix"/> (e.g.
        /// <c>cell/3/-2/</c>, <c>twin/42/</c>, <c>meta</c>), now and after every reconnect.</summary>
        public void Subscribe(string prefix)
        {
            lock (_prefixes)
            {
                if (!_prefixes.Add(prefix)) return;
            }
            Send(WsFrame.Control("subscribe", prefix));
        }

        /// <summary>Stop receiving a prefix given to <see cref="Subscribe"/>.</summary>
        public void Unsubscribe(string prefix)
        {
            lock (_prefixes)
            {
                if (!_prefixes.Remove(prefix)) return;
            }
            Send(WsFrame.Control("unsubscribe", prefix));
        }

        /// <summary>The prefixes held.</summary>
        public string[] Prefixes()
        {
            lock (_prefixes)
            {
                var prefixes = new string[_prefixes.Count];
                _prefixes.CopyTo(prefixes);
                return prefixes;
            }
        }

        /// <summary>Queue a request payload; false when no connection is open (the request
        /// client then fails it at once).</summary>
        public bool SendRequest(byte[] payload)
        {
            return Send(WsFrame.Frame("", payload));
        }

        bool Send(object message)
        {
            ClientWebSocket socket = _socket;
            if (socket == null || socket.State != WebSocketState.Open) return false;
            SendAsync(socket, message);
            return true;
        }

        async void SendAsync(ClientWebSocket socket, object message)
        {
            var text = message as string;
            byte[] bytes = text != null ? System.Text.Encoding.UTF8.GetBytes(text) : (byte[])message;
            var type = text != null ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
            await _sending.WaitAsync().ConfigureAwait(false);
            try
            {
                await socket.SendAsync(new ArraySegment<byte>(bytes), type, true, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // the receive loop sees the failure and reconnects
            }
            finally
            {
                _sending.Release();
            }
        }

        async Task Run(CancellationToken stop)
        {
            double delayS = ReconnectMinS;
            while (!stop.IsCancellationRequested)
            {
                var socket = new ClientWebSocket();
                socket.Options.AddSubProtocol(WsFrame.Subprotocol);
                if (_token != null) socket.Options.SetRequestHeader("Authorization", "Bearer " + _token);
                try
                {
                    await socket.ConnectAsync(_uri, stop).ConfigureAwait(false);
                    _socket = socket;
                    Connections++;
                    foreach (string prefix in Prefixes()) Send(WsFrame.Control("subscribe", prefix));
                    _events.Enqueue(new WsEvent { Kind = WsEventKind.Connected });
                    delayS = ReconnectMinS;
                    await Receive(socket, stop).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // refused, lost or stopped: retried below unless stopped
                }
                if (_socket == socket)
                {
                    _socket = null;
                    _events.Enqueue(new WsEvent { Kind = WsEventKind.Disconnected });
                }
                socket.Dispose();
                if (stop.IsCancellationRequested) break;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(delayS), stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                delayS = Math.Min(2 * delayS, ReconnectMaxS);
            }
        }

        async Task Receive(ClientWebSocket socket, CancellationToken stop)
        {
            var chunk = new byte[64 << 10];
            var message = new MemoryStream();
            while (socket.State == WebSocketState.Open)
            {
                WebSocketReceiveResult got = await socket.ReceiveAsync(new ArraySegment<byte>(chunk), stop).ConfigureAwait(false);
                if (got.MessageType == WebSocketMessageType.Close) return;
                message.Write(chunk, 0, got.Count);
                if (message.Length > MaxMessageBytes) throw new InvalidDataException("message too large");
                if (!got.EndOfMessage) continue;
                Dispatch(got.MessageType, message.GetBuffer(), (int)message.Length);
                message.SetLength(0);
            }
        }

        void Dispatch(WebSocketMessageType type, byte[] buffer, int length)
        {
            if (type == WebSocketMessageType.Text)
            {
                string text = System.Text.Encoding.UTF8.GetString(buffer, 0, length);
                _events.Enqueue(new WsEvent { Kind = WsEventKind.Control, Text = text });
                return;
            }
            string topic;
            byte[] payload;
            if (!WsFrame.TrySplit(buffer, length, out topic, out payload))
            {
                Interlocked.Increment(ref _malformed); // a topic that overruns its message
                return;
            }
            var kind = topic.Length == 0 ? WsEventKind.Reply : WsEventKind.Message;
            _events.Enqueue(new WsEvent { Kind = kind, Topic = topic, Payload = payload });
        }

        /// <summary>Stop: close the connection and stop reconnecting.</summary>
        public void Dispose()
        {
            _stop.Cancel();
            ClientWebSocket socket = _socket;
            if (socket != null) socket.Abort();
            if (_loop != null) _loop.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
