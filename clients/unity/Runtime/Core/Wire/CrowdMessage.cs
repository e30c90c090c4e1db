using System.Collections.Generic;
using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// <c>crowd</c> (section 6.1): the animation state of one cell's twins as quantized codes, a
    /// keyframe (<c>Base == Seq</c>, every twin) or a delta against the cell's last keyframe.
    /// R = popcount(Changed) + Ids.Length records: the changed base twins in base order, then the
    /// twins of <see cref="Ids"/>. Bytes per twin: 15 in a keyframe, 11 in a delta plus one bit
    /// per base twin.
    /// </summary>
    public sealed class CrowdMessage : WireMessage
    {
        public const string KindName = "crowd";

        /// <summary>Activity codes are below this.</summary>
        public const int ActivityLimit = 16;

        /// <summary>Cell index (ix, iy).</summary>
        public int CellX, CellY;

        /// <summary>Seq of the base keyframe; <see cref="WireMessage.Seq"/> for a keyframe.</summary>
        public long Base;

        /// <summary>(B,) bitmask over the base keyframe's twins, least significant bit first.</summary>
        public byte[] Changed;

        /// <summary>(A,) twins not in the base, ascending.</summary>
        public uint[] Ids;

        /// <summary>(G,) base twins that left the cell, ascending.</summary>
        public uint[] Gone;

        /// <summary>(R * 2,) x, y offsets from the cell centre, 0.05 m units.</summary>
        public short[] Pos;

        /// <summary>(R,) heading * 65536 / 2 pi, 0 = east, counter-clockwise.</summary>
        public ushort[] Heading;

        /// <summary>(R,) speed, 0.1 m/s; activity code; clip code; phase * 255; blend * 255.</summary>
        public byte[] Speed, Activity, Clip, Phase, Blend;

        /// <summary>Whether this is a keyframe.</summary>
        public bool IsKeyframe
        {
            get { return Base == Seq; }
        }

        /// <summary>Decode and check a crowd payload (fields in the order of section 6.1).</summary>
        /// <exception cref="WireException">any envelope or field error of section 10.</exception>
        public static CrowdMessage Decode(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload, KindName));
        }

        /// <summary>The crowd message in a decoded envelope.</summary>
        public static CrowdMessage FromEnvelope(Envelope envelope)
        {
            MsgMap body = envelope.Body;
            var msg = new CrowdMessage();
            msg.SetEnvelope(envelope);
            ReadCell(body, msg);
            msg.Base = Fields.ReadInt(body, "base", "body", 0);
            if (msg.Base > envelope.Seq)
            {
                throw new WireException(
                    WireException.BadValue,
                    "field 'body.base' holds " + msg.Base + ", expected <= seq " + envelope.Seq);
            }
            msg.Changed = Arrays.Read(body, "changed", "body", "|u1").ToBytes();
            msg.Ids = Arrays.Read(body, "ids", "body", "<u4").ToUInt32();
            Arrays.CheckAscending(msg.Ids, "body.ids");
            msg.Gone = Arrays.Read(body, "gone", "body", "<u4").ToUInt32();
            Arrays.CheckAscending(msg.Gone, "body.gone");
            if (msg.IsKeyframe && (msg.Changed.Length > 0 || msg.Gone.Length > 0))
            {
                throw new WireException(
                    WireException.BadValue, "a keyframe (base == seq) must have empty changed and gone");
            }
            ReadRecords(body, msg, PopCount(msg.Changed) + msg.Ids.Length);
            return msg;
        }

        static void ReadCell(MsgMap body, CrowdMessage msg)
        {
            List<object> cell = Fields.ReadList(body, "cell", "body");
            if (cell.Count != 2 || !(cell[0] is long) || !(cell[1] is long)
                || (long)cell[0] < int.MinValue || (long)cell[0] > int.MaxValue
                || (long)cell[1] < int.MinValue || (long)cell[1] > int.MaxValue)
            {
                throw new WireException(WireException.WrongType, "field 'body.cell' must be an array of 2 int");
            }
            msg.CellX = (int)(long)cell[0];
            msg.CellY = (int)(long)cell[1];
        }

        /// <summary>Set bits of a bitmask.</summary>
        public static int PopCount(byte[] bits)
        {
            int count = 0;
            foreach (byte b in bits)
            {
                for (int v = b; v != 0; v &= v - 1) count++;
            }
            return count;
        }

        static NumArray Record(MsgMap body, string name, string dtype, int rows, params int?[] trailing)
        {
            NumArray array = Arrays.Read(body, name, "body", dtype, trailing);
            Arrays.CheckRows(array, "body." + name, rows);
            return array;
        }

        static void ReadRecords(MsgMap body, CrowdMessage msg, int rows)
        {
            msg.Pos = Record(body, "pos", "<i2", rows, 2).ToInt16();
            msg.Heading = Record(body, "heading", "<u2", rows).ToUInt16();
            msg.Speed = Record(body, "speed", "|u1", rows).ToBytes();
            msg.Activity = Record(body, "activity", "|u1", rows).ToBytes();
            foreach (byte code in msg.Activity)
            {
                if (code >= ActivityLimit)
                {
                    throw new WireException(
                        WireException.BadValue,
                        "field 'body.activity' holds " + code + ", expected < " + ActivityLimit);
                }
            }
            msg.Clip = Record(body, "clip", "|u1", rows).ToBytes();
            msg.Phase = Record(body, "phase", "|u1", rows).ToBytes();
            msg.Blend = Record(body, "blend", "|u1", rows).ToBytes();
        }
    }
}
