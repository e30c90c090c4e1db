using System;
using System.Collections.Generic;
using System.IO;
using NUnit.Framework;
using SynthTwin.Core.Clone;
using SynthTwin.Core.MsgPack;
using SynthTwin.Core.Net;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// The Clone state, the request client and the WebSocket framing without a server: the
    /// golden crowd files through <see cref="Replica"/> (stale rule, a lost keyframe marking
    /// its cell for recovery, bad payloads counted, never thrown), the range and pool
    /// bookkeeping of a crowd spawner, correlation ids, timeouts, and frames.
    /// </summary>
    [TestFixture]
    public class CloneTests
    {
        static byte[] Golden(string name)
        {
            string dir = Environment.GetEnvironmentVariable("SYNTHTWIN_GOLDEN");
            if (string.IsNullOrEmpty(dir)) throw new InvalidOperationException("set SYNTHTWIN_GOLDEN");
            return File.ReadAllBytes(Path.Combine(dir, name));
        }

        /// <summary>A reply payload as a server writes it.</summary>
        static byte[] ReplyPayload(long seq, long? id, MsgMap result)
        {
            var body = new Dictionary<string, object> { { "id", id }, { "ok", true }, { "result", result } };
            var envelope = new Dictionary<string, object>
            {
                { "v", 1L }, { "kind", "reply" }, { "tick", 1L }, { "seq", seq }, { "t", 0.5 }, { "body", body },
            };
            return MsgPackWriter.Write(envelope);
        }

        [Test]
        public void AReplicaAppliesKeyframeAndDeltaAndMarksALostKeyframesCell()
        {
            var replica = new Replica();
            Assert.IsFalse(replica.Receive("cell/3/-2/crowd", Golden("crowd_delta.bin")), "no keyframe yet");
            CollectionAssert.AreEqual(new[] { new List<object> { 3L, -2L } }, replica.Recovery());
            Assert.IsNull(replica.Recovery(), "asked once");
            Assert.IsTrue(replica.Receive("cell/3/-2/crowd", Golden("crowd_keyframe.bin")));
            Assert.IsTrue(replica.Receive("cell/3/-2/crowd", Golden("crowd_delta.bin")));
            Assert.IsFalse(replica.Receive("cell/3/-2/crowd", Golden("crowd_keyframe.bin")), "stale");
            CollectionAssert.AreEqual(new uint[] { 7, 12, 40, 55, 1002 }, replica.Crowd().Ids);
            Assert.AreEqual(3, replica.Crowd().Row(55));
            Assert.AreEqual(-1, replica.Crowd().Row(31), "gone");
            Assert.AreEqual(0, replica.Rejected);
            Assert.IsFalse(replica.Receive("cell/3/-2/crowd", Golden("invalid_truncated.bin")));
            Assert.AreEqual(1, replica.Rejected);
            StringAssert.Contains("truncated", replica.LastRejection);
        }

        [Test]
        public void RowsNearAndTheRangeSetPickWhichBodiesToShow()
        {
            var replica = new Replica();
            replica.Receive("cell/3/-2/crowd", Golden("crowd_keyframe.bin"));
            Crowd crowd = replica.Crowd();
            var rows = new List<int>();
            crowd.RowsNear(crowd.PosM[0], crowd.PosM[1], 0.01, rows);
            CollectionAssert.AreEqual(new[] { 0 }, rows);
            crowd.RowsNear(7000, -3000, 1e6, rows);
            Assert.AreEqual(crowd.Count, rows.Count);

            var range = new RangeSet();
            var entered = new List<uint>();
            var left = new List<uint>();
            range.Update(new uint[] { 1, 2, 3 }, 10, entered, left);
            CollectionAssert.AreEquivalent(new uint[] { 1, 2, 3 }, entered);
            CollectionAssert.IsEmpty(left);
            range.Update(new uint[] { 2, 3, 4 }, 10, entered, left);
            CollectionAssert.AreEquivalent(new uint[] { 4 }, entered);
            CollectionAssert.AreEquivalent(new uint[] { 1 }, left);
            range.Update(new uint[] { 2, 3, 4, 5 }, 2, entered, left);
            Assert.AreEqual(2, range.Shown.Count, "at most 2 shown");
            CollectionAssert.IsEmpty(entered);
            CollectionAssert.AreEquivalent(new uint[] { 4 }, left);
        }

        [Test]
        public void RequestsCarryIncreasingIdsAndRepliesFindThemInAnyOrder()
        {
            var sent = new List<byte[]>();
            var client = new RequestClient(payload => { sent.Add(payload); return true; }, "st_token");
            var args = new MsgMap();
            args["ids"] = NumArray.FromUInt32(new uint[] { 31, 40 });
            PendingRequest first = client.Send("despawn", args);
            PendingRequest second = client.Send("stats");
            Request request = Request.Decode(sent[0]);
            Assert.AreEqual(first.Id, request.Id);
            Assert.AreEqual("despawn", request.Op);
            Assert.AreEqual("st_token", request.Token);
            CollectionAssert.AreEqual(new uint[] { 31, 40 }, ((NumArray)request.Args["ids"]).ToUInt32());
            Assert.AreEqual(second.Id, Request.Decode(sent[1]).Id);
            Assert.AreNotEqual(first.Id, second.Id);

            var result = new MsgMap();
            result["twins"] = 5L;
            Assert.IsTrue(client.Deliver(Reply.Decode(ReplyPayload(9, second.Id, result))));
            Assert.IsFalse(first.Done);
            Assert.AreEqual(5L, second.Result()["twins"]);
            Assert.IsFalse(client.Deliver(Reply.Decode(ReplyPayload(9, second.Id, result))), "answered once");
            Assert.IsFalse(client.Deliver(Reply.Decode(ReplyPayload(9, null, result))), "nil id");

            client.Expire(DateTime.UtcNow.AddSeconds(RequestClient.DefaultTimeoutS + 1));
            Assert.AreEqual(RequestException.Timeout, Assert.Throws<RequestException>(() => first.Result()).Code);
            Assert.AreEqual(0, client.InFlight);
            PendingRequest third = client.Send("roster");
            client.FailAll(RequestException.Closed, "gone");
            Assert.AreEqual(RequestException.Closed, Assert.Throws<RequestException>(() => third.Result()).Code);
            var offline = new RequestClient(payload => false);
            Assert.AreEqual(RequestException.Closed, Assert.Throws<RequestException>(() => offline.Send("stats").Result()).Code);
        }

        [Test]
        public void ReplicaJoinsFromRosterAndSnapshotAndDropsWhatTheyHold()
        {
            var roster = new MsgMap();
            roster["protocol"] = 1L;
            roster["epoch"] = "2026-03-02T00:00:00";
            roster["activities"] = new List<object> { "sleep" };
            roster["clips"] = new List<object> { "idle", "walk" };
            roster["ids"] = NumArray.FromUInt32(new uint[] { 7, 12, 40, 55, 1002 }).ToWire();
            var snapshot = new MsgMap();
            snapshot["crowd"] = new List<object> { Golden("crowd_keyframe.bin"), Golden("crowd_delta.bin") };
            var replica = new Replica();
            replica.Join(Reply.Decode(ReplyPayload(503, 1, roster)), Reply.Decode(ReplyPayload(503, 2, snapshot)));
            CollectionAssert.AreEqual(replica.Roster, replica.Crowd().Ids);
            CollectionAssert.AreEqual(new[] { "idle", "walk" }, replica.Tables.Clips);
            Assert.IsFalse(replica.Receive("cell/3/-2/crowd", Golden("crowd_delta.bin")), "in the snapshot");
            Assert.AreEqual(0, replica.Rejected, replica.LastRejection);
        }

        [Test]
        public void FramesCarryTheTopicLengthTopicAndPayload()
        {
            byte[] frame = WsFrame.Frame("twin/42/pose", new byte[] { 1, 2, 3 });
            Assert.AreEqual(12, frame[0]);
            string topic;
            byte[] payload;
            Assert.IsTrue(WsFrame.TrySplit(frame, frame.Length, out topic, out payload));
            Assert.AreEqual("twin/42/pose", topic);
            CollectionAssert.AreEqual(new byte[] { 1, 2, 3 }, payload);
            Assert.IsTrue(WsFrame.TrySplit(new byte[] { 0, 9 }, 2, out topic, out payload));
            Assert.AreEqual("", topic, "a reply");
            Assert.IsFalse(WsFrame.TrySplit(new byte[] { 5, 1 }, 2, out topic, out payload), "the topic overruns");
            Assert.IsFalse(WsFrame.TrySplit(new byte[0], 0, out topic, out payload));
            Assert.AreEqual("{\"op\": \"subscribe\", \"prefix\": \"a\\\"b\"}", WsFrame.Control("subscribe", "a\"b"));
            Dictionary<string, string> answer = WsFrame.ParseControl("{\"op\": \"skipped\", \"dropped\": 12}");
            Assert.AreEqual("skipped", answer["op"]);
            Assert.AreEqual("12", answer["dropped"]);
            Assert.IsNull(WsFrame.ParseControl("[1]"));
            Assert.IsNull(WsFrame.ParseControl("{\"op\": "));
        }
    }
}
