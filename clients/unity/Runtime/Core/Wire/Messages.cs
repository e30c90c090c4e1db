namespace SynthTwin.Core.Wire
{
    /// <summary>Any message: <see cref="DecodeAny"/> reads the envelope's kind and hands the
    /// body to that kind's decoder.</summary>
    public static class Messages
    {
        /// <summary>The decoded message of a payload of any kind: a <see cref="CrowdMessage"/>,
        /// <see cref="PoseMessage"/>, <see cref="VitalsMessage"/>, <see cref="EventMessage"/>,
        /// <see cref="MetaMessage"/>, <see cref="Request"/>, <see cref="Reply"/> or
        /// <see cref="ShapeMessage"/>.</summary>
        /// <exception cref="WireException">as the kind's own decoder; unknown_kind.</exception>
        public static WireMessage DecodeAny(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload));
        }

        /// <summary><see cref="DecodeAny"/> of a decoded envelope.</summary>
        public static WireMessage FromEnvelope(Envelope envelope)
        {
            switch (envelope.Kind)
            {
                case CrowdMessage.KindName: return CrowdMessage.FromEnvelope(envelope);
                case PoseMessage.KindName: return PoseMessage.FromEnvelope(envelope);
                case VitalsMessage.KindName: return VitalsMessage.FromEnvelope(envelope);
                case EventMessage.KindName: return EventMessage.FromEnvelope(envelope);
                case MetaMessage.KindName: return MetaMessage.FromEnvelope(envelope);
                case Request.KindName: return Request.FromEnvelope(envelope);
                case ShapeMessage.KindName: return ShapeMessage.FromEnvelope(envelope);
                default: return Reply.FromEnvelope(envelope);
            }
        }
    }
}
