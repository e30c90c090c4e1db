namespace SynthTwin.Core.Clone
{
    /// <summary>The names the codes of the other messages refer to (from <c>roster</c>, then
    /// <c>meta</c>).</summary>
    public sealed class Tables
    {
        /// <summary>Local calendar time at sim time 0, ISO 8601 without zone.</summary>
        public string Epoch = "";

        /// <summary>Activity names, index = activity code.</summary>
        public string[] Activities = new string[0];

        /// <summary>Animation clip names, index = clip code.</summary>
        public string[] Clips = new string[0];
    }
}
