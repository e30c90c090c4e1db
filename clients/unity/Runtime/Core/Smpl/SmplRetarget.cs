using System.Collections.Generic;

namespace SynthTwin.Core.Smpl
{
    /// <summary>
    /// SMPL joint rotations onto a Unity humanoid rig, with the rest-pose correction.
    ///
    /// SMPL's zero pose is the T-pose (arms horizontal); a rig's rest pose may be a T-pose or an
    /// A-pose (arms lowered, often by 30-45 degrees). Everything here is in the rig's model space
    /// (Unity's frame, relative to the avatar's root, facing +z). For each bone b the rig has:
    /// - its T-pose rotation <c>T_b = C_b * R_b</c>, where <c>R_b</c> is its rest rotation and
    ///   <c>C_b</c> the shortest rotation from its rest direction (towards its child bone) to the
    ///   T-pose direction; only the arms differ between a T- and an A-pose, so <c>C_b</c> is
    ///   measured on the upper and lower arms (horizontal: -x for the left, +x for the right),
    ///   the hand takes its lower arm's, every other bone none (an A-pose's legs, spine and head
    ///   stand as a T-pose's);
    /// - its posed rotation <c>G_j * T_b</c>, where <c>G_j</c> is SMPL joint j's global rotation,
    ///   the product of the mirrored (<see cref="Handedness.SmplToUnity(Quat)"/>) local rotations
    ///   from the root to j: SMPL's rotation away from its T-pose, applied to the rig's T-pose.
    /// A Unity layer sets each bone's world rotation to the avatar root's rotation times it,
    /// parents first. Retargeting through global rotations needs no per-rig bone axes and
    /// tolerates rigs without optional bones (UpperChest, Toes).
    /// </summary>
    public sealed class SmplRetarget
    {
        readonly Quat?[] _tpose = new Quat?[SmplSkeleton.Joints];
        readonly Quat[] _global = new Quat[SmplSkeleton.Joints];

        /// <summary>Each corrected bone and the bone its direction points to (its T-pose
        /// direction is -x for the left arm, +x for the right, Unity model space).</summary>
        static readonly KeyValuePair<HumanBone, HumanBone>[] Corrected =
        {
            new KeyValuePair<HumanBone, HumanBone>(HumanBone.LeftUpperArm, HumanBone.LeftLowerArm),
            new KeyValuePair<HumanBone, HumanBone>(HumanBone.LeftLowerArm, HumanBone.LeftHand),
            new KeyValuePair<HumanBone, HumanBone>(HumanBone.RightUpperArm, HumanBone.RightLowerArm),
            new KeyValuePair<HumanBone, HumanBone>(HumanBone.RightLowerArm, HumanBone.RightHand),
        };

        /// <summary>The rig at rest.</summary>
        /// <param name="restRotations">each bone the rig has: its rotation in the rest pose,
        /// model space.</param>
        /// <param name="restPositionsM">each bone the rig has: its position in the rest pose,
        /// model space, m.</param>
        public SmplRetarget(IDictionary<HumanBone, Quat> restRotations, IDictionary<HumanBone, Vec3> restPositionsM)
        {
            var corrections = new Dictionary<HumanBone, Quat>();
            foreach (KeyValuePair<HumanBone, HumanBone> bone in Corrected)
            {
                if (!restPositionsM.ContainsKey(bone.Key) || !restPositionsM.ContainsKey(bone.Value)) continue;
                Vec3 rest = restPositionsM[bone.Value] - restPositionsM[bone.Key];
                Vec3 tpose = new Vec3(bone.Key == HumanBone.LeftUpperArm || bone.Key == HumanBone.LeftLowerArm ? -1 : 1, 0, 0);
                corrections[bone.Key] = Quat.FromTo(rest, tpose);
            }
            Quat hand;
            if (corrections.TryGetValue(HumanBone.LeftLowerArm, out hand)) corrections[HumanBone.LeftHand] = hand;
            if (corrections.TryGetValue(HumanBone.RightLowerArm, out hand)) corrections[HumanBone.RightHand] = hand;
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                HumanBone bone = SmplSkeleton.Bones[j];
                Quat rest, correction;
                if (bone == HumanBone.None || !restRotations.TryGetValue(bone, out rest)) continue;
                _tpose[j] = corrections.TryGetValue(bone, out correction) ? correction * rest : rest;
            }
        }

        /// <summary>Whether the rig has the bone joint <paramref name="joint"/> drives.</summary>
        public bool Drives(int joint)
        {
            return _tpose[joint].HasValue;
        }

        /// <summary>The rig's T-pose rotation of the bone joint <paramref name="joint"/> drives
        /// (model space); its rest rotation where it needs no correction.</summary>
        public Quat TPose(int joint)
        {
            return _tpose[joint].Value;
        }

        /// <summary>
        /// Model-space rotations of the rig's bones for one SMPL pose.
        /// </summary>
        /// <param name="quat">(M * J * 4,) (w, x, y, z) joint rotations relative to the parent,
        /// SMPL's frame, as <see cref="Wire.PoseMessage.Quat"/>.</param>
        /// <param name="twin">which of the M twins.</param>
        /// <param name="model">(J,) written: at each joint the rig drives, its bone's rotation in
        /// model space; the others are left as they are.</param>
        public void Solve(float[] quat, int twin, Quat[] model)
        {
            int at = twin * SmplSkeleton.Joints * 4;
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                int q = at + 4 * j;
                Quat local = Handedness.SmplToUnity(new Quat(quat[q], quat[q + 1], quat[q + 2], quat[q + 3]));
                int parent = SmplSkeleton.Parents[j];
                _global[j] = parent < 0 ? local : _global[parent] * local;
                if (_tpose[j].HasValue) model[j] = _global[j] * _tpose[j].Value;
            }
        }
    }
}
