using System;
using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// The envelope every payload travels in (section 4.2): the map
    /// <c>{v, kind, tick, seq, t, body}</c>, checked in that order (section 10).
    /// </summary>
    public sealed class Envelope
    {
        /// <summary>The protocol version this package speaks.</summary>
        public const int ProtocolVersion = 1;

        /// <summary>The message kinds of protocol version 1.</summary>
        public static readonly string[] Kinds =
            { "crowd", "pose", "vitals", "event", "meta", "request", "reply", "shape" };

        /// <summary>One of <see cref="Kinds"/>.</summary>
        public readonly string Kind;

        /// <summary>Simulation tick the message describes, &gt;= 0.</summary>
        public readonly long Tick;

        /// <summary>Publisher sequence number, &gt;= 0.</summary>
        public readonly long Seq;

        /// <summary>Simulation time, seconds since the epoch of <c>meta</c>.</summary>
        public readonly double TimeS;

        /// <summary>The kind's fields, as msgpack decoded them.</summary>
        public readonly MsgMap Body;

        Envelope(string kind, long tick, long seq, double timeS, MsgMap body)
        {
            Kind = kind;
            Tick = tick;
            Seq = seq;
            TimeS = timeS;
            Body = body;
        }

        /// <summary>Parse and check the envelope of <paramref name="payload"/>; with
        /// <paramref name="kind"/>, require that kind.</summary>
        /// <exception cref="WireException">not_msgpack, truncated, too_large, not_a_map,
        /// missing_field, wrong_type, bad_version, unknown_kind, wrong_kind or bad_value.</exception>
        public static Envelope Unpack(byte[] payload, string kind = null)
        {
            object value = MsgPackReader.Read(payload);
            var map = value as MsgMap;
            if (map == null)
            {
                throw new WireException(
                    WireException.NotAMap, "payload must be a map, got " + MsgFamily.Of(value));
            }
            long version = Fields.ReadInt(map, "v", "");
            if (version != ProtocolVersion)
            {
                throw new WireException(
                    WireException.BadVersion,
                    "protocol version " + version + " is not supported (expected " + ProtocolVersion + ")");
            }
            string got = Fields.ReadStr(map, "kind", "");
            if (Array.IndexOf(Kinds, got) < 0)
            {
                throw new WireException(
                    WireException.UnknownKind, "unknown kind '" + WireException.Clip(got) + "'");
            }
            if (kind != null && got != kind)
            {
                throw new WireException(
                    WireException.WrongKind, "expected kind '" + kind + "', got '" + got + "'");
            }
            long tick = Fields.ReadInt(map, "tick", "", 0);
            long seq = Fields.ReadInt(map, "seq", "", 0);
            double timeS = Fields.ReadFloat(map, "t", "");
            return new Envelope(got, tick, seq, timeS, Fields.ReadMap(map, "body", ""));
        }
    }

    /// <summary>What every decoded message has: its envelope's tick, seq and time.</summary>
    public abstract class WireMessage
    {
        /// <summary>Simulation tick.</summary>
        public long Tick;

        /// <summary>Publisher sequence number (a reply: the last one published).</summary>
        public long Seq;

        /// <summary>Simulation time, s since the epoch.</summary>
        public double TimeS;

        protected void SetEnvelope(Envelope envelope)
        {
            Tick = envelope.Tick;
            Seq = envelope.Seq;
            TimeS = envelope.TimeS;
        }
    }
}
