using System;
using System.Collections.Generic;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Clone
{
    /// <summary>
    /// Every twin a client knows, once, merged over the cells it follows (N twins, ids
    /// ascending): the arrays a renderer reads each frame. Fields as <see cref="CrowdState"/>.
    /// </summary>
    public sealed class Crowd
    {
        /// <summary>(N,) twin ids, ascending.</summary>
        public uint[] Ids = new uint[0];

        /// <summary>(N * 2,) map position x east, y north, m.</summary>
        public double[] PosM = new double[0];

        /// <summary>(N,) heading, rad, 0 = east, counter-clockwise; ground speed, m/s.</summary>
        public float[] HeadingRad = new float[0], SpeedMps = new float[0];

        /// <summary>(N,) activity and animation clip codes (<see cref="Tables"/> names them).</summary>
        public byte[] Activity = new byte[0], Clip = new byte[0];

        /// <summary>(N,) clip phase in [0, 1] at <see cref="SampleTimeS"/>; blend weight in [0, 1].</summary>
        public float[] Phase = new float[0], Blend = new float[0];

        /// <summary>(N,) sim time of the message that last carried each record, s.</summary>
        public double[] SampleTimeS = new double[0];

        /// <summary>Twins in the crowd.</summary>
        public int Count
        {
            get { return Ids.Length; }
        }

        /// <summary>The row of <paramref name="twinId"/>, or -1.</summary>
        public int Row(uint twinId)
        {
            int row = Array.BinarySearch(Ids, twinId);
            return row >= 0 ? row : -1;
        }

        /// <summary>The clip phase of row <paramref name="row"/> at sim time
        /// <paramref name="simNowS"/>, advanced from its record at the clip's own rate
        /// (<see cref="ClipTable"/>; <paramref name="clips"/>: <c>meta.clips</c>).</summary>
        public double PhaseAt(int row, double simNowS, string[] clips)
        {
            ClipRate clip = Clip[row] < clips.Length ? ClipTable.Find(clips[Clip[row]]) : null;
            return ClipTable.Advance(clip, Phase[row], SpeedMps[row], simNowS - SampleTimeS[row]);
        }

        /// <summary>Seconds the server raises a new clip's blend from 0 to 1 (protocol section 14).</summary>
        public const double BlendRiseS = 0.3;

        /// <summary>The blend weight of row <paramref name="row"/> at sim time
        /// <paramref name="simNowS"/>: its record's, risen linearly at 1 / <see cref="BlendRiseS"/>
        /// a second up to 1.</summary>
        public double BlendAt(int row, double simNowS)
        {
            double dt = Math.Max(0, simNowS - SampleTimeS[row]);
            return Math.Min(1.0, Blend[row] + dt / BlendRiseS);
        }

        /// <summary>The map position (x, y, m) of row <paramref name="row"/> at sim time
        /// <paramref name="simNowS"/>: its record moved on at its speed and heading for as long as
        /// it is old (protocol section 6.1, subscriber rule 5: a record holds until its cell's next
        /// message, and a straight traveller's is up to a keyframe period old, 3 s at time scale 1,
        /// 180 simulated s at 60; the present is bounded by <see cref="SimClock.MaxAheadS"/>).</summary>
        public void PositionAt(int row, double simNowS, out double xM, out double yM)
        {
            double dt = Math.Max(0, simNowS - SampleTimeS[row]);
            xM = PosM[2 * row] + SpeedMps[row] * Math.Cos(HeadingRad[row]) * dt;
            yM = PosM[2 * row + 1] + SpeedMps[row] * Math.Sin(HeadingRad[row]) * dt;
        }

        /// <summary>The rows of the twins within <paramref name="rangeM"/> of map point
        /// (<paramref name="xM"/>, <paramref name="yM"/>) on both axes (a square), into
        /// <paramref name="rows"/> (cleared first), ascending.</summary>
        public void RowsNear(double xM, double yM, double rangeM, List<int> rows)
        {
            rows.Clear();
            for (int i = 0; i < Ids.Length; i++)
            {
                if (Math.Abs(PosM[2 * i] - xM) <= rangeM && Math.Abs(PosM[2 * i + 1] - yM) <= rangeM) rows.Add(i);
            }
        }

        /// <summary>
        /// Every twin of <paramref name="states"/> once. A twin that several cells hold comes from
        /// the cell whose state has the greatest seq (protocol section 8, rule 6): every crowd
        /// message states its cell's whole membership and a publisher places a twin in one cell
        /// at a time, so the newest message that holds a twin is where it last was.
        /// </summary>
        public static Crowd Merge(ICollection<CrowdState> states)
        {
            var picks = new List<KeyValuePair<CrowdState, int>>();
            foreach (CrowdState state in states)
            {
                for (int i = 0; i < state.Ids.Length; i++) picks.Add(new KeyValuePair<CrowdState, int>(state, i));
            }
            picks.Sort((a, b) =>
            {
                int byId = a.Key.Ids[a.Value].CompareTo(b.Key.Ids[b.Value]);
                return byId != 0 ? byId : b.Key.Seq.CompareTo(a.Key.Seq); // newest cell message first
            });
            int n = 0;
            for (int i = 0; i < picks.Count; i++)
            {
                if (i == 0 || Id(picks[i]) != Id(picks[i - 1])) picks[n++] = picks[i];
            }
            var crowd = new Crowd
            {
                Ids = new uint[n], PosM = new double[2 * n], HeadingRad = new float[n], SpeedMps = new float[n],
                Activity = new byte[n], Clip = new byte[n], Phase = new float[n], Blend = new float[n],
                SampleTimeS = new double[n],
            };
            for (int r = 0; r < n; r++)
            {
                CrowdState s = picks[r].Key;
                int i = picks[r].Value;
                crowd.Ids[r] = s.Ids[i];
                crowd.PosM[2 * r] = s.PosM[2 * i];
                crowd.PosM[2 * r + 1] = s.PosM[2 * i + 1];
                crowd.HeadingRad[r] = s.HeadingRad[i];
                crowd.SpeedMps[r] = s.SpeedMps[i];
                crowd.Activity[r] = s.Activity[i];
                crowd.Clip[r] = s.Clip[i];
                crowd.Phase[r] = s.Phase[i];
                crowd.Blend[r] = s.Blend[i];
                crowd.SampleTimeS[r] = s.SampleTimeS[i];
            }
            return crowd;
        }

        static uint Id(KeyValuePair<CrowdState, int> pick)
        {
            return pick.Key.Ids[pick.Value];
        }
    }
}
