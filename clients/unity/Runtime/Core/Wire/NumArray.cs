using System;
using System.Collections.Generic;
using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// A numeric array on the wire (section 4.3): the map <c>{"dtype", "shape", "data"}</c>, its
    /// elements in C (row-major) order as little-endian bytes in <see cref="Data"/>, a view of the
    /// payload. The typed readers copy into C# arrays; <c>data</c> is not aligned in a payload,
    /// so they read byte by byte (Unity's Mono and IL2CPP have no unaligned reinterpretation).
    /// </summary>
    public sealed class NumArray
    {
        /// <summary>The protocol's dtypes: numpy's strings of little-endian ints and IEEE floats.</summary>
        public static readonly string[] Dtypes =
            { "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f4", "<f8" };

        /// <summary>One of <see cref="Dtypes"/>.</summary>
        public readonly string Dtype;

        /// <summary>Size of each dimension.</summary>
        public readonly long[] Shape;

        /// <summary>The elements' bytes: product(Shape) * ItemSize of them.</summary>
        public readonly MsgBin Data;

        public NumArray(string dtype, long[] shape, MsgBin data)
        {
            Dtype = dtype;
            Shape = shape;
            Data = data;
        }

        /// <summary>Bytes of one element of <paramref name="dtype"/> (a protocol dtype).</summary>
        public static int ItemSizeOf(string dtype)
        {
            return dtype[2] - '0';
        }

        /// <summary>Bytes of one element.</summary>
        public int ItemSize
        {
            get { return ItemSizeOf(Dtype); }
        }

        /// <summary>Number of elements.</summary>
        public int Length
        {
            get { return Data.Count / ItemSize; }
        }

        /// <summary>Rows: the first dimension (0 for a 0-d array).</summary>
        public int Rows
        {
            get { return Shape.Length == 0 ? 0 : (int)Shape[0]; }
        }

        /// <summary>A (n,) <c>&lt;u4</c> array of <paramref name="values"/> (twin ids in requests).</summary>
        public static NumArray FromUInt32(IList<uint> values)
        {
            var bytes = new byte[4 * values.Count];
            for (int i = 0; i < values.Count; i++)
            {
                for (int b = 0; b < 4; b++) bytes[4 * i + b] = (byte)(values[i] >> (8 * b));
            }
            return new NumArray("<u4", new long[] { values.Count }, new MsgBin(bytes, 0, bytes.Length));
        }

        /// <summary>The wire map of this array (what a request's args carry).</summary>
        public MsgMap ToWire()
        {
            var shape = new List<object>();
            foreach (long d in Shape) shape.Add(d);
            var map = new MsgMap();
            map["dtype"] = Dtype;
            map["shape"] = shape;
            map["data"] = Data;
            return map;
        }

        ulong Bits(int index, int size)
        {
            int at = Data.Offset + index * size;
            ulong value = 0;
            for (int b = size - 1; b >= 0; b--) value = (value << 8) | Data.Buffer[at + b];
            return value;
        }

        /// <summary>Element <paramref name="index"/> (C order) as long, ulong (a <c>&lt;u8</c>
        /// above long.MaxValue) or double (float dtypes).</summary>
        public object Element(int index)
        {
            int size = ItemSize;
            ulong bits = Bits(index, size);
            switch (Dtype)
            {
                case "|i1": return (long)(sbyte)bits;
                case "<i2": return (long)(short)bits;
                case "<i4": return (long)(int)bits;
                case "<i8": return (long)bits;
                case "<u8": return bits <= long.MaxValue ? (object)(long)bits : bits;
                case "<f4": return (double)BitConverter.ToSingle(BitConverter.GetBytes((uint)bits), 0);
                case "<f8": return BitConverter.Int64BitsToDouble((long)bits);
                default: return (long)bits;
            }
        }

        /// <summary>A copy of a <c>|u1</c> array.</summary>
        public byte[] ToBytes()
        {
            return Data.ToArray();
        }

        /// <summary>A copy of a <c>&lt;u2</c> array.</summary>
        public ushort[] ToUInt16()
        {
            var values = new ushort[Length];
            for (int i = 0; i < values.Length; i++) values[i] = (ushort)Bits(i, 2);
            return values;
        }

        /// <summary>A copy of a <c>&lt;i2</c> array.</summary>
        public short[] ToInt16()
        {
            var values = new short[Length];
            for (int i = 0; i < values.Length; i++) values[i] = (short)Bits(i, 2);
            return values;
        }

        /// <summary>A copy of a <c>&lt;u4</c> array.</summary>
        public uint[] ToUInt32()
        {
            var values = new uint[Length];
            for (int i = 0; i < values.Length; i++) values[i] = (uint)Bits(i, 4);
            return values;
        }

        /// <summary>A copy of a <c>&lt;i4</c> array.</summary>
        public int[] ToInt32()
        {
            var values = new int[Length];
            for (int i = 0; i < values.Length; i++) values[i] = (int)Bits(i, 4);
            return values;
        }

        /// <summary>A copy of a <c>&lt;f4</c> array.</summary>
        public float[] ToSingle()
        {
            var values = new float[Length];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = BitConverter.ToSingle(BitConverter.GetBytes((uint)Bits(i, 4)), 0);
            }
            return values;
        }
    }
}
