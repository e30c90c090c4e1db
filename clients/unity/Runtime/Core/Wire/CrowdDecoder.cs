using System;
using System.Collections.Generic;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// The full, dequantized crowd of one cell after a message, ids ascending (N twins).
    /// Decoded values (section 6.1): <c>x = (ix + 0.5) * 2000 + pos * 0.05</c> m,
    /// <c>heading = code * 2 pi / 65536</c> rad, <c>speed = code * 0.1</c> m/s,
    /// <c>phase = code / 255</c>, <c>blend = code / 255</c>.
    /// </summary>
    public sealed class CrowdState
    {
        /// <summary>Cell index (ix, iy).</summary>
        public int CellX, CellY;

        /// <summary>Envelope of the last message applied.</summary>
        public long Tick, Seq;

        /// <summary>Simulation time of the last message applied, s.</summary>
        public double TimeS;

        /// <summary>(N,) twin ids, ascending.</summary>
        public uint[] Ids;

        /// <summary>(N * 2,) map position x east, y north, m.</summary>
        public double[] PosM;

        /// <summary>(N,) heading in [0, 2 pi), 0 = east, counter-clockwise, rad.</summary>
        public float[] HeadingRad;

        /// <summary>(N,) ground speed, m/s.</summary>
        public float[] SpeedMps;

        /// <summary>(N,) activity code and animation clip code (names in meta).</summary>
        public byte[] Activity, Clip;

        /// <summary>(N,) clip phase in [0, 1] at <see cref="SampleTimeS"/>, and blend weight in [0, 1].</summary>
        public float[] Phase, Blend;

        /// <summary>(N,) sim time of the message that last carried each twin's record, s.</summary>
        public double[] SampleTimeS;
    }

    /// <summary>
    /// The subscriber side of the crowd stream (section 6.1, subscriber rules; the Clone pattern
    /// with keyframes, ZeroMQ guide chapter 5): per cell, the last keyframe and the state after
    /// the last message. A message at or below the cell's last seq is stale and ignored; a delta
    /// whose keyframe is not held is <c>unknown_base</c>.
    /// </summary>
    public sealed class CrowdDecoder
    {
        /// <summary>Position quantum, m.</summary>
        public const double PosQuantumM = 0.05;

        /// <summary>Side of a cell, m (fixed by protocol version 1).</summary>
        public const double CellSizeM = 2000.0;

        /// <summary>Heading codes in a full turn.</summary>
        public const int HeadingCodes = 65536;

        /// <summary>Speed quantum, m/s.</summary>
        public const double SpeedQuantumMps = 0.1;

        /// <summary>Phase and blend codes of 1.</summary>
        public const float UnitCodes = 255f;

        sealed class Keyframe
        {
            public long Seq;
            public double TimeS;
            public CrowdMessage Records; // a keyframe message: ids and records of every twin
        }

        sealed class Cell
        {
            public Keyframe Key;
            public CrowdState State;
        }

        readonly Dictionary<long, Cell> _cells = new Dictionary<long, Cell>();

        static long CellKey(int ix, int iy)
        {
            return ((long)ix << 32) | (uint)iy;
        }

        /// <summary>Apply one crowd payload; returns the full state of its cell.</summary>
        /// <exception cref="WireException">any decode error; unknown_base; length_mismatch or
        /// bad_value from applying a delta to its keyframe (section 10).</exception>
        public CrowdState Apply(byte[] payload)
        {
            return ApplyMessage(CrowdMessage.Decode(payload));
        }

        /// <summary><see cref="Apply"/> of a decoded message.</summary>
        public CrowdState ApplyMessage(CrowdMessage msg)
        {
            long key = CellKey(msg.CellX, msg.CellY);
            Cell held;
            _cells.TryGetValue(key, out held);
            if (held != null && msg.Seq <= held.State.Seq) return held.State;
            Cell next;
            if (msg.IsKeyframe)
            {
                var keyframe = new Keyframe { Seq = msg.Seq, TimeS = msg.TimeS, Records = msg };
                next = new Cell { Key = keyframe, State = FromKeyframe(msg) };
            }
            else if (held == null || held.Key.Seq != msg.Base)
            {
                string has = held != null ? "seq " + held.Key.Seq : "none";
                throw new WireException(
                    WireException.UnknownBase,
                    "cell [" + msg.CellX + ", " + msg.CellY + "]: delta needs keyframe seq " + msg.Base
                    + ", decoder has " + has);
            }
            else
            {
                next = new Cell { Key = held.Key, State = Rebuild(msg, held.Key) };
            }
            _cells[key] = next;
            return next.State;
        }

        static CrowdState NewState(CrowdMessage msg, int n)
        {
            return new CrowdState
            {
                CellX = msg.CellX, CellY = msg.CellY, Tick = msg.Tick, Seq = msg.Seq, TimeS = msg.TimeS,
                Ids = new uint[n], PosM = new double[2 * n], HeadingRad = new float[n],
                SpeedMps = new float[n], Activity = new byte[n], Clip = new byte[n],
                Phase = new float[n], Blend = new float[n], SampleTimeS = new double[n],
            };
        }

        /// <summary>Row <paramref name="to"/> of <paramref name="state"/> from record
        /// <paramref name="from"/> of <paramref name="src"/>, sampled at <paramref name="timeS"/>.</summary>
        static void CopyRecord(CrowdState state, int to, uint id, CrowdMessage src, int from, double timeS)
        {
            state.Ids[to] = id;
            state.PosM[2 * to] = (state.CellX + 0.5) * CellSizeM + src.Pos[2 * from] * PosQuantumM;
            state.PosM[2 * to + 1] = (state.CellY + 0.5) * CellSizeM + src.Pos[2 * from + 1] * PosQuantumM;
            state.HeadingRad[to] = (float)(src.Heading[from] * (2 * Math.PI / HeadingCodes));
            state.SpeedMps[to] = (float)(src.Speed[from] * SpeedQuantumMps);
            state.Activity[to] = src.Activity[from];
            state.Clip[to] = src.Clip[from];
            state.Phase[to] = src.Phase[from] / UnitCodes;
            state.Blend[to] = src.Blend[from] / UnitCodes;
            state.SampleTimeS[to] = timeS;
        }

        static CrowdState FromKeyframe(CrowdMessage msg)
        {
            CrowdState state = NewState(msg, msg.Ids.Length);
            for (int i = 0; i < msg.Ids.Length; i++) CopyRecord(state, i, msg.Ids[i], msg, i, msg.TimeS);
            return state;
        }

        /// <summary>(K,) which base twins changed; checks the bitmask's length and padding.</summary>
        static bool[] ChangedMask(CrowdMessage msg, int baseCount)
        {
            int need = (baseCount + 7) / 8;
            if (msg.Changed.Length != need)
            {
                throw new WireException(
                    WireException.LengthMismatch,
                    "field 'body.changed' has " + msg.Changed.Length + " bytes, expected " + need
                    + " for a base of " + baseCount + " twins");
            }
            var mask = new bool[baseCount];
            for (int i = 0; i < 8 * need; i++)
            {
                bool set = (msg.Changed[i >> 3] >> (i & 7) & 1) != 0;
                if (i < baseCount) mask[i] = set;
                else if (set)
                {
                    throw new WireException(
                        WireException.BadValue,
                        "field 'body.changed' sets bits beyond the base's " + baseCount + " twins");
                }
            }
            return mask;
        }

        /// <summary>(K,) which base twins are gone; checks ids and gone against the base.</summary>
        static bool[] GoneMask(CrowdMessage msg, uint[] baseIds, bool[] changed)
        {
            foreach (uint id in msg.Ids)
            {
                if (Array.BinarySearch(baseIds, id) >= 0)
                {
                    throw new WireException(
                        WireException.BadValue, "field 'body.ids' holds " + id + ", which is in the base keyframe");
                }
            }
            var gone = new bool[baseIds.Length];
            foreach (uint id in msg.Gone)
            {
                int at = Array.BinarySearch(baseIds, id);
                if (at < 0)
                {
                    throw new WireException(
                        WireException.BadValue, "field 'body.gone' holds " + id + ", which is not in the base keyframe");
                }
                gone[at] = true;
            }
            for (int i = 0; i < baseIds.Length; i++)
            {
                if (gone[i] && changed[i])
                {
                    throw new WireException(
                        WireException.BadValue, "twin " + baseIds[i] + " is both changed and gone");
                }
            }
            return gone;
        }

        /// <summary>The keyframe's twins minus the gone ones, changed ones replaced, new ones
        /// added: a merge of two ascending id lists.</summary>
        static CrowdState Rebuild(CrowdMessage msg, Keyframe key)
        {
            CrowdMessage base_ = key.Records;
            uint[] baseIds = base_.Ids;
            bool[] changed = ChangedMask(msg, baseIds.Length);
            bool[] gone = GoneMask(msg, baseIds, changed);
            int nChanged = CrowdMessage.PopCount(msg.Changed);
            CrowdState state = NewState(msg, baseIds.Length - msg.Gone.Length + msg.Ids.Length);
            int b = 0, a = 0, row = 0, changedRow = 0;
            while (b < baseIds.Length || a < msg.Ids.Length)
            {
                if (b < baseIds.Length && gone[b])
                {
                    b++;
                }
                else if (a >= msg.Ids.Length || (b < baseIds.Length && baseIds[b] < msg.Ids[a]))
                {
                    if (changed[b]) CopyRecord(state, row++, baseIds[b], msg, changedRow++, msg.TimeS);
                    else CopyRecord(state, row++, baseIds[b], base_, b, key.TimeS);
                    b++;
                }
                else
                {
                    CopyRecord(state, row++, msg.Ids[a], msg, nChanged + a, msg.TimeS);
                    a++;
                }
            }
            return state;
        }
    }
}
