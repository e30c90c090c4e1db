using System;
using System.Collections.Generic;

namespace SynthTwin.Core.Clone
{
    /// <summary>
    /// The server's simulation time between messages, for smooth rendering (subscriber rule 5):
    /// from the (sim time, wall time) of the messages applied, the rate sim time runs at (the
    /// time scale, 0 while paused) over about the last <see cref="WindowS"/> wall seconds, and the
    /// sim time now extrapolated from the latest message at that rate, for at most
    /// <see cref="MaxAheadS"/> wall seconds (a paused or silent server sends nothing). Sim time running
    /// backwards (a restarted server) starts it afresh.
    /// </summary>
    public sealed class SimClock
    {
        /// <summary>Wall seconds of observations the rate is measured over, at most.</summary>
        public const double WindowS = 5.0;

        /// <summary>Wall seconds the present runs on past the latest message, at most: wall, not
        /// simulated, so that it holds at any time scale (at 60 a cell's turn is 6 simulated s).
        /// The Python reference is <c>net.webrtc.MAX_AHEAD_S</c>.</summary>
        public const double MaxAheadS = 0.5;

        /// <summary>Shortest wall span the rate is measured over, s.</summary>
        public const double MinSpanS = 0.2;

        /// <summary>Observations closer in wall time than this count as one (a burst of kept
        /// messages applied at once says nothing of the rate), s.</summary>
        public const double SameInstantS = 0.001;

        readonly List<KeyValuePair<double, double>> _seen = new List<KeyValuePair<double, double>>();
        KeyValuePair<double, double> _latest;

        /// <summary>Simulated seconds per wall second (0 until measured).</summary>
        public double Rate { get; private set; }

        /// <summary>Note a message of sim time <paramref name="simS"/> applied at wall time
        /// <paramref name="wallS"/> (any monotonic clock, s).</summary>
        public void Observe(double simS, double wallS)
        {
            if (_seen.Count > 0 && simS < _latest.Key)
            {
                _seen.Clear();
                Rate = 0;
            }
            if (_seen.Count > 0 && wallS - _latest.Value < SameInstantS) _seen.RemoveAt(_seen.Count - 1);
            _latest = new KeyValuePair<double, double>(simS, wallS);
            _seen.Add(_latest);
            // keep the newest observation at least WindowS old, so the span covers the window
            while (_seen.Count > 2 && wallS - _seen[1].Value >= WindowS) _seen.RemoveAt(0);
            KeyValuePair<double, double> first = _seen[0];
            double span = wallS - first.Value;
            if (span >= MinSpanS) Rate = (simS - first.Key) / span;
        }

        /// <summary>The sim time at wall time <paramref name="wallS"/>, s (0 before any message),
        /// run on from the latest message for at most <see cref="MaxAheadS"/> wall seconds.</summary>
        public double Now(double wallS)
        {
            if (_seen.Count == 0) return 0;
            return _latest.Key + Rate * Math.Min(wallS - _latest.Value, MaxAheadS);
        }
    }
}
