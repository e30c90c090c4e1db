using System;
using System.Collections;
using System.IO;
using System.Text;

namespace SynthTwin.Core.MsgPack
{
    /// <summary>
    /// A msgpack writer for what a client sends (requests): nil, bool, integers, floats (always
    /// float64, as the reference encoder), str, bin (byte[] or <see cref="MsgBin"/>), arrays
    /// (<see cref="IList"/>) and maps with str keys (<see cref="IDictionary"/>), each integer in
    /// its smallest msgpack form.
    /// </summary>
    public sealed class MsgPackWriter
    {
        readonly MemoryStream _out = new MemoryStream();

        /// <summary>The msgpack bytes of <paramref name="value"/>.</summary>
        /// <exception cref="ArgumentException">a value of no msgpack family, or a map key that is
        /// not a string.</exception>
        public static byte[] Write(object value)
        {
            var writer = new MsgPackWriter();
            writer.Value(value);
            return writer._out.ToArray();
        }

        void Head(byte head, ulong value, int bytes)
        {
            _out.WriteByte(head);
            for (int i = bytes - 1; i >= 0; i--) _out.WriteByte((byte)(value >> (8 * i)));
        }

        void Value(object value)
        {
            if (value == null) _out.WriteByte(0xc0);
            else if (value is bool) _out.WriteByte((bool)value ? (byte)0xc3 : (byte)0xc2);
            else if (value is ulong) Unsigned((ulong)value);
            else if (value is long || value is int || value is uint || value is short
                     || value is ushort || value is byte || value is sbyte)
                Integer(Convert.ToInt64(value));
            else if (value is double || value is float)
                Head(0xcb, (ulong)BitConverter.DoubleToInt64Bits(Convert.ToDouble(value)), 8);
            else if (value is string) Str((string)value);
            else if (value is byte[]) Bin((byte[])value, 0, ((byte[])value).Length);
            else if (value is MsgBin) Bin(((MsgBin)value).Buffer, ((MsgBin)value).Offset, ((MsgBin)value).Count);
            else if (value is IDictionary) Map((IDictionary)value);
            else if (value is IList) Array((IList)value);
            else throw new ArgumentException("cannot write a " + value.GetType().Name + " as msgpack");
        }

        void Integer(long value)
        {
            if (value >= 0) Unsigned((ulong)value);
            else if (value >= -32) _out.WriteByte((byte)(sbyte)value);
            else if (value >= sbyte.MinValue) Head(0xd0, (ulong)value, 1);
            else if (value >= short.MinValue) Head(0xd1, (ulong)value, 2);
            else if (value >= int.MinValue) Head(0xd2, (ulong)value, 4);
            else Head(0xd3, (ulong)value, 8);
        }

        void Unsigned(ulong value)
        {
            if (value <= 0x7f) _out.WriteByte((byte)value);
            else if (value <= byte.MaxValue) Head(0xcc, value, 1);
            else if (value <= ushort.MaxValue) Head(0xcd, value, 2);
            else if (value <= uint.MaxValue) Head(0xce, value, 4);
            else Head(0xcf, value, 8);
        }

        void Length(int count, byte fix, int fixMax, byte head8, byte head16, byte head32)
        {
            if (count <= fixMax) _out.WriteByte((byte)(fix | count));
            else if (head8 != 0 && count <= byte.MaxValue) Head(head8, (ulong)count, 1);
            else if (count <= ushort.MaxValue) Head(head16, (ulong)count, 2);
            else Head(head32, (ulong)count, 4);
        }

        void Str(string text)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            Length(bytes.Length, 0xa0, 31, 0xd9, 0xda, 0xdb);
            _out.Write(bytes, 0, bytes.Length);
        }

        void Bin(byte[] buffer, int offset, int count)
        {
            Length(count, 0xc4, -1, 0xc4, 0xc5, 0xc6);
            _out.Write(buffer, offset, count);
        }

        void Array(IList items)
        {
            Length(items.Count, 0x90, 15, 0, 0xdc, 0xdd);
            foreach (object item in items) Value(item);
        }

        void Map(IDictionary map)
        {
            Length(map.Count, 0x80, 15, 0, 0xde, 0xdf);
            foreach (DictionaryEntry entry in map)
            {
                var key = entry.Key as string;
                if (key == null) throw new ArgumentException("msgpack map keys must be strings");
                Str(key);
                Value(entry.Value);
            }
        }
    }
}
