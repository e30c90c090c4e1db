using System.Collections.Generic;
using SynthTwin.Core.Smpl;
using SynthTwin.Core.Wire;
using UnityEngine;

namespace SynthTwin.Unity
{
    /// <summary>
    /// Drives a humanoid with one followed twin's full SMPL pose (protocol section 6.2): follows
    /// <c>twin/&lt;id&gt;/</c>, and each frame sets every humanoid bone's rotation from the core's
    /// <see cref="SmplRetarget"/> (mirror X, SMPL joints to HumanBodyBones, A-pose/T-pose
    /// correction measured on the rig at rest) and the body at the twin's map position and
    /// heading from the crowd.
    /// </summary>
    public sealed class PoseDriver : MonoBehaviour
    {
        public SynthTwinClient client;

        [Tooltip("The twin to follow")]
        public uint twinId;

        [Tooltip("A humanoid Animator, in its rest pose when this starts")]
        public Animator animator;

        SmplRetarget _retarget;
        readonly Transform[] _bones = new Transform[SmplSkeleton.Joints];
        readonly Quat[] _model = new Quat[SmplSkeleton.Joints];

        void Start()
        {
            var rotations = new Dictionary<HumanBone, Quat>();
            var positions = new Dictionary<HumanBone, Vec3>();
            Transform root = animator.transform;
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                HumanBone bone = SmplSkeleton.Bones[j];
                if (bone == HumanBone.None) continue;
                Transform t = animator.GetBoneTransform((HumanBodyBones)(int)bone);
                if (t == null) continue;
                _bones[j] = t;
                Quaternion r = Quaternion.Inverse(root.rotation) * t.rotation;
                Vector3 p = root.InverseTransformPoint(t.position);
                rotations[bone] = new Quat(r.w, r.x, r.y, r.z);
                positions[bone] = new Vec3(p.x, p.y, p.z);
            }
            _retarget = new SmplRetarget(rotations, positions);
            client.Client.Follow(twinId);
        }

        void LateUpdate()
        {
            if (client.Replica == null) return;
            int row;
            PoseMessage pose = client.Replica.Pose(twinId, out row);
            if (pose == null || pose.Joints != SmplSkeleton.Joints) return;
            PlaceBody(row >= 0 ? pose.RootM : null, row);
            _retarget.Solve(pose.Quat, row, _model);
            Transform root = animator.transform;
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                if (_bones[j] == null) continue;
                Quat q = _model[j];
                _bones[j].rotation = root.rotation * new Quaternion((float)q.X, (float)q.Y, (float)q.Z, (float)q.W);
            }
        }

        /// <summary>The body at the twin's map position (the pose's root, m) and heading (the crowd's).</summary>
        void PlaceBody(double[] rootM, int row)
        {
            int crowdRow = client.Replica.Crowd().Row(twinId);
            if (rootM == null || crowdRow < 0) return;
            Vec3 p = Handedness.MapToUnity(new Vec3(rootM[3 * row], rootM[3 * row + 1], 0));
            float yaw = (float)Handedness.HeadingToUnityYawDeg(client.Replica.Crowd().HeadingRad[crowdRow]);
            animator.transform.SetPositionAndRotation(new Vector3((float)p.X, (float)p.Y, (float)p.Z), Quaternion.Euler(0, yaw, 0));
        }
    }
}
