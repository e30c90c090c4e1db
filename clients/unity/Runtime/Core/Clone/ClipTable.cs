using System;

namespace SynthTwin.Core.Clone
{
    /// <summary>One reference clip: its loop period, stride, and whether it is a gait.</summary>
    public sealed class ClipRate
    {
        /// <summary>The name <c>meta.clips</c> gives it.</summary>
        public readonly string Name;

        /// <summary>Seconds one loop lasts (phase 0 to 1) at the clip's frame rate.</summary>
        public readonly double PeriodS;

        /// <summary>Metres the body advances over one loop (0 for a posture).</summary>
        public readonly double StrideM;

        /// <summary>Whether the server advances its phase with the twin's speed.</summary>
        public readonly bool Gait;

        public ClipRate(string name, double periodS, double strideM, bool gait)
        {
            Name = name;
            PeriodS = periodS;
            StrideM = strideM;
            Gait = gait;
        }
    }

    /// <summary>
    /// How fast a clip's phase advances (protocol section 14, "Clips"; subscriber rule 5 of
    /// section 6.1): a gait clip at speed v steps v / stride loops a second, any other clip
    /// (and a gait at rest, whose cadence is not on the wire) 1 / period. The table is the
    /// server's reference clips (synthesized in the AMASS layout, 30 frames a second; gait
    /// curves after Winter 2009, "Biomechanics and Motor Control of Human Movement", and
    /// Novacheck 1998, Gait &amp; Posture 7: 77-95, as engine/synth/motion.py cites).
    /// </summary>
    public static class ClipTable
    {
        /// <summary>The reference clips, by code.</summary>
        public static readonly ClipRate[] Reference =
        {
            new ClipRate("stand", 4.0, 0, false),
            new ClipRate("walk", 1.133, 1.266, true),
            new ClipRate("run", 0.733, 1.693, true),
            new ClipRate("sit", 4.0, 0, false),
            new ClipRate("lie", 4.0, 0, false),
            new ClipRate("cycle", 0.8, 3.4, true),
            new ClipRate("eat", 4.0, 0, false),
            new ClipRate("desk_work", 4.0, 0, false),
            new ClipRate("exercise", 4.0, 0, false),
            new ClipRate("drive", 4.0, 0, false),
        };

        /// <summary>The reference clip named <paramref name="name"/>, or null.</summary>
        public static ClipRate Find(string name)
        {
            foreach (ClipRate clip in Reference)
            {
                if (clip.Name == name) return clip;
            }
            return null;
        }

        /// <summary>Loops a second of <paramref name="clip"/> at ground speed
        /// <paramref name="speedMps"/>, 1/s.</summary>
        public static double PhaseRatePerS(ClipRate clip, double speedMps)
        {
            return clip.Gait && speedMps > 0 ? speedMps / clip.StrideM : 1.0 / clip.PeriodS;
        }

        /// <summary>The phase in [0, 1) <paramref name="elapsedS"/> simulated seconds after
        /// <paramref name="phase"/>, for clip <paramref name="clip"/> (null: an unknown clip,
        /// whose phase stays) at speed <paramref name="speedMps"/>.</summary>
        public static double Advance(ClipRate clip, double phase, double speedMps, double elapsedS)
        {
            if (clip == null || elapsedS <= 0) return phase;
            double next = phase + PhaseRatePerS(clip, speedMps) * elapsedS;
            return next - Math.Floor(next);
        }
    }
}
