using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Json;
using System.Text.RegularExpressions;
using NUnit.Framework;
using SynthTwin.Core.Clone;
using SynthTwin.Core.MsgPack;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// Every golden vector of tests/golden/wire/ (protocol section 11): each valid file decodes
    /// to its <c>values</c> (integers exactly, floats within a relative 1e-6), each
    /// <c>invalid_*</c> file is rejected with exactly its code and message. The folder comes
    /// from the environment variable SYNTHTWIN_GOLDEN (tests/test_unity_core.py sets it).
    /// </summary>
    [TestFixture]
    public class GoldenTests
    {
        static string Dir
        {
            get
            {
                string dir = Environment.GetEnvironmentVariable("SYNTHTWIN_GOLDEN");
                if (string.IsNullOrEmpty(dir)) throw new InvalidOperationException("set SYNTHTWIN_GOLDEN to tests/golden/wire");
                return dir;
            }
        }

        public static IEnumerable<string> Cases()
        {
            var names = new List<string>();
            foreach (string path in Directory.GetFiles(Dir, "*.json")) names.Add(Path.GetFileNameWithoutExtension(path));
            names.Sort(StringComparer.Ordinal);
            return names;
        }

        [Test]
        public void TheFolderHoldsEveryKind()
        {
            var decoders = new HashSet<string>();
            foreach (string name in Cases()) decoders.Add((string)Load(name)["decoder"]);
            foreach (string kind in Envelope.Kinds) Assert.IsTrue(decoders.Contains(kind), kind);
            Assert.IsTrue(decoders.Contains("crowd_state") && decoders.Contains("crowd_merge") && decoders.Contains("any"));
        }

        [Test]
        public void ATwinTheGoldenDeltaLeavesOutIsDeadReckonedWhereItWalked()
        {
            // make_golden.py: twin 12 walked 14 cm north at 1.4 m/s in the 0.1 s after the
            // keyframe, so the delta leaves it out (protocol section 6.1, publisher rule 2)
            var decoder = new CrowdDecoder();
            decoder.Apply(File.ReadAllBytes(Path.Combine(Dir, "crowd_keyframe.bin")));
            CrowdState state = decoder.Apply(File.ReadAllBytes(Path.Combine(Dir, "crowd_delta.bin")));
            Crowd crowd = Crowd.Merge(new List<CrowdState> { state });
            int row = crowd.Row(12);
            Assert.AreEqual(120.0, crowd.SampleTimeS[row], "its record is the keyframe's");
            double x, y;
            crowd.PositionAt(row, 120.1, out x, out y);
            Assert.LessOrEqual(Math.Sqrt((x - 7012.34) * (x - 7012.34) + (y + 3056.64) * (y + 3056.64)), 0.05);
        }

        [TestCaseSource("Cases")]
        public void Golden(string name)
        {
            JsonObject golden = Load(name);
            if (golden.ContainsKey("error"))
            {
                var error = Assert.Throws<WireException>(() => Run(golden));
                Assert.AreEqual((string)golden["error"]["code"], error.Code, error.Message);
                Assert.AreEqual((string)golden["error"]["message"], error.Message);
                return;
            }
            Match(golden["values"], Run(golden), "values");
        }

        static JsonObject Load(string name)
        {
            return Parse(Path.Combine(Dir, name + ".json"));
        }

        /// <summary>A golden JSON file; Python's json writes a float NaN as a bare NaN, read
        /// here as the string "NaN" (<see cref="Match"/> takes it for a NaN).</summary>
        static JsonObject Parse(string path)
        {
            string text = Regex.Replace(File.ReadAllText(path), @"\bNaN\b", "\"NaN\"");
            return (JsonObject)JsonValue.Parse(text);
        }

        /// <summary>Every case of every folder beside wire/ too (chat/, history/: the payloads
        /// of ops and events added to protocol 1), as "folder/name".</summary>
        public static IEnumerable<string> AllCases()
        {
            var names = new List<string>();
            foreach (string folder in Directory.GetDirectories(Path.GetDirectoryName(Dir.TrimEnd('/'))))
            {
                foreach (string path in Directory.GetFiles(folder, "*.json"))
                {
                    names.Add(Path.GetFileName(folder) + "/" + Path.GetFileNameWithoutExtension(path));
                }
            }
            names.Sort(StringComparer.Ordinal);
            return names;
        }

        /// <summary>Each valid case's bytes read as msgpack are its <c>payload</c> (array maps'
        /// data as numbers, other bins as hex), and decode as the envelope's kind.</summary>
        [TestCaseSource("AllCases")]
        public void PayloadsReadAsTheirJson(string name)
        {
            string root = Path.GetDirectoryName(Dir.TrimEnd('/'));
            JsonObject golden = Parse(Path.Combine(root, name + ".json"));
            if (!golden.ContainsKey("payload"))
            {
                Assert.IsTrue(golden.ContainsKey("error") || golden.ContainsKey("apply"), name + " has no payload");
                return;
            }
            string folder = Path.GetDirectoryName(Path.Combine(root, name));
            byte[] payload = File.ReadAllBytes(Path.Combine(folder, (string)golden["file"]));
            Match(golden["payload"], Raw(MsgPackReader.Read(payload)), "payload");
            Assert.IsNotNull(Messages.DecodeAny(payload));
        }

        /// <summary>A msgpack value as plain values, array maps with their data as nested lists.</summary>
        static object Raw(object value)
        {
            var map = value as MsgMap;
            if (map != null && map.Count == 3 && map.ContainsKey("dtype") && map.ContainsKey("shape") && map.ContainsKey("data"))
            {
                NumArray array = Arrays.FromMap(map, "payload", null);
                return new Dictionary<string, object>
                {
                    { "dtype", array.Dtype }, { "shape", Raw(map["shape"]) }, { "data", Plain.Of(array) },
                };
            }
            if (map != null)
            {
                var plain = new Dictionary<string, object>();
                foreach (KeyValuePair<string, object> entry in map) plain[entry.Key] = Raw(entry.Value);
                return plain;
            }
            var list = value as List<object>;
            return list != null ? list.ConvertAll(Raw) : value;
        }

        static byte[] Bytes(JsonValue file)
        {
            return File.ReadAllBytes(Path.Combine(Dir, (string)file));
        }

        /// <summary>What the case's decoder makes of its file, as plain values.</summary>
        static object Run(JsonObject golden)
        {
            string decoder = golden["decoder"];
            byte[] payload = Bytes(golden["file"]);
            switch (decoder)
            {
                case "crowd_state":
                    var crowdDecoder = new CrowdDecoder();
                    foreach (JsonValue file in (JsonArray)golden["apply"]) crowdDecoder.Apply(Bytes(file));
                    return Plain.Of(crowdDecoder.Apply(payload));
                case "crowd_merge":
                    var replica = new Replica();
                    foreach (JsonValue file in (JsonArray)golden["apply"]) Receive(replica, Bytes(file));
                    Receive(replica, payload);
                    return Plain.Of(replica.Crowd());
                case "any":
                    return Plain.Of(Messages.DecodeAny(payload));
                default:
                    WireMessage msg = Messages.FromEnvelope(Envelope.Unpack(payload, decoder));
                    return Plain.Of(msg);
            }
        }

        static void Receive(Replica replica, byte[] payload)
        {
            Assert.IsTrue(replica.Receive("cell", payload), replica.LastRejection);
        }

        /// <summary>Asserts that <paramref name="actual"/> (plain values) equals the JSON.</summary>
        static void Match(JsonValue expected, object actual, string path)
        {
            if (expected == null)
            {
                Assert.IsNull(actual, path);
                return;
            }
            switch (expected.JsonType)
            {
                case JsonType.Object:
                    var keys = (JsonObject)expected;
                    if (keys.ContainsKey("$bin"))
                    {
                        Assert.IsInstanceOf<MsgBin>(actual, path);
                        Assert.AreEqual((string)keys["$bin"], Hex((MsgBin)actual), path);
                        return;
                    }
                    var map = actual as IDictionary;
                    Assert.IsNotNull(map, path + " is not a map");
                    Assert.AreEqual(keys.Count, map.Count, path + ": keys " + string.Join(",", new List<string>(keys.Keys).ToArray()));
                    foreach (KeyValuePair<string, JsonValue> entry in keys)
                    {
                        Assert.IsTrue(map.Contains(entry.Key), path + " lacks " + entry.Key);
                        Match(entry.Value, map[entry.Key], path + "." + entry.Key);
                    }
                    return;
                case JsonType.Array:
                    var list = actual as IList;
                    Assert.IsNotNull(list, path + " is not a list: " + actual);
                    var items = (JsonArray)expected;
                    Assert.AreEqual(items.Count, list.Count, path + " length");
                    for (int i = 0; i < items.Count; i++) Match(items[i], list[i], path + "[" + i + "]");
                    return;
                case JsonType.String:
                    if ((string)expected == "NaN" && (actual is double || actual is float))
                    {
                        Assert.IsTrue(double.IsNaN(Convert.ToDouble(actual)), path + " is not NaN");
                        return;
                    }
                    Assert.AreEqual((string)expected, actual, path);
                    return;
                case JsonType.Boolean:
                    Assert.AreEqual((bool)expected, actual, path);
                    return;
                default:
                    MatchNumber(expected, actual, path);
                    return;
            }
        }

        static void MatchNumber(JsonValue expected, object actual, string path)
        {
            if (actual is long || actual is ulong)
            {
                Assert.AreEqual(expected.ToString(), actual.ToString(), path);
                return;
            }
            Assert.IsTrue(actual is double || actual is float, path + " is not a number: " + actual);
            double want = expected, got = Convert.ToDouble(actual);
            Assert.LessOrEqual(Math.Abs(got - want), 1e-6 * Math.Max(Math.Abs(want), 1e-300), path + ": " + got + " vs " + want);
        }

        static string Hex(MsgBin bin)
        {
            var text = new System.Text.StringBuilder();
            for (int i = 0; i < bin.Count; i++) text.Append(bin.Buffer[bin.Offset + i].ToString("x2"));
            return text.ToString();
        }
    }
}
