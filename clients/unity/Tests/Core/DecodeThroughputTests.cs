using System;
using System.Diagnostics;
using System.IO;
using NUnit.Framework;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// Decode throughput of messages that the Python encoder wrote (in SYNTHTWIN_FIXTURES: a
    /// keyframe of 1000 walking twins, a delta of half of them, a pose message of 64 twins):
    /// twins per second through <see cref="CrowdDecoder"/> (decode, check, dequantize) and
    /// <see cref="PoseMessage.Decode"/>, printed as "... twins/s". A rough
    /// figure: it runs on whatever machine runs the tests, beside whatever else runs there.
    /// </summary>
    [TestFixture]
    public class DecodeThroughputTests
    {
        const double RunS = 0.5;

        static byte[] Payload(string name)
        {
            string dir = Environment.GetEnvironmentVariable("SYNTHTWIN_FIXTURES");
            if (string.IsNullOrEmpty(dir)) throw new InvalidOperationException("set SYNTHTWIN_FIXTURES to the payloads' folder");
            return File.ReadAllBytes(Path.Combine(dir, name));
        }

        /// <summary>Twins per second of applying <paramref name="payloads"/> in turn to fresh
        /// decoders, for <see cref="RunS"/> seconds.</summary>
        static double TwinsPerSecond(params byte[][] payloads)
        {
            long twins = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < RunS)
            {
                var decoder = new CrowdDecoder();
                foreach (byte[] payload in payloads) twins += decoder.Apply(payload).Ids.Length;
            }
            return twins / clock.Elapsed.TotalSeconds;
        }

        [Test]
        public void KeyframesAndDeltasDecodeInTwinsPerSecond()
        {
            byte[] key = Payload("keyframe.bin"), delta = Payload("delta.bin");
            Assert.AreEqual(1000, new CrowdDecoder().Apply(key).Ids.Length);
            TwinsPerSecond(key, delta); // warm up the JIT
            double keyframes = TwinsPerSecond(key);
            double both = TwinsPerSecond(key, delta);
            Console.WriteLine("C# crowd decode, keyframe of 1000: {0:F0} twins/s", keyframes);
            Console.WriteLine("C# crowd decode, keyframe + delta of 1000: {0:F0} twins/s", both);
            Assert.Greater(keyframes, 1e5, "far slower than expected");
        }

        [Test]
        public void PosesDecodeInTwinsPerSecond()
        {
            byte[] payload = Payload("pose.bin");
            Assert.AreEqual(64, PoseMessage.Decode(payload).Ids.Length);
            long twins = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < RunS) twins += PoseMessage.Decode(payload).Ids.Length;
            double rate = twins / clock.Elapsed.TotalSeconds;
            Console.WriteLine("C# pose decode (24 joints), 64 twins a message: {0:F0} twins/s", rate);
            Assert.Greater(rate, 1e3, "far slower than expected");
        }
    }
}
