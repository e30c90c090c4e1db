using System;
using System.Collections.Generic;
using System.Numerics;
using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// Reading numeric array maps (section 4.3) with the checks of section 10, in its order:
    /// <c>dtype</c> is a str, is the expected dtype, is a protocol dtype; <c>shape</c> is an
    /// array of ints &gt;= 0 (at most 32 dimensions of at most 4294967295); <c>data</c> is bin of
    /// the right size; the shape fits the field's table. <see cref="FromWire"/> turns every array
    /// map nested in a request's args, a reply's result or an event's data into a
    /// <see cref="NumArray"/>.
    /// </summary>
    public static class Arrays
    {
        /// <summary>Most dimensions of a shape.</summary>
        public const int MaxDims = 32;

        /// <summary>Largest size of one dimension.</summary>
        public const long MaxDim = 4294967295L;

        /// <summary>Deepest nesting inside args, result or data that <see cref="FromWire"/>
        /// reads by default (the value itself is level 0; an array map counts as one level).</summary>
        public const int MaxNesting = 32;

        /// <summary>The array field <c>m[key]</c>: dtype <paramref name="dtype"/> and shape
        /// (n, *trailing) for any n; a null in <paramref name="trailing"/> matches any size.</summary>
        public static NumArray Read(MsgMap m, string key, string prefix, string dtype, params int?[] trailing)
        {
            string path = Fields.Path(prefix, key);
            object value = Fields.Require(m, key, prefix);
            var map = value as MsgMap;
            if (map == null)
            {
                throw new WireException(
                    WireException.WrongType,
                    "field '" + path + "' must be an array map, got " + MsgFamily.Of(value));
            }
            NumArray array = FromMap(map, path, dtype);
            if (!Fits(array.Shape, trailing))
            {
                throw new WireException(
                    WireException.WrongType,
                    "field '" + path + "' must have shape " + ExpectedShape(trailing) + ", got "
                    + ShapeText(array.Shape));
            }
            return array;
        }

        static bool Fits(long[] shape, int?[] trailing)
        {
            if (shape.Length != 1 + trailing.Length) return false;
            for (int i = 0; i < trailing.Length; i++)
            {
                if (trailing[i].HasValue && trailing[i].Value != shape[i + 1]) return false;
            }
            return true;
        }

        /// <summary>(null, 3) -> "[n, *, 3]".</summary>
        static string ExpectedShape(int?[] trailing)
        {
            var parts = new List<string> { "n" };
            foreach (int? t in trailing) parts.Add(t.HasValue ? t.Value.ToString() : "*");
            return "[" + string.Join(", ", parts.ToArray()) + "]";
        }

        /// <summary>A shape as the messages print it: "[2, 36, 2]".</summary>
        public static string ShapeText(long[] shape)
        {
            var parts = new string[shape.Length];
            for (int i = 0; i < shape.Length; i++) parts[i] = shape[i].ToString();
            return "[" + string.Join(", ", parts) + "]";
        }

        /// <summary>The array of a validated array map; a null <paramref name="dtype"/> accepts
        /// any protocol dtype.</summary>
        public static NumArray FromMap(MsgMap map, string path, string dtype)
        {
            string got = Fields.ReadStr(map, "dtype", path);
            if (dtype != null && got != dtype)
            {
                throw new WireException(
                    WireException.WrongType,
                    "field '" + path + "' must be an array of " + dtype + ", got "
                    + WireException.Clip(got));
            }
            if (Array.IndexOf(NumArray.Dtypes, got) < 0)
            {
                throw new WireException(
                    WireException.WrongType,
                    "field '" + path + "' has unsupported dtype " + WireException.Clip(got));
            }
            long[] shape = ReadShape(map, path);
            object data = Fields.Require(map, "data", path);
            var bin = data as MsgBin;
            if (bin == null)
            {
                throw new WireException(
                    WireException.WrongType,
                    "field '" + path + ".data' must be bin, got " + MsgFamily.Of(data));
            }
            BigInteger need = NumArray.ItemSizeOf(got);
            foreach (long d in shape) need *= d;
            if (need != bin.Count)
            {
                throw new WireException(
                    WireException.LengthMismatch,
                    "field '" + path + "' holds " + bin.Count + " bytes, expected " + need
                    + " for shape " + ShapeText(shape) + " of " + got);
            }
            return new NumArray(got, shape, bin);
        }

        static long[] ReadShape(MsgMap map, string path)
        {
            List<object> dims = Fields.ReadList(map, "shape", path);
            var shape = new long[dims.Count];
            bool tooLarge = dims.Count > MaxDims;
            for (int i = 0; i < shape.Length; i++)
            {
                object d = dims[i];
                if (!MsgFamily.IsInt(d) || (d is long && (long)d < 0))
                {
                    throw new WireException(
                        WireException.WrongType, "field '" + path + ".shape' must be an array of int >= 0");
                }
                if (d is ulong || (long)d > MaxDim) tooLarge = true;
                else shape[i] = (long)d;
            }
            if (tooLarge)
            {
                throw new WireException(
                    WireException.TooLarge,
                    "field '" + path + ".shape' must have at most " + MaxDims
                    + " dimensions of at most " + MaxDim);
            }
            return shape;
        }

        /// <summary>length_mismatch unless <paramref name="array"/> has <paramref name="rows"/> rows.</summary>
        public static void CheckRows(NumArray array, string path, int rows)
        {
            if (array.Rows != rows)
            {
                throw new WireException(
                    WireException.LengthMismatch,
                    "field '" + path + "' has " + array.Rows + " rows, expected " + rows);
            }
        }

        /// <summary>bad_value unless <paramref name="ids"/> is strictly ascending.</summary>
        public static void CheckAscending(uint[] ids, string path)
        {
            for (int i = 1; i < ids.Length; i++)
            {
                if (ids[i] <= ids[i - 1])
                {
                    throw new WireException(
                        WireException.BadValue, "field '" + path + "' must be strictly ascending");
                }
            }
        }

        /// <summary>
        /// <paramref name="value"/> with every array map (a map of exactly the keys dtype, shape
        /// and data) replaced by its <see cref="NumArray"/>; other values as they are.
        /// </summary>
        /// <exception cref="WireException">an array map's error; too_large when maps and arrays
        /// nest more than <paramref name="maxNesting"/> levels below <paramref name="value"/>.</exception>
        public static object FromWire(object value, string path, int maxNesting = MaxNesting)
        {
            if (!(value is MsgMap) && !(value is List<object>)) return value;
            return Convert(value, new Where(null, path, false), maxNesting, path, maxNesting);
        }

        /// <summary>Where a nested value is: its parent and its key or index, for error paths
        /// (made only when an error is thrown).</summary>
        sealed class Where
        {
            public readonly Where Parent;
            public readonly string Key;
            public readonly bool IsIndex;

            public Where(Where parent, string key, bool isIndex)
            {
                Parent = parent;
                Key = key;
                IsIndex = isIndex;
            }

            /// <summary>"body.args.ids[2]", keys cut to 64 characters, the whole to 128.</summary>
            public string Text()
            {
                var parts = new List<string>();
                Where at = this;
                for (; at.Parent != null; at = at.Parent)
                {
                    parts.Add(at.IsIndex ? "[" + at.Key + "]" : "." + WireException.Clip(at.Key));
                }
                parts.Add(at.Key);
                parts.Reverse();
                return WireException.Cut(string.Concat(parts.ToArray()), 2 * WireException.EchoChars);
            }
        }

        static bool IsArrayMap(MsgMap map)
        {
            return map.OtherKeys == 0 && map.Count == 3 && map.ContainsKey("dtype")
                && map.ContainsKey("shape") && map.ContainsKey("data");
        }

        static object Convert(object value, Where where, int levelsLeft, string root, int maxNesting)
        {
            if (levelsLeft < 0)
            {
                throw new WireException(
                    WireException.TooLarge,
                    "field '" + root + "' nests deeper than " + maxNesting + " levels");
            }
            var list = value as List<object>;
            if (list != null)
            {
                var items = new List<object>(list.Count);
                for (int i = 0; i < list.Count; i++)
                {
                    items.Add(Child(list[i], new Where(where, i.ToString(), true), levelsLeft - 1, root, maxNesting));
                }
                return items;
            }
            var map = (MsgMap)value;
            if (IsArrayMap(map)) return FromMap(map, where.Text(), null);
            var copy = new MsgMap();
            foreach (KeyValuePair<string, object> entry in map)
            {
                copy[entry.Key] = Child(entry.Value, new Where(where, entry.Key, false), levelsLeft - 1, root, maxNesting);
            }
            return copy;
        }

        static object Child(object value, Where where, int levelsLeft, string root, int maxNesting)
        {
            if (!(value is MsgMap) && !(value is List<object>)) return value;
            return Convert(value, where, levelsLeft, root, maxNesting);
        }
    }
}
