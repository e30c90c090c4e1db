using System;
using System.IO;
using System.Json;
using System.Text;
using NUnit.Framework;
using SynthTwin.Core.Clone;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// <c>shape</c> (protocol section 6.8): the vector written by hand from the document's tables
    /// decodes to its values, and a <see cref="Replica"/> keeps each followed twin's body and refuses a
    /// bad one without changing it. (Every generated shape vector runs in <see cref="GoldenTests"/>.)
    /// </summary>
    [TestFixture]
    public class ShapeTests
    {
        static string Dir
        {
            get { return Environment.GetEnvironmentVariable("SYNTHTWIN_GOLDEN"); }
        }

        static byte[] HandWritten(out JsonObject values)
        {
            var doc = (JsonObject)JsonValue.Parse(File.ReadAllText(Path.Combine(Dir, "by_hand", "shape.json")));
            values = (JsonObject)doc["values"];
            var hex = new StringBuilder();
            foreach (JsonValue line in (JsonArray)doc["bytes"]) hex.Append(((string)line[0]).Replace(" ", ""));
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(hex.ToString(2 * i, 2), 16);
            return bytes;
        }

        [Test]
        public void TheVectorWrittenByHandDecodesToItsValues()
        {
            JsonObject values;
            ShapeMessage msg = ShapeMessage.Decode(HandWritten(out values));
            Assert.AreEqual((long)values["tick"], msg.Tick);
            Assert.AreEqual((long)values["seq"], msg.Seq);
            Assert.AreEqual(new uint[] { 5 }, msg.Ids);
            Assert.AreEqual("male", msg.ModelName(0));
            Assert.AreEqual(2, msg.NumBetas);
            Assert.AreEqual(new[] { 1.0f, -0.5f }, msg.BetasOf(0));
        }

        [Test]
        public void AReplicaKeepsEachTwinsBodyAndRefusesABadOne()
        {
            var replica = new Replica();
            Assert.IsTrue(replica.Receive("twin/12/shape", File.ReadAllBytes(Path.Combine(Dir, "shape.bin"))), replica.LastRejection);
            int row;
            ShapeMessage twelve = replica.Shape(12, out row);
            Assert.AreEqual("female", twelve.ModelName(row));
            Assert.AreEqual(1.25f, twelve.BetasOf(row)[0]);
            Assert.AreEqual("male", replica.Shape(40, out row).ModelName(row));
            Assert.IsNull(replica.Shape(7, out row));
            Assert.AreEqual(-1, row);
            byte[] bad = File.ReadAllBytes(Path.Combine(Dir, "invalid_shape_model.bin"));
            Assert.IsFalse(replica.Receive("twin/40/shape", bad), "a model code of 3 is rejected");
            StringAssert.Contains("field 'body.model' holds 3, expected < 3", replica.LastRejection);
            Assert.AreEqual("male", replica.Shape(40, out row).ModelName(row), "and changes nothing");
        }
    }
}
