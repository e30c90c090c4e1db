using System;
using System.Collections.Generic;
using System.IO;
using System.Json;
using NUnit.Framework;
using SynthTwin.Core.Smpl;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// SMPL to Unity: the joint table against the server's (kernels/smpl.py, written by the
    /// pytest into SYNTHTWIN_FIXTURES/server.json), handedness on known vectors and rotations, and
    /// retargeting known poses onto a T-pose and an A-pose rig, checked by where the bones point.
    /// </summary>
    [TestFixture]
    public class SmplTests
    {
        const double Tolerance = 1e-9;
        const double ArmDownRad = Math.PI / 4; // the A-pose rig's arms: 45 degrees below horizontal

        static void Near(Vec3 expected, Vec3 actual, string what)
        {
            Assert.Less((expected - actual).Length, 1e-6, what + ": expected " + expected + ", got " + actual);
        }

        [Test]
        public void JointNamesAndParentsAreTheServers()
        {
            string dir = Environment.GetEnvironmentVariable("SYNTHTWIN_FIXTURES");
            if (string.IsNullOrEmpty(dir)) throw new InvalidOperationException("set SYNTHTWIN_FIXTURES");
            JsonValue smpl = JsonValue.Parse(File.ReadAllText(Path.Combine(dir, "server.json")));
            Assert.AreEqual(SmplSkeleton.Joints, smpl["joint_names"].Count);
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                Assert.AreEqual((string)smpl["joint_names"][j], SmplSkeleton.Names[j]);
                Assert.AreEqual((int)smpl["parents"][j], SmplSkeleton.Parents[j]);
            }
        }

        [Test]
        public void EveryJointDrivesTheHumanoidBoneOfItsSideAndChain()
        {
            var unityParent = new Dictionary<HumanBone, HumanBone>
            {
                { HumanBone.LeftUpperLeg, HumanBone.Hips }, { HumanBone.LeftLowerLeg, HumanBone.LeftUpperLeg },
                { HumanBone.LeftFoot, HumanBone.LeftLowerLeg }, { HumanBone.LeftToes, HumanBone.LeftFoot },
                { HumanBone.RightUpperLeg, HumanBone.Hips }, { HumanBone.RightLowerLeg, HumanBone.RightUpperLeg },
                { HumanBone.RightFoot, HumanBone.RightLowerLeg }, { HumanBone.RightToes, HumanBone.RightFoot },
                { HumanBone.Spine, HumanBone.Hips }, { HumanBone.Chest, HumanBone.Spine },
                { HumanBone.UpperChest, HumanBone.Chest }, { HumanBone.Neck, HumanBone.UpperChest },
                { HumanBone.Head, HumanBone.Neck }, { HumanBone.LeftShoulder, HumanBone.UpperChest },
                { HumanBone.LeftUpperArm, HumanBone.LeftShoulder }, { HumanBone.LeftLowerArm, HumanBone.LeftUpperArm },
                { HumanBone.LeftHand, HumanBone.LeftLowerArm }, { HumanBone.RightShoulder, HumanBone.UpperChest },
                { HumanBone.RightUpperArm, HumanBone.RightShoulder }, { HumanBone.RightLowerArm, HumanBone.RightUpperArm },
                { HumanBone.RightHand, HumanBone.RightLowerArm },
            };
            var seen = new HashSet<HumanBone>();
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                HumanBone bone = SmplSkeleton.Bones[j];
                string name = SmplSkeleton.Names[j];
                if (bone == HumanBone.None)
                {
                    StringAssert.EndsWith("_hand", name);
                    continue;
                }
                Assert.IsTrue(seen.Add(bone), bone + " twice");
                Assert.AreEqual(name.StartsWith("left_"), bone.ToString().StartsWith("Left"), name);
                Assert.AreEqual(name.StartsWith("right_"), bone.ToString().StartsWith("Right"), name);
                int parent = SmplSkeleton.Parents[j];
                if (parent < 0) Assert.AreEqual(HumanBone.Hips, bone);
                else Assert.AreEqual(unityParent[bone], SmplSkeleton.Bones[parent], name);
                Assert.AreEqual(j, SmplSkeleton.JointOf(bone));
            }
            Assert.AreEqual(22, seen.Count);
        }

        [Test]
        public void MirroringXKeepsLeftOnTheLeftAndCommutesWithRotations()
        {
            // SMPL's left (+x) is Unity's -x: facing +z in both, Unity's +x is the right.
            Near(new Vec3(-0.1, 0.9, 0), Handedness.SmplToUnity(new Vec3(0.1, 0.9, 0)), "left hip");
            // A quarter turn to the body's left: SMPL +z -> +x, so Unity +z -> -x.
            Quat left = Handedness.SmplToUnity(Quat.AngleAxis(Math.PI / 2, new Vec3(0, 1, 0)));
            Near(new Vec3(-1, 0, 0), left.Rotate(new Vec3(0, 0, 1)), "turned left");
            var random = new Random(5);
            for (int i = 0; i < 100; i++)
            {
                Quat a = RandomQuat(random), b = RandomQuat(random);
                var v = new Vec3(random.NextDouble() - 0.5, random.NextDouble() - 0.5, random.NextDouble() - 0.5);
                Near(Handedness.SmplToUnity(a.Rotate(v)), Handedness.SmplToUnity(a).Rotate(Handedness.SmplToUnity(v)), "rotate");
                Quat product = Handedness.SmplToUnity(a * b);
                Assert.Less(Quat.Angle(product, Handedness.SmplToUnity(a) * Handedness.SmplToUnity(b)), 1e-6);
            }
        }

        [Test]
        public void MapPositionsAndHeadingsBecomeUnityPositionsAndYaws()
        {
            Near(new Vec3(7012.34, 0.95, -3056.78), Handedness.MapToUnity(new Vec3(7012.34, -3056.78, 0.95)), "map");
            Assert.AreEqual(90.0, Handedness.HeadingToUnityYawDeg(0), Tolerance, "east");
            Assert.AreEqual(0.0, Handedness.HeadingToUnityYawDeg(Math.PI / 2), Tolerance, "north");
            Assert.AreEqual(270.0, Handedness.HeadingToUnityYawDeg(Math.PI), Tolerance, "west");
            Assert.AreEqual(180.0, Handedness.HeadingToUnityYawDeg(3 * Math.PI / 2), Tolerance, "south");
            for (double heading = 0; heading < 2 * Math.PI; heading += 0.37)
            {
                double yaw = Handedness.HeadingToUnityYawDeg(heading) * Math.PI / 180;
                var facing = new Vec3(Math.Sin(yaw), 0, Math.Cos(yaw)); // Unity's yaw turns +z towards +x
                Near(Handedness.MapToUnity(new Vec3(Math.Cos(heading), Math.Sin(heading), 0)), facing, "heading " + heading);
            }
        }

        static Quat RandomQuat(Random random)
        {
            return new Quat(random.NextDouble() - 0.5, random.NextDouble() - 0.5, random.NextDouble() - 0.5,
                random.NextDouble() - 0.5).Normalized();
        }

        /// <summary>Rest positions of a small humanoid rig, Unity model space (m), its arms
        /// <paramref name="armDownRad"/> below horizontal.</summary>
        static Dictionary<HumanBone, Vec3> Rig(double armDownRad)
        {
            var rig = new Dictionary<HumanBone, Vec3>
            {
                { HumanBone.Hips, new Vec3(0, 1, 0) }, { HumanBone.Spine, new Vec3(0, 1.1, 0) },
                { HumanBone.Chest, new Vec3(0, 1.25, 0) }, { HumanBone.UpperChest, new Vec3(0, 1.35, 0) },
                { HumanBone.Neck, new Vec3(0, 1.5, 0) }, { HumanBone.Head, new Vec3(0, 1.6, 0) },
            };
            foreach (int side in new[] { -1, 1 })
            {
                bool left = side < 0;
                double c = Math.Cos(armDownRad), s = Math.Sin(armDownRad);
                rig[left ? HumanBone.LeftShoulder : HumanBone.RightShoulder] = new Vec3(side * 0.05, 1.45, 0);
                rig[left ? HumanBone.LeftUpperArm : HumanBone.RightUpperArm] = new Vec3(side * 0.18, 1.45, 0);
                rig[left ? HumanBone.LeftLowerArm : HumanBone.RightLowerArm] = new Vec3(side * (0.18 + 0.3 * c), 1.45 - 0.3 * s, 0);
                rig[left ? HumanBone.LeftHand : HumanBone.RightHand] = new Vec3(side * (0.18 + 0.55 * c), 1.45 - 0.55 * s, 0);
                rig[left ? HumanBone.LeftUpperLeg : HumanBone.RightUpperLeg] = new Vec3(side * 0.1, 0.95, 0);
                rig[left ? HumanBone.LeftLowerLeg : HumanBone.RightLowerLeg] = new Vec3(side * 0.1, 0.5, 0);
                rig[left ? HumanBone.LeftFoot : HumanBone.RightFoot] = new Vec3(side * 0.1, 0.08, 0);
                rig[left ? HumanBone.LeftToes : HumanBone.RightToes] = new Vec3(side * 0.1, 0, 0.12);
            }
            return rig;
        }

        /// <summary>Each bone's rest rotation: random (a rig's bone axes are its own business).</summary>
        static Dictionary<HumanBone, Quat> RestRotations(IEnumerable<HumanBone> bones, int seed)
        {
            var random = new Random(seed);
            var rest = new Dictionary<HumanBone, Quat>();
            foreach (HumanBone bone in bones) rest[bone] = RandomQuat(random);
            return rest;
        }

        /// <summary>Where bone <paramref name="bone"/> (towards <paramref name="tip"/>) points
        /// once posed with model rotation <paramref name="model"/>.</summary>
        static Vec3 Points(Dictionary<HumanBone, Vec3> rig, Dictionary<HumanBone, Quat> rest, Quat[] model, HumanBone bone, HumanBone tip)
        {
            Vec3 local = rest[bone].Inverse().Rotate(rig[tip] - rig[bone]);
            return model[SmplSkeleton.JointOf(bone)].Rotate(local).Normalized();
        }

        static Quat[] Solve(SmplRetarget retarget, params KeyValuePair<int, Quat>[] joints)
        {
            var quat = new float[SmplSkeleton.Joints * 4];
            for (int j = 0; j < SmplSkeleton.Joints; j++) quat[4 * j] = 1;
            foreach (KeyValuePair<int, Quat> joint in joints)
            {
                quat[4 * joint.Key] = (float)joint.Value.W;
                quat[4 * joint.Key + 1] = (float)joint.Value.X;
                quat[4 * joint.Key + 2] = (float)joint.Value.Y;
                quat[4 * joint.Key + 3] = (float)joint.Value.Z;
            }
            var model = new Quat[SmplSkeleton.Joints];
            retarget.Solve(quat, 0, model);
            return model;
        }

        [Test]
        public void TheZeroPoseIsATPoseRigsRestAndLiftsAnAPosesArms()
        {
            foreach (double armDown in new[] { 0.0, ArmDownRad })
            {
                Dictionary<HumanBone, Vec3> rig = Rig(armDown);
                Dictionary<HumanBone, Quat> rest = RestRotations(rig.Keys, 11);
                Quat[] model = Solve(new SmplRetarget(rest, rig));
                Near(new Vec3(-1, 0, 0), Points(rig, rest, model, HumanBone.LeftUpperArm, HumanBone.LeftLowerArm), "left upper arm");
                Near(new Vec3(-1, 0, 0), Points(rig, rest, model, HumanBone.LeftLowerArm, HumanBone.LeftHand), "left lower arm");
                Near(new Vec3(1, 0, 0), Points(rig, rest, model, HumanBone.RightUpperArm, HumanBone.RightLowerArm), "right upper arm");
                Near(new Vec3(1, 0, 0), Points(rig, rest, model, HumanBone.RightLowerArm, HumanBone.RightHand), "right lower arm");
                int hand = SmplSkeleton.JointOf(HumanBone.LeftHand), lower = SmplSkeleton.JointOf(HumanBone.LeftLowerArm);
                Quat handTurn = model[hand] * rest[HumanBone.LeftHand].Inverse();
                Assert.Less(Quat.Angle(handTurn, model[lower] * rest[HumanBone.LeftLowerArm].Inverse()), 1e-6, "the hand follows");
                foreach (HumanBone bone in new[] { HumanBone.Hips, HumanBone.LeftUpperLeg, HumanBone.Head, HumanBone.RightToes })
                {
                    Assert.Less(Quat.Angle(rest[bone], model[SmplSkeleton.JointOf(bone)]), 1e-6, bone + " stays at rest");
                }
                double lifted = Quat.Angle(rest[HumanBone.LeftUpperArm], model[SmplSkeleton.JointOf(HumanBone.LeftUpperArm)]);
                Assert.AreEqual(armDown, lifted, 1e-6, "the upper arm turns by the A-pose's angle");
            }
        }

        [Test]
        public void ABentElbowAndKneeAndATurnedPelvisPointWhereSmplPointsThem()
        {
            Dictionary<HumanBone, Vec3> rig = Rig(ArmDownRad);
            Dictionary<HumanBone, Quat> rest = RestRotations(rig.Keys, 12);
            var retarget = new SmplRetarget(rest, rig);
            var up = new Vec3(0, 1, 0);
            // SMPL: the left elbow flexes the forearm forward (+x -> +z about y by -90 degrees);
            // the left knee flexes the shank backward (-y -> -z about x by +90 degrees).
            Quat[] model = Solve(retarget,
                new KeyValuePair<int, Quat>(18, Quat.AngleAxis(-Math.PI / 2, up)),
                new KeyValuePair<int, Quat>(4, Quat.AngleAxis(Math.PI / 2, new Vec3(1, 0, 0))));
            Near(new Vec3(-1, 0, 0), Points(rig, rest, model, HumanBone.LeftUpperArm, HumanBone.LeftLowerArm), "upper arm");
            Near(new Vec3(0, 0, 1), Points(rig, rest, model, HumanBone.LeftLowerArm, HumanBone.LeftHand), "forearm forward");
            Near(new Vec3(0, 0, -1), Points(rig, rest, model, HumanBone.LeftLowerLeg, HumanBone.LeftFoot), "shank backward");
            Near(new Vec3(0, -1, 0), Points(rig, rest, model, HumanBone.RightLowerLeg, HumanBone.RightFoot), "other shank");
            // The pelvis turned a quarter to the body's left carries every bone with it.
            model = Solve(retarget, new KeyValuePair<int, Quat>(0, Quat.AngleAxis(Math.PI / 2, up)));
            // Facing north, the left arm points west; turned to face west, it points south.
            Near(new Vec3(0, 0, -1), Points(rig, rest, model, HumanBone.LeftUpperArm, HumanBone.LeftLowerArm), "left arm back");
            Near(new Vec3(0, 0, 1), Points(rig, rest, model, HumanBone.RightUpperArm, HumanBone.RightLowerArm), "right arm forward");
        }

        [Test]
        public void ThePoseVectorsIdentityTwinRetargetsToTheRest()
        {
            string dir = Environment.GetEnvironmentVariable("SYNTHTWIN_GOLDEN");
            if (string.IsNullOrEmpty(dir)) throw new InvalidOperationException("set SYNTHTWIN_GOLDEN");
            PoseMessage pose = PoseMessage.Decode(File.ReadAllBytes(Path.Combine(dir, "pose.bin")));
            Assert.AreEqual(SmplSkeleton.Joints, pose.Joints);
            Dictionary<HumanBone, Vec3> rig = Rig(0);
            Dictionary<HumanBone, Quat> rest = RestRotations(rig.Keys, 13);
            var model = new Quat[SmplSkeleton.Joints];
            new SmplRetarget(rest, rig).Solve(pose.Quat, 0, model); // the first twin: every joint at identity
            foreach (KeyValuePair<HumanBone, Quat> bone in rest)
            {
                Assert.Less(Quat.Angle(bone.Value, model[SmplSkeleton.JointOf(bone.Key)]), 1e-6, bone.Key.ToString());
            }
        }
    }
}
