using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using NUnit.Framework;
using SynthTwin.Core.Clone;
using SynthTwin.Core.MsgPack;
using SynthTwin.Core.Net;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// The core against a live <c>twin serve</c> over the gateway's WebSocket (SYNTHTWIN_WS,
    /// e.g. ws://127.0.0.1:8000/ws; tests/test_unity_core.py starts the server on loopback):
    /// late join against a snapshot, twin topics, requests, and (category Restart, driven by the
    /// pytest through the folder SYNTHTWIN_SIGNAL) a reconnect after a server restart. Every wait
    /// is bounded.
    /// </summary>
    [TestFixture]
    [Category("Live")]
    public class LiveTests
    {
        const double JoinS = 30;
        const double TopicS = 15;

        static Uri Server
        {
            get
            {
                string url = Environment.GetEnvironmentVariable("SYNTHTWIN_WS");
                if (string.IsNullOrEmpty(url)) throw new InvalidOperationException("set SYNTHTWIN_WS to a live gateway's ws://.../ws");
                return new Uri(url);
            }
        }

        /// <summary>Pump <paramref name="client"/> until <paramref name="done"/> or
        /// <paramref name="seconds"/> pass; whether it got done.</summary>
        static bool Pump(CloneClient client, double seconds, Func<bool> done)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(seconds);
            while (DateTime.UtcNow < deadline)
            {
                client.Update();
                if (done()) return true;
                Thread.Sleep(10);
            }
            return false;
        }

        static CloneClient Joined(params string[] prefixes)
        {
            var client = new CloneClient(Server, prefixes);
            client.Start();
            Assert.IsTrue(Pump(client, JoinS, () => client.Joins > 0), "no join: " + client.LastError);
            return client;
        }

        static MsgMap Call(CloneClient client, string op, MsgMap args = null)
        {
            return client.Wait(client.Requests.Send(op, args)).Result();
        }

        [Test]
        public void ALateJoinerHoldsEveryTwinOnceAndWhatASnapshotHolds()
        {
            using (CloneClient client = Joined("cell/"))
            {
                Pump(client, 1.5, () => false); // live deltas and keyframes on top of the snapshot
                Replica replica = client.Replica;
                Assert.AreEqual(0, replica.Rejected, replica.LastRejection);
                CollectionAssert.AreEqual(replica.Roster, replica.Crowd().Ids, "every twin of the roster, once");
                Call(client, "pause");
                try
                {
                    Pump(client, 1.0, () => false); // what was published before the pause arrives
                    PendingRequest shot = client.Wait(client.Requests.Send("snapshot"));
                    var states = new List<CrowdState>();
                    var decoder = new CrowdDecoder();
                    foreach (object payload in (List<object>)shot.Result()["crowd"])
                    {
                        CrowdState state = decoder.Apply(((MsgBin)payload).ToArray());
                        states.RemoveAll(s => s.CellX == state.CellX && s.CellY == state.CellY);
                        states.Add(state);
                    }
                    Pump(client, 0.5, () => false);
                    Crowd expected = Crowd.Merge(states), got = client.Replica.Crowd();
                    CollectionAssert.AreEqual(expected.Ids, got.Ids, "ids");
                    CollectionAssert.AreEqual(expected.PosM, got.PosM, "positions");
                    CollectionAssert.AreEqual(expected.HeadingRad, got.HeadingRad, "headings");
                    CollectionAssert.AreEqual(expected.Activity, got.Activity, "activities");
                    CollectionAssert.AreEqual(expected.Clip, got.Clip, "clips");
                    CollectionAssert.AreEqual(expected.Phase, got.Phase, "phases");
                    Assert.Greater(got.Count, 0);
                }
                finally
                {
                    Call(client, "resume");
                }
            }
        }

        [Test]
        public void AFollowedTwinGetsItsPoseVitalsAndBodyAndRequestsAnswerByTheirIds()
        {
            using (CloneClient client = Joined("cell/"))
            {
                uint twin = client.Replica.Roster[0];
                client.Follow(twin);
                int poseRow = -1, vitalsRow = -1, shapeRow = -1;
                Assert.IsTrue(Pump(client, TopicS, () =>
                    client.Replica.Pose(twin, out poseRow) != null && client.Replica.Vitals(twin, out vitalsRow) != null
                    && client.Replica.Shape(twin, out shapeRow) != null),
                    "no pose, vitals and body of twin " + twin);
                ShapeMessage shape = client.Replica.Shape(twin, out shapeRow);
                Assert.That(shape.Model[shapeRow], Is.LessThan(2), "a twin is female or male");
                Assert.AreEqual(10, shape.NumBetas);
                PoseMessage pose = client.Replica.Pose(twin, out poseRow);
                Assert.AreEqual(24, pose.Joints);
                for (int j = 0; j < pose.Joints; j++)
                {
                    int q = (poseRow * pose.Joints + j) * 4;
                    double norm = Math.Sqrt(pose.Quat[q] * pose.Quat[q] + pose.Quat[q + 1] * pose.Quat[q + 1]
                        + pose.Quat[q + 2] * pose.Quat[q + 2] + pose.Quat[q + 3] * pose.Quat[q + 3]);
                    Assert.AreEqual(1.0, norm, 1e-5, "joint " + j);
                }
                float hr = client.Replica.Vitals(twin, out vitalsRow).Field("hr_bpm")[vitalsRow];
                Assert.That(hr, Is.InRange(30f, 220f));

                // Pipelined: three requests in flight at once, each reply matched by its id.
                var args = new MsgMap();
                args["id"] = (long)twin;
                var unknown = new MsgMap();
                unknown["id"] = 4294967295L;
                PendingRequest stats = client.Requests.Send("stats");
                PendingRequest detail = client.Requests.Send("twin", args);
                PendingRequest missing = client.Requests.Send("twin", unknown);
                PendingRequest bogus = client.Requests.Send("teleport");
                client.Wait(stats);
                client.Wait(detail);
                client.Wait(missing);
                client.Wait(bogus);
                Assert.AreEqual((long)client.Replica.Roster.Length, stats.Result()["twins"]);
                Assert.AreEqual((long)twin, detail.Result()["id"]);
                Assert.AreEqual("unknown_twin", Assert.Throws<RequestException>(() => missing.Result()).Code);
                Assert.AreEqual("unknown_op", Assert.Throws<RequestException>(() => bogus.Result()).Code);
                Assert.AreEqual((long)client.Replica.Roster.Length, Call(client, "stats")["twins"], "nothing changed");
            }
        }

        [Test]
        [Category("Restart")]
        public void AfterAServerRestartItReconnectsAndJoinsAgain()
        {
            string signal = Environment.GetEnvironmentVariable("SYNTHTWIN_SIGNAL");
            if (string.IsNullOrEmpty(signal)) throw new InvalidOperationException("set SYNTHTWIN_SIGNAL (the pytest restarts the server)");
            using (CloneClient client = Joined("cell/"))
            {
                Assert.Greater(client.Replica.Crowd().Count, 0);
                File.WriteAllText(Path.Combine(signal, "joined"), "");
                Assert.IsTrue(Pump(client, 120, () => client.Joins >= 2), "no second join: " + client.LastError);
                Assert.GreaterOrEqual(client.Transport.Connections, 2);
                Pump(client, 1.0, () => false);
                Replica replica = client.Replica;
                CollectionAssert.AreEqual(replica.Roster, replica.Crowd().Ids, "every twin again, once");
                Assert.AreEqual((long)replica.Roster.Length, Call(client, "stats")["twins"]);
            }
        }
    }
}
