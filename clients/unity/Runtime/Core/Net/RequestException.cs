using System;
using SynthTwin.Core.MsgPack;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Net
{
    /// <summary>A request the server answered with an error (section 6.7), or that got no
    /// answer in time (<see cref="Timeout"/>) or whose connection closed (<see cref="Closed"/>).</summary>
    public sealed class RequestException : Exception
    {
        /// <summary>The code of a request that got no reply within its timeout.</summary>
        public const string Timeout = "timeout";

        /// <summary>The code of a request whose connection closed before its reply.</summary>
        public const string Closed = "closed";

        /// <summary>A reply error code of section 6.7, <see cref="Timeout"/> or <see cref="Closed"/>.</summary>
        public readonly string Code;

        /// <summary>With rate_limited: how long to wait, wall ms; null otherwise.</summary>
        public readonly long? RetryAfterMs;

        public RequestException(string code, string message, long? retryAfterMs = null)
            : base(code + ": " + message)
        {
            Code = code;
            RetryAfterMs = retryAfterMs;
        }

        /// <summary>The result of <paramref name="reply"/>; throws its error when not ok.</summary>
        public static MsgMap ResultOf(Reply reply)
        {
            if (!reply.Ok)
            {
                throw new RequestException(reply.Error.Code, reply.Error.Message, reply.Error.RetryAfterMs);
            }
            return reply.Result;
        }
    }
}
