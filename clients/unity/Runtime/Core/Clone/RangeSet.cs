using System.Collections.Generic;

namespace SynthTwin.Core.Clone
{
    /// <summary>
    /// The twins a view shows, frame after frame: given the ids in range now, which entered
    /// (spawn or take a pooled body) and which left (return theirs to the pool). A crowd
    /// spawner keeps one body per id of <see cref="Shown"/>.
    /// </summary>
    public sealed class RangeSet
    {
        readonly HashSet<uint> _shown = new HashSet<uint>();
        readonly HashSet<uint> _now = new HashSet<uint>();

        /// <summary>The twins shown.</summary>
        public ICollection<uint> Shown
        {
            get { return _shown; }
        }

        /// <summary>Move to the twins <paramref name="inRange"/>; <paramref name="entered"/> and
        /// <paramref name="left"/> (cleared first) get the changes, at most
        /// <paramref name="most"/> twins shown (those first in <paramref name="inRange"/>).</summary>
        public void Update(IEnumerable<uint> inRange, int most, List<uint> entered, List<uint> left)
        {
            entered.Clear();
            left.Clear();
            _now.Clear();
            foreach (uint id in inRange)
            {
                if (_now.Count >= most) break;
                _now.Add(id);
            }
            foreach (uint id in _shown)
            {
                if (!_now.Contains(id)) left.Add(id);
            }
            foreach (uint id in left) _shown.Remove(id);
            foreach (uint id in _now)
            {
                if (_shown.Add(id)) entered.Add(id);
            }
        }
    }
}
