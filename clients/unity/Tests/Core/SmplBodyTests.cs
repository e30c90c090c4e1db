using System;
using System.Globalization;
using System.IO;
using System.Json;
using NUnit.Framework;
using SynthTwin.Core.Smpl;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// <see cref="SmplBody"/> against the server's own body model (SYNTHTWIN_FIXTURES/body.json,
    /// written by tests/test_unity_core.py): the stature scale is each model's measured height
    /// ratio, and a walking pose, set as local rotations on the exported body's skeleton (its
    /// glTF nodes, mirrored into Unity's frame as glTFast imports them) and raised to the pose's
    /// root height, puts every joint where <c>BodyModel.forward</c> does (a tall twin's scaled
    /// by its stature, within millimetres).
    /// </summary>
    [TestFixture]
    public class SmplBodyTests
    {
        static JsonObject Fixture()
        {
            string dir = Environment.GetEnvironmentVariable("SYNTHTWIN_FIXTURES");
            if (string.IsNullOrEmpty(dir)) throw new InvalidOperationException("set SYNTHTWIN_FIXTURES");
            return (JsonObject)JsonValue.Parse(File.ReadAllText(Path.Combine(dir, "body.json")));
        }

        /// <summary>A JSON number, integer or not, as a double.</summary>
        static double Num(JsonValue value)
        {
            return double.Parse(value.ToString(), CultureInfo.InvariantCulture);
        }

        /// <summary>The numbers of a JSON array, nested arrays flattened in order.</summary>
        static float[] Floats(JsonValue array)
        {
            var values = new System.Collections.Generic.List<float>();
            foreach (JsonValue item in (JsonArray)array)
            {
                if (item.JsonType == JsonType.Array) values.AddRange(Floats(item));
                else values.Add((float)Num(item));
            }
            return values.ToArray();
        }

        static Vec3 Vec(JsonValue xyz)
        {
            return new Vec3(Num(xyz[0]), Num(xyz[1]), Num(xyz[2]));
        }

        [Test]
        public void TheStatureScaleIsEachModelsMeasuredHeightRatio()
        {
            foreach (JsonValue row in (JsonArray)Fixture()["stature_ratios"])
            {
                var betas = new float[10];
                betas[0] = (float)Num(row[1]);
                int model = (int)Num(row[0]);
                Assert.AreEqual(Num(row[2]), SmplBody.StatureScale(model, betas), 1e-5, "model " + model);
            }
            Assert.AreEqual(1.0, SmplBody.StatureScale(1, new float[0]));
            Assert.Throws<ArgumentOutOfRangeException>(() => SmplBody.StatureScale(3, new float[10]));
        }

        /// <summary>The body's joints in Unity's world: the pose's local rotations on the
        /// exported skeleton, scaled by <paramref name="scale"/> about the body's origin at the
        /// pose's root.</summary>
        static Vec3[] Pose(JsonObject body, double scale)
        {
            var local = new Quat[SmplSkeleton.Joints];
            SmplBody.JointRotations(Floats(body["quat"]), 0, local);
            var rootM = new[] { Num(body["root_m"][0]), Num(body["root_m"][1]), Num(body["root_m"][2]) };
            Vec3 origin = SmplBody.RootPosition(rootM, 0);
            var world = new Quat[SmplSkeleton.Joints];
            var position = new Vec3[SmplSkeleton.Joints];
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                int parent = SmplSkeleton.Parents[j];
                Vec3 offset = Handedness.SmplToUnity(Vec(body["rest_offsets"][j]));
                if (parent < 0)
                {
                    position[j] = offset;
                    world[j] = local[j];
                    continue;
                }
                Vec3 moved = world[parent].Rotate(offset);
                position[j] = new Vec3(position[parent].X + moved.X, position[parent].Y + moved.Y, position[parent].Z + moved.Z);
                world[j] = world[parent] * local[j];
            }
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                Vec3 p = position[j];
                position[j] = new Vec3(origin.X + scale * p.X, origin.Y + scale * p.Y, origin.Z + scale * p.Z);
            }
            return position;
        }

        static void AssertJoints(JsonValue expected, Vec3[] got, double toleranceM)
        {
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                Vec3 want = Handedness.SmplToUnity(Vec(expected[j]));
                string name = SmplSkeleton.Names[j];
                Assert.AreEqual(want.X, got[j].X, toleranceM, name + " x");
                Assert.AreEqual(want.Y, got[j].Y, toleranceM, name + " y");
                Assert.AreEqual(want.Z, got[j].Z, toleranceM, name + " z");
            }
        }

        [Test]
        public void APoseOnTheExportedSkeletonPutsEveryJointWhereTheServersBodyModelDoes()
        {
            JsonObject body = Fixture();
            AssertJoints(body["joints"], Pose(body, 1.0), 1e-5);
        }

        /// <summary>The stature direction lengthens a body exactly and widens it a little less:
        /// joints within 5 mm of the uniform scale at 1.5 SD (measured: 4.9 mm, across).</summary>
        [Test]
        public void ATallTwinScaledByItsStatureHasItsJointsWithinMillimetres()
        {
            JsonObject body = Fixture();
            double scale = SmplBody.StatureScale((int)Num(body["model"]), Floats(body["tall_betas"]));
            Assert.Greater(scale, 1.06);
            AssertJoints(body["tall_joints"], Pose(body, scale), 0.0055);
        }
    }
}
