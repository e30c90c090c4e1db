using System;
using System.Diagnostics;
using System.IO;
using NUnit.Framework;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// Decode throughput of crowd messages that the Python encoder wrote (a keyframe of 1000
    /// walking twins and a delta of half of them, in SYNTHTWIN_FIXTURES): twins per second through
    /// <see cref="CrowdDecoder"/> (decode, check, dequantize), printed as "... twins/s". A rough
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
    }
}
