using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// <c>event</c> (section 6.4): something that happened at the envelope's time, on topic
    /// <c>event/&lt;type&gt;</c>. Type <c>activity</c>: data <c>{"old": int, "new": int}</c>
    /// (activity codes). Receivers ignore types they do not know.
    /// </summary>
    public sealed class EventMessage : WireMessage
    {
        public const string KindName = "event";

        /// <summary>Non-empty, without '/'.</summary>
        public string Type;

        /// <summary>The twin concerned, or null for a world event.</summary>
        public long? TwinId;

        /// <summary>The type's fields; numeric arrays as <see cref="NumArray"/>.</summary>
        public MsgMap Data;

        /// <summary>Decode and check an event payload (fields in table order).</summary>
        /// <exception cref="WireException">any envelope or field error of section 10.</exception>
        public static EventMessage Decode(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload, KindName));
        }

        /// <summary>The event in a decoded envelope.</summary>
        public static EventMessage FromEnvelope(Envelope envelope)
        {
            var msg = new EventMessage();
            msg.SetEnvelope(envelope);
            msg.Type = Fields.ReadStr(envelope.Body, "type", "body");
            if (msg.Type.Length == 0 || msg.Type.IndexOf('/') >= 0)
            {
                throw new WireException(
                    WireException.BadValue, "field 'body.type' must be non-empty and without '/'");
            }
            msg.TwinId = Fields.ReadOptionalInt(envelope.Body, "twin", "body");
            msg.Data = (MsgMap)Arrays.FromWire(Fields.ReadMap(envelope.Body, "data", "body"), "body.data");
            return msg;
        }
    }
}
