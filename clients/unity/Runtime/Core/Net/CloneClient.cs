using System;
using System.Collections.Generic;
using System.Threading;
using SynthTwin.Core.Clone;
using SynthTwin.Core.MsgPack;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Net
{
    /// <summary>
    /// A client of the gateway's WebSocket that keeps a <see cref="Replica"/> of what it
    /// follows: the Clone pattern (protocol section 8) over <see cref="WebSocketTransport"/>.
    /// On every connection (the first, and again after a loss or a server restart) it waits for
    /// its subscriptions to be answered, keeps the PUB messages that arrive meanwhile, sends
    /// <c>roster</c> and <c>snapshot</c> together (rule 7), and once both replies came starts a
    /// new replica from them (a restarted server numbers its messages from 1 again) and applies
    /// the kept messages; a cell whose keyframe was lost gets a snapshot of its own (rule 4).
    /// Single-threaded: call <see cref="Update"/> from one thread (Unity's main thread, each
    /// frame); it never blocks.
    /// </summary>
    public sealed class CloneClient : IDisposable
    {
        /// <summary>PUB messages kept while joining, at most; beyond, the oldest are dropped
        /// (a lost keyframe is recovered by rule 4).</summary>
        public const int MaxKept = 100000;

        /// <summary>Wait before asking roster and snapshot again after a failed join (unless
        /// the reply says how long: rate_limited's retry_after_ms), wall ms.</summary>
        public const long RejoinMs = 500;

        readonly WebSocketTransport _transport;
        DateTime? _rejoinAtUtc;
        readonly Queue<KeyValuePair<string, byte[]>> _kept = new Queue<KeyValuePair<string, byte[]>>();
        PendingRequest _roster, _snapshot, _recovery;
        int _awaitedAnswers = -1; // subscription answers awaited before joining; -1: not joining

        /// <summary>The latest replica (null until the first join); replaced by a new one after
        /// each reconnect's join.</summary>
        public Replica Replica { get; private set; }

        /// <summary>Requests over the same connection.</summary>
        public readonly RequestClient Requests;

        /// <summary>Joins completed (1 after the first; one more after each reconnect).</summary>
        public int Joins { get; private set; }

        /// <summary>Times the gateway skipped this client ahead (it read too slowly).</summary>
        public int Skipped { get; private set; }

        /// <summary>Replies and text messages that could not be read, and the last one's reason.</summary>
        public int Rejected { get; private set; }

        /// <summary>Why the last message or join was rejected, or null.</summary>
        public string LastError { get; private set; }

        /// <summary>A client of <paramref name="uri"/> following <paramref name="prefixes"/>
        /// (e.g. <c>cell/</c> for every cell, <c>cell/3/-2/</c>); <c>meta</c> is always
        /// followed. Call <see cref="Start"/>, then <see cref="Update"/>.</summary>
        public CloneClient(Uri uri, IEnumerable<string> prefixes, string token = null)
        {
            _transport = new WebSocketTransport(uri, token);
            Requests = new RequestClient(_transport.SendRequest, token);
            foreach (string prefix in prefixes) _transport.Subscribe(prefix);
            _transport.Subscribe("meta");
        }

        /// <summary>The transport (its subscriptions and connection counts).</summary>
        public WebSocketTransport Transport
        {
            get { return _transport; }
        }

        /// <summary>Start connecting.</summary>
        public void Start()
        {
            _transport.Start();
        }

        /// <summary>Follow a twin's own topics (its pose and vitals).</summary>
        public void Follow(uint twinId)
        {
            _transport.Subscribe("twin/" + twinId + "/");
        }

        /// <summary>Stop following a twin.</summary>
        public void Unfollow(uint twinId)
        {
            _transport.Unsubscribe("twin/" + twinId + "/");
        }

        /// <summary>Apply everything received since the last call; send the join and recovery
        /// requests that are due.</summary>
        public void Update()
        {
            WsEvent next;
            while (_transport.TryReceive(out next)) Handle(next);
            Requests.Expire(DateTime.UtcNow);
            FinishJoin();
            Recover();
        }

        /// <summary>Pump <see cref="Update"/> until <paramref name="pending"/> is done (a helper
        /// for code outside a frame loop: tests, tools); at most its own timeout.</summary>
        public PendingRequest Wait(PendingRequest pending)
        {
            while (!pending.Done)
            {
                Update();
                if (!pending.Done) Thread.Sleep(5);
            }
            return pending;
        }

        void Handle(WsEvent next)
        {
            switch (next.Kind)
            {
                case WsEventKind.Connected:
                    _kept.Clear();
                    _roster = _snapshot = _recovery = null;
                    _rejoinAtUtc = null;
                    _awaitedAnswers = _transport.Prefixes().Length;
                    break;
                case WsEventKind.Disconnected:
                    Requests.FailAll(RequestException.Closed, "the connection closed");
                    _awaitedAnswers = -1;
                    break;
                case WsEventKind.Control:
                    Control(next.Text);
                    break;
                case WsEventKind.Reply:
                    Deliver(next.Payload);
                    break;
                default:
                    if (_awaitedAnswers >= 0 || _roster != null)
                    {
                        _kept.Enqueue(new KeyValuePair<string, byte[]>(next.Topic, next.Payload));
                        if (_kept.Count > MaxKept) _kept.Dequeue();
                    }
                    else if (Replica != null)
                    {
                        Replica.Receive(next.Topic, next.Payload);
                    }
                    break;
            }
        }

        void Control(string text)
        {
            Dictionary<string, string> answer = WsFrame.ParseControl(text);
            string op;
            if (answer == null || !answer.TryGetValue("op", out op))
            {
                Reject("a text message that is not the gateway's: " + WireException.Clip(text));
                return;
            }
            if (op == "skipped") Skipped++;
            if (op == "error") Reject("the gateway: " + (answer.ContainsKey("message") ? answer["message"] : text));
            bool answers = op == "subscribed" || op == "error";
            if (answers && _awaitedAnswers > 0 && --_awaitedAnswers == 0) SendJoin();
        }

        void Reject(string why)
        {
            Rejected++;
            LastError = why;
        }

        void Deliver(byte[] payload)
        {
            try
            {
                if (!Requests.Deliver(Reply.Decode(payload))) Reject("a reply nobody waits for");
            }
            catch (WireException error)
            {
                Reject("reply: " + error.Code + ": " + error.Message);
            }
        }

        void SendJoin()
        {
            _awaitedAnswers = -1;
            _roster = Requests.Send("roster");
            _snapshot = Requests.Send("snapshot");
        }

        static RequestException ErrorOf(Reply reply)
        {
            return new RequestException(reply.Error.Code, reply.Error.Message, reply.Error.RetryAfterMs);
        }

        void FinishJoin()
        {
            if (_rejoinAtUtc.HasValue && DateTime.UtcNow >= _rejoinAtUtc.Value)
            {
                _rejoinAtUtc = null;
                if (_transport.IsConnected) SendJoin();
            }
            if (_roster == null || !_roster.Done || !_snapshot.Done) return;
            PendingRequest roster = _roster, snapshot = _snapshot;
            _roster = _snapshot = null;
            if (roster.Reply == null || snapshot.Reply == null || !roster.Reply.Ok || !snapshot.Reply.Ok)
            {
                RequestException why = roster.Failure ?? snapshot.Failure ?? ErrorOf(roster.Reply.Ok ? snapshot.Reply : roster.Reply);
                Reject("join: " + why.Message);
                long waitMs = why.RetryAfterMs ?? RejoinMs;
                _rejoinAtUtc = DateTime.UtcNow.AddMilliseconds(waitMs);
                return;
            }
            var replica = new Replica();
            try
            {
                replica.Join(roster.Reply, snapshot.Reply);
            }
            catch (Exception error)
            {
                Reject("join: " + error.Message);
                return;
            }
            while (_kept.Count > 0)
            {
                KeyValuePair<string, byte[]> kept = _kept.Dequeue();
                replica.Receive(kept.Key, kept.Value);
            }
            Replica = replica;
            Joins++;
        }

        void Recover()
        {
            if (Replica == null) return;
            if (_recovery != null)
            {
                if (!_recovery.Done) return;
                if (_recovery.Reply != null && _recovery.Reply.Ok) Replica.Recover(_recovery.Reply);
                _recovery = null;
            }
            List<object> cells = Replica.Recovery();
            if (cells == null) return;
            var args = new MsgMap();
            args["cells"] = cells;
            _recovery = Requests.Send("snapshot", args);
        }

        /// <summary>Close the connection.</summary>
        public void Dispose()
        {
            _transport.Dispose();
        }
    }
}
