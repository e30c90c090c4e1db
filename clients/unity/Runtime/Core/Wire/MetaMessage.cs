namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// <c>meta</c> (section 6.5): the tables that name the other messages' codes, and roster
    /// changes since the previous <c>meta</c>.
    /// </summary>
    public sealed class MetaMessage : WireMessage
    {
        public const string KindName = "meta";

        /// <summary>Highest protocol version the server speaks.</summary>
        public long Protocol;

        /// <summary>Local calendar time at t = 0, ISO 8601 without zone.</summary>
        public string Epoch;

        /// <summary>Activity names (index = code) and animation clip names (index = code).</summary>
        public string[] Activities, Clips;

        /// <summary>(k,) twins spawned / despawned since the previous meta, ascending.</summary>
        public uint[] Added, Removed;

        /// <summary>Decode and check a meta payload (fields in table order).</summary>
        /// <exception cref="WireException">any envelope or field error of section 10.</exception>
        public static MetaMessage Decode(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload, KindName));
        }

        /// <summary>The meta message in a decoded envelope.</summary>
        public static MetaMessage FromEnvelope(Envelope envelope)
        {
            var msg = new MetaMessage();
            msg.SetEnvelope(envelope);
            msg.Protocol = Fields.ReadInt(envelope.Body, "protocol", "body", 1);
            msg.Epoch = Fields.ReadStr(envelope.Body, "epoch", "body");
            msg.Activities = Fields.ReadNames(envelope.Body, "activities", "body");
            msg.Clips = Fields.ReadNames(envelope.Body, "clips", "body");
            msg.Added = Arrays.Read(envelope.Body, "added", "body", "<u4").ToUInt32();
            Arrays.CheckAscending(msg.Added, "body.added");
            msg.Removed = Arrays.Read(envelope.Body, "removed", "body", "<u4").ToUInt32();
            Arrays.CheckAscending(msg.Removed, "body.removed");
            return msg;
        }
    }
}
