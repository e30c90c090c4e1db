namespace SynthTwin.Core.Smpl
{
    /// <summary>
    /// SMPL's 24 joints (Loper et al. 2015, "SMPL: A Skinned Multi-Person Linear Model", ACM TOG
    /// 34(6)): their order in a pose message, their parents (kernels/smpl.py JOINT_NAMES and
    /// PARENTS of the repository) and the Unity humanoid bone each drives. SMPL's body frame is
    /// right-handed: x to the body's left, y up, z forward; its zero pose is the T-pose.
    /// </summary>
    public static class SmplSkeleton
    {
        /// <summary>J: joints of SMPL.</summary>
        public const int Joints = 24;

        /// <summary>Joint names, index = joint.</summary>
        public static readonly string[] Names =
        {
            "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
            "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
            "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
            "left_wrist", "right_wrist", "left_hand", "right_hand",
        };

        /// <summary>The parent of each joint, -1 for the root; parents come before children.</summary>
        public static readonly int[] Parents =
            { -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21 };

        /// <summary>The humanoid bone each joint drives. SMPL's shoulder is Unity's upper arm
        /// and its collar Unity's shoulder; its hand joints (22, 23, at the knuckles) have no
        /// humanoid bone: Unity's hand is SMPL's wrist.</summary>
        public static readonly HumanBone[] Bones =
        {
            HumanBone.Hips, HumanBone.LeftUpperLeg, HumanBone.RightUpperLeg, HumanBone.Spine,
            HumanBone.LeftLowerLeg, HumanBone.RightLowerLeg, HumanBone.Chest, HumanBone.LeftFoot,
            HumanBone.RightFoot, HumanBone.UpperChest, HumanBone.LeftToes, HumanBone.RightToes,
            HumanBone.Neck, HumanBone.LeftShoulder, HumanBone.RightShoulder, HumanBone.Head,
            HumanBone.LeftUpperArm, HumanBone.RightUpperArm, HumanBone.LeftLowerArm,
            HumanBone.RightLowerArm, HumanBone.LeftHand, HumanBone.RightHand, HumanBone.None,
            HumanBone.None,
        };

        /// <summary>The joint that drives <paramref name="bone"/>, or -1.</summary>
        public static int JointOf(HumanBone bone)
        {
            return System.Array.IndexOf(Bones, bone);
        }
    }
}
