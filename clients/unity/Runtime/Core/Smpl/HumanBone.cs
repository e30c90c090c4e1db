namespace SynthTwin.Core.Smpl
{
    /// <summary>
    /// The humanoid bones SMPL's joints map to, with the values of UnityEngine.HumanBodyBones
    /// (so <c>(HumanBodyBones)(int)bone</c> converts; the core does not reference UnityEngine).
    /// </summary>
    public enum HumanBone
    {
        /// <summary>No humanoid bone (SMPL's hand joints, 22 and 23).</summary>
        None = -1,
        Hips = 0,
        LeftUpperLeg = 1,
        RightUpperLeg = 2,
        LeftLowerLeg = 3,
        RightLowerLeg = 4,
        LeftFoot = 5,
        RightFoot = 6,
        Spine = 7,
        Chest = 8,
        Neck = 9,
        Head = 10,
        LeftShoulder = 11,
        RightShoulder = 12,
        LeftUpperArm = 13,
        RightUpperArm = 14,
        LeftLowerArm = 15,
        RightLowerArm = 16,
        LeftHand = 17,
        RightHand = 18,
        LeftToes = 19,
        RightToes = 20,
        UpperChest = 54,
    }
}
