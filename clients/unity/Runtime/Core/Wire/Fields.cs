using System.Collections.Generic;
using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// Typed readers of map fields: each returns the value or throws <see cref="WireException"/>
    /// with the protocol's message. A field is named by its dotted path from the envelope
    /// (<c>tick</c>, <c>body.ids</c>, <c>body.error.code</c>). Float fields accept ints
    /// (section 4.1); int fields reject bools and floats.
    /// </summary>
    public static class Fields
    {
        /// <summary>"body" and "ids" -> "body.ids"; "" and "tick" -> "tick".</summary>
        public static string Path(string prefix, string key)
        {
            return prefix.Length == 0 ? key : prefix + "." + key;
        }

        /// <summary>The value of <c>m[key]</c>; missing_field if absent.</summary>
        public static object Require(MsgMap m, string key, string prefix)
        {
            object value;
            if (!m.TryGetValue(key, out value))
            {
                throw new WireException(
                    WireException.MissingField, "missing field '" + Path(prefix, key) + "'");
            }
            return value;
        }

        /// <summary>wrong_type: "field '{path}' must be {expected}, got {family}".</summary>
        public static WireException WrongType(string path, string expected, object value)
        {
            return new WireException(
                WireException.WrongType,
                "field '" + path + "' must be " + expected + ", got " + MsgFamily.Of(value));
        }

        /// <summary>An int field, at least <paramref name="minimum"/> (bad_value below it).</summary>
        public static long ReadInt(MsgMap m, string key, string prefix, long minimum = long.MinValue)
        {
            object value = Require(m, key, prefix);
            if (!MsgFamily.IsInt(value)) throw WrongType(Path(prefix, key), "int", value);
            return CheckedInt(value, Path(prefix, key), minimum);
        }

        /// <summary>An int-or-nil field (the key itself is required).</summary>
        public static long? ReadOptionalInt(MsgMap m, string key, string prefix)
        {
            object value = Require(m, key, prefix);
            if (value == null) return null;
            if (!MsgFamily.IsInt(value)) throw WrongType(Path(prefix, key), "int or nil", value);
            return CheckedInt(value, Path(prefix, key), long.MinValue);
        }

        /// <summary>An int as long: a msgpack uint64 above long.MaxValue is bad_value here
        /// (a C# limit; no field of the protocol reaches it).</summary>
        static long CheckedInt(object value, string path, long minimum)
        {
            if (value is ulong)
            {
                throw new WireException(
                    WireException.BadValue,
                    "field '" + path + "' holds " + value + ", expected <= " + long.MaxValue);
            }
            long number = (long)value;
            if (number < minimum)
            {
                throw new WireException(
                    WireException.BadValue,
                    "field '" + path + "' holds " + number + ", expected >= " + minimum);
            }
            return number;
        }

        /// <summary>A float field; an int is accepted and converted.</summary>
        public static double ReadFloat(MsgMap m, string key, string prefix)
        {
            object value = Require(m, key, prefix);
            if (value is double) return (double)value;
            if (value is long) return (long)value;
            if (value is ulong) return (ulong)value;
            throw WrongType(Path(prefix, key), "float", value);
        }

        /// <summary>A str field.</summary>
        public static string ReadStr(MsgMap m, string key, string prefix)
        {
            var value = Require(m, key, prefix);
            var text = value as string;
            if (text == null) throw WrongType(Path(prefix, key), "str", value);
            return text;
        }

        /// <summary>A bool field.</summary>
        public static bool ReadBool(MsgMap m, string key, string prefix)
        {
            var value = Require(m, key, prefix);
            if (!(value is bool)) throw WrongType(Path(prefix, key), "bool", value);
            return (bool)value;
        }

        /// <summary>A map field.</summary>
        public static MsgMap ReadMap(MsgMap m, string key, string prefix)
        {
            var value = Require(m, key, prefix);
            var map = value as MsgMap;
            if (map == null) throw WrongType(Path(prefix, key), "map", value);
            return map;
        }

        /// <summary>An array field (a msgpack array, not a numeric array map).</summary>
        public static List<object> ReadList(MsgMap m, string key, string prefix)
        {
            var value = Require(m, key, prefix);
            var list = value as List<object>;
            if (list == null) throw WrongType(Path(prefix, key), "array", value);
            return list;
        }

        /// <summary>An array of str field (activity and clip names).</summary>
        public static string[] ReadNames(MsgMap m, string key, string prefix)
        {
            var list = ReadList(m, key, prefix);
            var names = new string[list.Count];
            for (int i = 0; i < names.Length; i++)
            {
                names[i] = list[i] as string;
                if (names[i] == null)
                {
                    throw new WireException(
                        WireException.WrongType,
                        "field '" + Path(prefix, key) + "' must be an array of str");
                }
            }
            return names;
        }
    }
}
