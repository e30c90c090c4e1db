using System.Collections.Generic;
using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// <c>crowd</c> (section 6.1): the animation state of one cell's twins as quantized codes, a
    /// keyframe (<c>Base == Seq</c>, every twin) or a delta against the cell's last keyframe.
    /// R = popcount(Changed) + Ids.Length records: the changed base twins in base order, then the
    /// twins of <see cref="Ids"/>. On the wire (protocol 1.1) <c>changed</c>, <c>ids</c> and
    /// <c>gone</c> are raw bins, left out when empty, and <c>rec</c> holds the R records column
    /// after column (pos, heading, speed, activity, clip, phase, blend: 11 R bytes). Bytes per
    /// twin: 15 in a keyframe, 11 in a delta plus one bit per base twin.
    /// </summary>
    public sealed class CrowdMessage : WireMessage
    {
        public const string KindName = "crowd";

        /// <summary>Activity codes are below this.</summary>
        public const int ActivityLimit = 16;

        /// <summary>Bytes of one record in <c>rec</c>: pos 4, heading 2, speed, activity, clip,
        /// phase and blend 1 each.</summary>
        public const int RecordBytes = 11;

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
            msg.Changed = ReadBin(body, "changed", false).ToArray();
            msg.Ids = ReadIds(body, "ids");
            msg.Gone = ReadIds(body, "gone");
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

        static readonly MsgBin NoBytes = new MsgBin(new byte[0], 0, 0);

        /// <summary>The bin <c>body[key]</c>; absent: empty, unless <paramref name="required"/>.</summary>
        static MsgBin ReadBin(MsgMap body, string key, bool required)
        {
            if (!required && !body.ContainsKey(key)) return NoBytes;
            object value = Fields.Require(body, key, "body");
            var bin = value as MsgBin;
            if (bin == null) throw Fields.WrongType("body." + key, "bin", value);
            return bin;
        }

        /// <summary>(n,) ids, ascending, from the optional bin <c>body[key]</c> of n little-endian uint32.</summary>
        static uint[] ReadIds(MsgMap body, string key)
        {
            MsgBin bin = ReadBin(body, key, false);
            if (bin.Count % 4 != 0)
            {
                throw new WireException(
                    WireException.LengthMismatch,
                    "field 'body." + key + "' holds " + bin.Count + " bytes, expected a multiple of 4");
            }
            var ids = new uint[bin.Count / 4];
            for (int i = 0; i < ids.Length; i++) ids[i] = (uint)Little(bin, 4 * i, 4);
            Arrays.CheckAscending(ids, "body." + key);
            return ids;
        }

        static int Little(MsgBin bin, int at, int size)
        {
            int value = 0;
            for (int b = size - 1; b >= 0; b--) value = (value << 8) | bin.Buffer[bin.Offset + at + b];
            return value;
        }

        /// <summary>The columns of <c>rec</c>: R records of 11 bytes, each column for every record
        /// one after the other (pos, heading, speed, activity, clip, phase, blend).</summary>
        static void ReadRecords(MsgMap body, CrowdMessage msg, int rows)
        {
            MsgBin rec = ReadBin(body, "rec", true);
            if (rec.Count != RecordBytes * rows)
            {
                throw new WireException(
                    WireException.LengthMismatch,
                    "field 'body.rec' holds " + rec.Count + " bytes, expected " + RecordBytes * rows + " for " + rows + " records");
            }
            msg.Pos = new short[2 * rows];
            for (int i = 0; i < 2 * rows; i++) msg.Pos[i] = (short)Little(rec, 2 * i, 2);
            msg.Heading = new ushort[rows];
            for (int i = 0; i < rows; i++) msg.Heading[i] = (ushort)Little(rec, 4 * rows + 2 * i, 2);
            msg.Speed = Column(rec, 6, rows);
            msg.Activity = Column(rec, 7, rows);
            foreach (byte code in msg.Activity)
            {
                if (code >= ActivityLimit)
                {
                    throw new WireException(
                        WireException.BadValue,
                        "field 'body.rec' holds activity " + code + ", expected < " + ActivityLimit);
                }
            }
            msg.Clip = Column(rec, 8, rows);
            msg.Phase = Column(rec, 9, rows);
            msg.Blend = Column(rec, 10, rows);
        }

        /// <summary>The one-byte column that starts at byte <c>first * rows</c> of <c>rec</c>.</summary>
        static byte[] Column(MsgBin rec, int first, int rows)
        {
            var column = new byte[rows];
            System.Buffer.BlockCopy(rec.Buffer, rec.Offset + first * rows, column, 0, rows);
            return column;
        }
    }
}
