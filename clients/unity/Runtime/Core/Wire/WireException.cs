using System;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// Why a payload was rejected: a stable <see cref="Code"/> and the exact message of the
    /// protocol's templates (docs/protocol.md section 10), the same strings as the Python and
    /// JavaScript decoders for every golden vector. Every decoder of this package throws only this
    /// for bad input, never an IndexOutOfRangeException or an InvalidCastException.
    /// </summary>
    public sealed class WireException : Exception
    {
        public const string NotMsgpack = "not_msgpack";
        public const string Truncated = "truncated";
        public const string NotAMap = "not_a_map";
        public const string BadVersion = "bad_version";
        public const string UnknownKind = "unknown_kind";
        public const string WrongKind = "wrong_kind";
        public const string MissingField = "missing_field";
        public const string WrongType = "wrong_type";
        public const string LengthMismatch = "length_mismatch";
        public const string BadValue = "bad_value";
        public const string UnknownBase = "unknown_base";
        public const string TooLarge = "too_large";

        /// <summary>Most characters of input text a message quotes (section 4.4).</summary>
        public const int EchoChars = 64;

        /// <summary>One of the codes above.</summary>
        public readonly string Code;

        public WireException(string code, string message) : base(message)
        {
            Code = code;
        }

        /// <summary><paramref name="text"/> cut to <see cref="EchoChars"/> characters: a longer one
        /// keeps its first 61 and ends in "...".</summary>
        public static string Clip(string text)
        {
            return Cut(text, EchoChars);
        }

        /// <summary><paramref name="text"/> cut to <paramref name="most"/> characters, ending in
        /// "..." when cut.</summary>
        public static string Cut(string text, int most)
        {
            return text.Length <= most ? text : text.Substring(0, most - 3) + "...";
        }
    }
}
