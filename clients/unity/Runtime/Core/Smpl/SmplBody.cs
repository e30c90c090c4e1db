using System;

namespace SynthTwin.Core.Smpl
{
    /// <summary>
    /// A followed twin's body in Unity (protocol section 14): its size from its betas, where its
    /// root goes, and its joints' local rotations on an SMPL skeleton (the bodies
    /// <c>twin export-assets</c> writes, imported with glTFast, whose nodes are SMPL's joints).
    /// </summary>
    public static class SmplBody
    {
        /// <summary>Mean adult stature of each body model, m (index: model code: female, male,
        /// neutral); the exported bodies (betas 0) are exactly this tall.</summary>
        public static readonly double[] StatureMeanM = { 1.617, 1.754, 1.6855 };

        /// <summary>SD of adult stature of each body model, m: one unit of <c>betas[0]</c>
        /// (neutral: the 50/50 mixture of the two sexes).</summary>
        public static readonly double[] StatureSdM = { 0.070, 0.075, 0.0997735 };

        /// <summary>The twin's stature relative to its model's template, the uniform scale of
        /// the template body: <c>1 + betas[0] * sd / mean</c>. Exact for the height; SynthTwin's
        /// stature direction widens a body a little less than it lengthens it (joints within
        /// ~3.5 mm per SD of the uniform scale); girth and proportions (<c>betas[1..]</c>) stay
        /// the template's.</summary>
        /// <param name="model">body model code (<c>ShapeMessage.Model</c>): 0 female, 1 male, 2 neutral.</param>
        /// <param name="betas">the twin's SMPL betas (any length; none: scale 1).</param>
        public static double StatureScale(int model, float[] betas)
        {
            if (model < 0 || model >= StatureMeanM.Length) throw new ArgumentOutOfRangeException("model", model, "a body model code is 0, 1 or 2");
            if (betas == null || betas.Length == 0) return 1.0;
            return 1.0 + betas[0] * StatureSdM[model] / StatureMeanM[model];
        }

        /// <summary>Where the body's origin goes in Unity's world, m: the pose's root
        /// (<c>PoseMessage.RootM</c>, map frame) with its height (the clip's root height, SMPL's
        /// <c>transl</c> y, not scaled, as SMPL adds it) as Unity's y.</summary>
        public static Vec3 RootPosition(double[] rootM, int row)
        {
            return Handedness.MapToUnity(new Vec3(rootM[3 * row], rootM[3 * row + 1], rootM[3 * row + 2]));
        }

        /// <summary>Each SMPL joint's local rotation in Unity's frame (mirror X) for one twin of a
        /// pose message: on a skeleton whose nodes are SMPL's joints at their rest offsets (the
        /// exported bodies), <c>joint.localRotation = local[j]</c> poses the body as the server
        /// does, without retargeting.</summary>
        /// <param name="quat">(M * J * 4,) the pose message's quaternions (w, x, y, z).</param>
        /// <param name="twin">the twin's row.</param>
        /// <param name="local">(J,) written.</param>
        public static void JointRotations(float[] quat, int twin, Quat[] local)
        {
            int at = 4 * local.Length * twin;
            for (int j = 0; j < local.Length; j++, at += 4)
            {
                local[j] = Handedness.SmplToUnity(new Quat(quat[at], quat[at + 1], quat[at + 2], quat[at + 3]));
            }
        }
    }
}
