using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>Why a request failed (section 6.7).</summary>
    public sealed class ReplyError
    {
        /// <summary>bad_request, unknown_op, unknown_twin, out_of_range, unauthorized, forbidden,
        /// rate_limited or internal.</summary>
        public string Code;

        /// <summary>What went wrong, for people.</summary>
        public string Message;

        /// <summary>With rate_limited: how long to wait, wall ms; null otherwise.</summary>
        public long? RetryAfterMs;
    }

    /// <summary>
    /// <c>reply</c> (section 6.7): the server's answer to one request. The envelope's seq is the
    /// last sequence number the server had published (for <c>snapshot</c>, the snapshot's S).
    /// </summary>
    public sealed class Reply : WireMessage
    {
        public const string KindName = "reply";

        /// <summary>The request's id; null when the request could not be read.</summary>
        public long? Id;

        /// <summary>Whether the operation succeeded.</summary>
        public bool Ok;

        /// <summary>When ok: the result (numeric arrays as <see cref="NumArray"/>); else null.</summary>
        public MsgMap Result;

        /// <summary>When not ok: the error; else null.</summary>
        public ReplyError Error;

        /// <summary>Decode and check a reply payload (fields in table order).</summary>
        /// <exception cref="WireException">any envelope or field error of section 10.</exception>
        public static Reply Decode(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload, KindName));
        }

        /// <summary>The reply in a decoded envelope.</summary>
        public static Reply FromEnvelope(Envelope envelope)
        {
            var msg = new Reply();
            msg.SetEnvelope(envelope);
            msg.Id = Fields.ReadOptionalInt(envelope.Body, "id", "body");
            msg.Ok = Fields.ReadBool(envelope.Body, "ok", "body");
            if (msg.Ok)
            {
                msg.Result = (MsgMap)Arrays.FromWire(Fields.ReadMap(envelope.Body, "result", "body"), "body.result");
                return msg;
            }
            MsgMap error = Fields.ReadMap(envelope.Body, "error", "body");
            msg.Error = new ReplyError
            {
                Code = Fields.ReadStr(error, "code", "body.error"),
                Message = Fields.ReadStr(error, "message", "body.error"),
            };
            if (error.ContainsKey("retry_after_ms"))
            {
                msg.Error.RetryAfterMs = Fields.ReadInt(error, "retry_after_ms", "body.error", 0);
            }
            return msg;
        }
    }
}
