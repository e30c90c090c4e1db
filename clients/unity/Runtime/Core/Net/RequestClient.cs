using System;
using System.Collections.Generic;
using SynthTwin.Core.MsgPack;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Net
{
    /// <summary>One request in flight, or answered.</summary>
    public sealed class PendingRequest
    {
        /// <summary>The request's id (what its reply echoes) and op.</summary>
        public long Id;
        public string Op;

        /// <summary>The reply once it came, ok or not.</summary>
        public Reply Reply;

        /// <summary>Why no reply will come (timeout, closed), once that is known.</summary>
        public RequestException Failure;

        /// <summary>When it fails with <see cref="RequestException.Timeout"/>, UTC.</summary>
        public DateTime DeadlineUtc;

        /// <summary>Whether it has a reply or a failure.</summary>
        public bool Done
        {
            get { return Reply != null || Failure != null; }
        }

        /// <summary>The result of an ok reply; throws the reply's error or the failure.</summary>
        /// <exception cref="RequestException">an error reply, a timeout or a closed connection.</exception>
        /// <exception cref="InvalidOperationException">not done yet.</exception>
        public MsgMap Result()
        {
            if (Failure != null) throw Failure;
            if (Reply == null) throw new InvalidOperationException("request " + Id + " (" + Op + ") has no reply yet");
            return RequestException.ResultOf(Reply);
        }
    }

    /// <summary>
    /// Requests to the server's ROUTER ops (protocol section 7) with correlation ids: any number
    /// in flight (pipelined, section 3), each reply matched by its <c>id</c>, each request failed
    /// after its timeout or when its connection closes. Single-threaded: the owner calls
    /// <see cref="Deliver"/>, <see cref="Expire"/> and <see cref="FailAll"/> from the thread that
    /// sends.
    /// </summary>
    public sealed class RequestClient
    {
        /// <summary>Default wait for a reply, wall s.</summary>
        public const double DefaultTimeoutS = 10.0;

        readonly Func<byte[], bool> _send;
        readonly string _token;
        readonly Dictionary<long, PendingRequest> _pending = new Dictionary<long, PendingRequest>();
        long _nextId = 1;

        /// <summary>Requests sent with <paramref name="send"/> (false: not sent), carrying
        /// <paramref name="token"/> when not null (section 6.6).</summary>
        public RequestClient(Func<byte[], bool> send, string token = null)
        {
            _send = send;
            _token = token;
        }

        /// <summary>Requests in flight.</summary>
        public int InFlight
        {
            get { return _pending.Count; }
        }

        /// <summary>Send <paramref name="op"/> with <paramref name="args"/> (null: none);
        /// failed at once with <see cref="RequestException.Closed"/> when it cannot be sent.</summary>
        public PendingRequest Send(string op, MsgMap args = null, double timeoutS = DefaultTimeoutS)
        {
            var pending = new PendingRequest
            {
                Id = _nextId++, Op = op, DeadlineUtc = DateTime.UtcNow.AddSeconds(timeoutS),
            };
            var request = new Request { Id = pending.Id, Op = op, Args = args ?? new MsgMap(), Token = _token };
            if (_send(request.Encode())) _pending[pending.Id] = pending;
            else pending.Failure = new RequestException(RequestException.Closed, op + ": not connected");
            return pending;
        }

        /// <summary>Match a reply to its request; false when none waits for it (its id is
        /// unknown, nil, or its request timed out).</summary>
        public bool Deliver(Reply reply)
        {
            PendingRequest pending;
            if (!reply.Id.HasValue || !_pending.TryGetValue(reply.Id.Value, out pending)) return false;
            _pending.Remove(reply.Id.Value);
            pending.Reply = reply;
            return true;
        }

        /// <summary>Fail the requests whose deadline passed by <paramref name="nowUtc"/>.</summary>
        public void Expire(DateTime nowUtc)
        {
            var late = new List<PendingRequest>();
            foreach (PendingRequest pending in _pending.Values)
            {
                if (pending.DeadlineUtc <= nowUtc) late.Add(pending);
            }
            foreach (PendingRequest pending in late)
            {
                _pending.Remove(pending.Id);
                pending.Failure = new RequestException(RequestException.Timeout, pending.Op + ": no reply in time");
            }
        }

        /// <summary>Fail every request in flight (its connection closed: its reply will not come).</summary>
        public void FailAll(string code, string why)
        {
            foreach (PendingRequest pending in _pending.Values)
            {
                pending.Failure = new RequestException(code, pending.Op + ": " + why);
            }
            _pending.Clear();
        }
    }
}
