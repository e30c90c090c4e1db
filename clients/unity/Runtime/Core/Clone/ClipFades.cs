using System.Collections.Generic;

namespace SynthTwin.Core.Clone
{
    /// <summary>
    /// The clip each shown twin fades out of (protocol section 14, "Blend"): when a twin's clip
    /// changes, the server blends from the old clip to the new one, raising <c>blend</c> from 0
    /// to 1 over 0.3 s; crowd messages carry only the new clip, so a client takes the clip it
    /// showed before the change, and one that never saw it (a late joiner) shows the new clip
    /// alone. Call <see cref="From"/> for every twin shown, every frame, in the order the
    /// records arrive; <see cref="Forget"/> a twin no longer shown.
    /// </summary>
    public sealed class ClipFades
    {
        readonly Dictionary<uint, byte> _shown = new Dictionary<uint, byte>();
        readonly Dictionary<uint, byte> _from = new Dictionary<uint, byte>();

        /// <summary>The clip code row <paramref name="row"/> of <paramref name="crowd"/> fades
        /// out of at blend <paramref name="blend"/> (its own clip once the blend reached 1, or
        /// when no other clip was shown before).</summary>
        public byte From(Crowd crowd, int row, double blend)
        {
            uint id = crowd.Ids[row];
            byte clip = crowd.Clip[row], shown, from;
            if (_shown.TryGetValue(id, out shown) && shown != clip) _from[id] = shown;
            _shown[id] = clip;
            if (blend >= 1)
            {
                _from.Remove(id);
                return clip;
            }
            return _from.TryGetValue(id, out from) ? from : clip;
        }

        /// <summary>Drop what is known of a twin no longer shown.</summary>
        public void Forget(uint twinId)
        {
            _shown.Remove(twinId);
            _from.Remove(twinId);
        }
    }
}
