using System.Collections.Generic;

namespace SynthTwin.Core.MsgPack
{
    /// <summary>
    /// msgpack values as <see cref="MsgPackReader"/> returns them, one C# type per family:
    /// nil -> null, bool -> bool, int -> long (ulong above long.MaxValue), float -> double
    /// (float32 widened), str -> string, bin -> <see cref="MsgBin"/>, array -> List&lt;object&gt;,
    /// map -> <see cref="MsgMap"/>, ext -> <see cref="MsgExt"/>.
    /// </summary>
    public static class MsgFamily
    {
        /// <summary>The family of a decoded value as protocol messages name it (section 4.1):
        /// nil, bool, int, float, str, bin, array, map or ext.</summary>
        public static string Of(object value)
        {
            if (value == null) return "nil";
            if (value is bool) return "bool";
            if (value is long || value is ulong || value is int || value is uint) return "int";
            if (value is double || value is float) return "float";
            if (value is string) return "str";
            if (value is MsgBin) return "bin";
            if (value is List<object>) return "array";
            if (value is MsgMap) return "map";
            return "ext";
        }

        /// <summary>Whether <paramref name="value"/> is a msgpack int (not a bool or a float).</summary>
        public static bool IsInt(object value)
        {
            return value is long || value is ulong || value is int || value is uint;
        }
    }

    /// <summary>A msgpack bin: a view of <see cref="Count"/> bytes of <see cref="Buffer"/> from
    /// <see cref="Offset"/> (the payload's own buffer: no copy).</summary>
    public sealed class MsgBin
    {
        public readonly byte[] Buffer;
        public readonly int Offset;
        public readonly int Count;

        public MsgBin(byte[] buffer, int offset, int count)
        {
            Buffer = buffer;
            Offset = offset;
            Count = count;
        }

        /// <summary>A copy of the bytes.</summary>
        public byte[] ToArray()
        {
            var copy = new byte[Count];
            System.Buffer.BlockCopy(Buffer, Offset, copy, 0, Count);
            return copy;
        }
    }

    /// <summary>A msgpack ext (never used by the protocol; kept so that errors can name it).</summary>
    public sealed class MsgExt
    {
        public readonly sbyte Type;
        public readonly MsgBin Data;

        public MsgExt(sbyte type, MsgBin data)
        {
            Type = type;
            Data = data;
        }
    }

    /// <summary>A msgpack map with str keys, in payload order; a repeated key keeps its last
    /// value. Keys of other families are not kept, only counted in <see cref="OtherKeys"/>.</summary>
    public sealed class MsgMap : Dictionary<string, object>
    {
        /// <summary>Entries whose key was not a str.</summary>
        public int OtherKeys;

        /// <summary>Entries in the payload's map, whatever their keys.</summary>
        public int Entries
        {
            get { return Count + OtherKeys; }
        }
    }
}
