using System;
using System.IO;
using System.Json;
using NUnit.Framework;
using SynthTwin.Core.Clone;
using SynthTwin.Core.Smpl;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// Rendering between updates (protocol section 6.1, subscriber rule 5, and section 14): the
    /// clip table against the server's clip names, phase rates, the sim clock's rate and
    /// restarts, extrapolated phase and position, and the body placement of section 14 through
    /// Unity's frames.
    /// </summary>
    [TestFixture]
    public class MotionTests
    {
        [Test]
        public void TheClipTableNamesTheServersClipsInCodeOrder()
        {
            string dir = Environment.GetEnvironmentVariable("SYNTHTWIN_FIXTURES");
            if (string.IsNullOrEmpty(dir)) throw new InvalidOperationException("set SYNTHTWIN_FIXTURES");
            JsonValue server = JsonValue.Parse(File.ReadAllText(Path.Combine(dir, "server.json")));
            Assert.AreEqual(server["clips"].Count, ClipTable.Reference.Length);
            for (int code = 0; code < ClipTable.Reference.Length; code++)
            {
                Assert.AreEqual((string)server["clips"][code], ClipTable.Reference[code].Name);
            }
        }

        [Test]
        public void GaitsStepWithSpeedAndEverythingElseWithItsPeriod()
        {
            ClipRate walk = ClipTable.Find("walk"), stand = ClipTable.Find("stand");
            Assert.AreEqual(1.4 / 1.266, ClipTable.PhaseRatePerS(walk, 1.4), 1e-12);
            Assert.AreEqual(1 / 1.133, ClipTable.PhaseRatePerS(walk, 0), 1e-12, "a gait at rest");
            Assert.AreEqual(0.25, ClipTable.PhaseRatePerS(stand, 1.4), 1e-12);
            Assert.AreEqual(0.75, ClipTable.Advance(stand, 0.5, 0, 1.0), 1e-12);
            Assert.AreEqual(0.25, ClipTable.Advance(stand, 0.5, 0, 3.0), 1e-12, "wraps");
            Assert.AreEqual(0.5, ClipTable.Advance(null, 0.5, 0, 3.0), "an unknown clip stays");
            Assert.AreEqual(0.5, ClipTable.Advance(stand, 0.5, 0, -1.0), "never backwards");
            Assert.IsNull(ClipTable.Find("teleport"));
        }

        [Test]
        public void TheSimClockRunsAtTheMeasuredScaleAndStartsAfreshAfterARestart()
        {
            var clock = new SimClock();
            Assert.AreEqual(0, clock.Now(5));
            clock.Observe(100, 0);
            clock.Observe(101, 0.0005); // a burst of kept messages applied at once: one instant
            Assert.AreEqual(0, clock.Rate, "no rate from one instant");
            clock.Observe(110, 1);
            clock.Observe(120, 2);
            Assert.AreEqual((120 - 101) / (2 - 0.0005), clock.Rate, 1e-9, "from the burst's newest");
            Assert.AreEqual(120 + clock.Rate * 0.25, clock.Now(2.25), 1e-9);
            Assert.AreEqual(120 + clock.Rate * SimClock.MaxAheadS, clock.Now(7), 1e-9, "a silent server: stops");
            clock.Observe(120, 8); // paused: sim time stands still for 6 s
            Assert.AreEqual(0, clock.Rate, 1e-9, "only the last 5 s count");
            clock.Observe(3, 9); // a restarted server
            Assert.AreEqual(0, clock.Rate);
            Assert.AreEqual(3, clock.Now(10), 1e-9);
        }

        [Test]
        public void AtTimeScale60TheClockRunsOnBetweenTurnsForHalfAWallSecond()
        {
            var clock = new SimClock();
            for (int i = 0; i <= 10; i++) clock.Observe(6 * i, 0.1 * i); // a turn a 0.1 s, 6 sim s
            Assert.AreEqual(60, clock.Rate, 1e-9);
            Assert.AreEqual(60 + 3, clock.Now(1.05), 1e-9, "halfway to the next turn: 3 sim s on");
            Assert.AreEqual(60 + 60 * SimClock.MaxAheadS, clock.Now(3), 1e-9, "wall seconds bound it");
        }

        [Test]
        public void PhaseAndPositionMoveOnFromTheRecord()
        {
            var crowd = new Crowd
            {
                Ids = new uint[] { 7 }, PosM = new[] { 100.0, 200.0 }, HeadingRad = new[] { (float)(Math.PI / 2) },
                SpeedMps = new[] { 1.266f }, Activity = new byte[] { 14 }, Clip = new byte[] { 1 },
                Phase = new[] { 0.25f }, Blend = new[] { 1f }, SampleTimeS = new[] { 50.0 },
            };
            string[] clips = { "stand", "walk" };
            Assert.AreEqual(0.25 + 0.5, crowd.PhaseAt(0, 50.5, clips), 1e-6, "one stride a second");
            double x, y;
            crowd.PositionAt(0, 51, out x, out y);
            Assert.AreEqual(100, x, 1e-6);
            Assert.AreEqual(200 + 1.266, y, 1e-5, "north at 1.266 m/s");
            crowd.PositionAt(0, 50 + 180, out x, out y); // a keyframe period old at time scale 60
            Assert.AreEqual(200 + 1.266 * 180, y, 1e-4, "a record's age is not capped");
            crowd.PositionAt(0, 49, out x, out y);
            Assert.AreEqual(200, y, 1e-9, "never backwards");
            crowd.Clip[0] = 9;
            Assert.AreEqual(0.25, crowd.PhaseAt(0, 60, clips), 1e-6, "a code meta does not name");
        }

        [Test]
        public void AClipChangeFadesFromTheClipShownBeforeOverTheRisingBlend()
        {
            var crowd = new Crowd
            {
                Ids = new uint[] { 7 }, PosM = new[] { 0.0, 0.0 }, HeadingRad = new[] { 0f }, SpeedMps = new[] { 0f },
                Activity = new byte[] { 0 }, Clip = new byte[] { 0 }, Phase = new[] { 0f }, Blend = new[] { 1f },
                SampleTimeS = new[] { 10.0 },
            };
            var fades = new ClipFades();
            Assert.AreEqual(0, fades.From(crowd, 0, crowd.BlendAt(0, 10)), "standing, no fade");
            crowd.Clip[0] = 1; // starts walking: blend 0 at t = 20
            crowd.Blend[0] = 0;
            crowd.SampleTimeS[0] = 20;
            Assert.AreEqual(0.5, crowd.BlendAt(0, 20.15), 1e-9, "rises over 0.3 s");
            Assert.AreEqual(0, fades.From(crowd, 0, crowd.BlendAt(0, 20.15)), "fades out of stand");
            Assert.AreEqual(0, fades.From(crowd, 0, crowd.BlendAt(0, 20.2)), "still");
            Assert.AreEqual(1.0, crowd.BlendAt(0, 21), "at most 1");
            Assert.AreEqual(1, fades.From(crowd, 0, crowd.BlendAt(0, 21)), "walking alone");
            Assert.AreEqual(1, fades.From(crowd, 0, 0.5), "the fade ended");
            var late = new ClipFades();
            Assert.AreEqual(1, late.From(crowd, 0, 0.5), "a late joiner shows the new clip alone");
            fades.Forget(7);
            crowd.Clip[0] = 2;
            Assert.AreEqual(2, fades.From(crowd, 0, 0.1), "forgotten: nothing shown before");
        }

        [Test]
        public void ABodyTurnedByItsHeadingFacesWhereSectionFourteenPlacesIt()
        {
            // Section 14: forward (+z) -> (cos h, sin h, 0), left (+x) -> (-sin h, cos h, 0), up -> z.
            for (double h = 0; h < 2 * Math.PI; h += 0.4)
            {
                double yaw = Handedness.HeadingToUnityYawDeg(h) * Math.PI / 180;
                Quat turn = Quat.AngleAxis(yaw, new Vec3(0, 1, 0)); // Unity's yaw, same numbers
                Vec3 forward = turn.Rotate(Handedness.SmplToUnity(new Vec3(0, 0, 1)));
                Vec3 left = turn.Rotate(Handedness.SmplToUnity(new Vec3(1, 0, 0)));
                Vec3 up = turn.Rotate(Handedness.SmplToUnity(new Vec3(0, 1, 0)));
                Near(Handedness.MapToUnity(new Vec3(Math.Cos(h), Math.Sin(h), 0)), forward, "forward");
                Near(Handedness.MapToUnity(new Vec3(-Math.Sin(h), Math.Cos(h), 0)), left, "left");
                Near(Handedness.MapToUnity(new Vec3(0, 0, 1)), up, "up");
            }
        }

        static void Near(Vec3 expected, Vec3 actual, string what)
        {
            Assert.Less((expected - actual).Length, 1e-9, what + ": expected " + expected + ", got " + actual);
        }
    }
}
