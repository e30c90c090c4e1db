using System.Collections.Generic;
using System.Text;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.MsgPack
{
    /// <summary>
    /// A msgpack reader (the msgpack spec, github.com/msgpack/msgpack/blob/master/spec.md):
    /// one whole payload into the values of <see cref="MsgFamily"/>. Hand-written because
    /// msgpack-csharp cannot be installed where this package is built and tested (issue #10).
    /// bin values are views of the payload (no copy). Errors are the protocol's (section 10):
    /// <c>truncated</c> when the bytes end inside a value, <c>not_msgpack</c> for a byte that starts
    /// no value, invalid UTF-8 or trailing bytes, <c>too_large</c> past 1024 nested levels.
    /// </summary>
    public sealed class MsgPackReader
    {
        /// <summary>Deepest nesting of arrays and maps read (the reference decoder's stack).</summary>
        public const int MaxDepth = 1024;

        static readonly UTF8Encoding Utf8 = new UTF8Encoding(false, true);

        readonly byte[] _data;
        int _at;

        MsgPackReader(byte[] data)
        {
            _data = data;
        }

        /// <summary>The one value that <paramref name="data"/> holds.</summary>
        /// <exception cref="WireException">not_msgpack, truncated or too_large.</exception>
        public static object Read(byte[] data)
        {
            var reader = new MsgPackReader(data);
            object value = reader.Value(0);
            int left = data.Length - reader._at;
            if (left > 0)
            {
                throw new WireException(
                    WireException.NotMsgpack, "payload has " + left + " trailing bytes");
            }
            return value;
        }

        static WireException Truncated()
        {
            return new WireException(WireException.Truncated, "payload is truncated");
        }

        static WireException NotMsgpack()
        {
            return new WireException(WireException.NotMsgpack, "payload is not msgpack");
        }

        void Need(long count)
        {
            if (count > _data.Length - _at) throw Truncated();
        }

        byte Byte()
        {
            Need(1);
            return _data[_at++];
        }

        ulong BigEndian(int bytes)
        {
            Need(bytes);
            ulong value = 0;
            for (int i = 0; i < bytes; i++) value = (value << 8) | _data[_at++];
            return value;
        }

        object Value(int depth)
        {
            byte head = Byte();
            if (head <= 0x7f) return (long)head;
            if (head >= 0xe0) return (long)(sbyte)head;
            if (head <= 0x8f) return Map(head & 0x0f, depth);
            if (head <= 0x9f) return Array(head & 0x0f, depth);
            if (head <= 0xbf) return Str(head & 0x1f);
            switch (head)
            {
                case 0xc0: return null;
                case 0xc2: return false;
                case 0xc3: return true;
                case 0xc4: return Bin((int)BigEndian(1));
                case 0xc5: return Bin((int)BigEndian(2));
                case 0xc6: return Bin(Length32());
                case 0xc7: return Ext((int)BigEndian(1));
                case 0xc8: return Ext((int)BigEndian(2));
                case 0xc9: return Ext(Length32());
                case 0xca: return (double)Float32();
                case 0xcb: return System.BitConverter.Int64BitsToDouble((long)BigEndian(8));
                case 0xcc: return (long)BigEndian(1);
                case 0xcd: return (long)BigEndian(2);
                case 0xce: return (long)BigEndian(4);
                case 0xcf: return Unsigned64(BigEndian(8));
                case 0xd0: return (long)(sbyte)BigEndian(1);
                case 0xd1: return (long)(short)BigEndian(2);
                case 0xd2: return (long)(int)BigEndian(4);
                case 0xd3: return (long)BigEndian(8);
                case 0xd4: return Ext(1);
                case 0xd5: return Ext(2);
                case 0xd6: return Ext(4);
                case 0xd7: return Ext(8);
                case 0xd8: return Ext(16);
                case 0xd9: return Str((int)BigEndian(1));
                case 0xda: return Str((int)BigEndian(2));
                case 0xdb: return Str(Length32());
                case 0xdc: return Array((int)BigEndian(2), depth);
                case 0xdd: return Array(Length32(), depth);
                case 0xde: return Map((int)BigEndian(2), depth);
                case 0xdf: return Map(Length32(), depth);
                default: throw NotMsgpack(); // 0xc1: never used
            }
        }

        /// <summary>A 32-bit length; one beyond the payload is truncated before any cast.</summary>
        int Length32()
        {
            ulong length = BigEndian(4);
            Need((long)length);
            return (int)length;
        }

        static object Unsigned64(ulong value)
        {
            return value <= long.MaxValue ? (object)(long)value : value;
        }

        float Float32()
        {
            uint bits = (uint)BigEndian(4);
            return System.BitConverter.ToSingle(System.BitConverter.GetBytes(bits), 0);
        }

        MsgBin Bin(int count)
        {
            Need(count);
            var bin = new MsgBin(_data, _at, count);
            _at += count;
            return bin;
        }

        MsgExt Ext(int count)
        {
            var type = (sbyte)Byte();
            return new MsgExt(type, Bin(count));
        }

        string Str(int count)
        {
            Need(count);
            string text;
            try
            {
                text = Utf8.GetString(_data, _at, count);
            }
            catch (DecoderFallbackException)
            {
                throw NotMsgpack();
            }
            _at += count;
            return text;
        }

        void Enter(int depth, long items)
        {
            if (depth >= MaxDepth)
            {
                throw new WireException(
                    WireException.TooLarge, "payload nests deeper than " + MaxDepth + " levels");
            }
            Need(items); // every item takes at least one byte
        }

        List<object> Array(int count, int depth)
        {
            Enter(depth, count);
            var items = new List<object>(count);
            for (int i = 0; i < count; i++) items.Add(Value(depth + 1));
            return items;
        }

        MsgMap Map(int count, int depth)
        {
            Enter(depth, 2L * count);
            var map = new MsgMap();
            for (int i = 0; i < count; i++)
            {
                object key = Value(depth + 1);
                object value = Value(depth + 1);
                var text = key as string;
                if (text == null) map.OtherKeys++;
                else map[text] = value;
            }
            return map;
        }
    }
}
