using System.Collections.Generic;
using SynthTwin.Core.Smpl;
using SynthTwin.Core.Wire;
using UnityEngine;

namespace SynthTwin.Unity
{
    /// <summary>
    /// Drives a body with one followed twin's full SMPL pose (protocol section 6.2): follows
    /// <c>twin/&lt;id&gt;/</c> and each frame
    /// <list type="bullet">
    /// <item>sets the joints: on an SMPL skeleton (<see cref="smplSkeleton"/>: a body written by
    /// <c>twin export-assets</c> and imported with glTFast, whose nodes are SMPL's joints) each
    /// joint's local rotation (<see cref="SmplBody.JointRotations"/>: mirror X); otherwise every
    /// bone of a humanoid <see cref="animator"/> (<see cref="SmplRetarget"/>: SMPL joints to
    /// HumanBodyBones, A-pose/T-pose correction measured on the rig at rest);</item>
    /// <item>places the body at the twin's map position and heading (the crowd's) and at the
    /// pose's root height (the clip's: a seated twin is lower, <see cref="SmplBody.RootPosition"/>);</item>
    /// <item>scales it by the twin's stature from its betas (<c>twin/&lt;id&gt;/shape</c>,
    /// <see cref="SmplBody.StatureScale"/>), relative to the exported body of its model.</item>
    /// </list>
    /// All of it is computed in SynthTwin.Core; this only reads and writes transforms.
    /// </summary>
    public sealed class PoseDriver : MonoBehaviour
    {
        public SynthTwinClient client;

        [Tooltip("The twin to follow")]
        public uint twinId;

        [Tooltip("The body's root: an SMPL skeleton (twin export-assets, glTFast) with joints named pelvis, left_hip, ...; leave empty to drive a humanoid Animator")]
        public Transform smplSkeleton;

        [Tooltip("A humanoid Animator, in its rest pose when this starts (used when no SMPL skeleton is set)")]
        public Animator animator;

        [Tooltip("Scale the body by the twin's stature (betas[0] of twin/<id>/shape)")]
        public bool applyShape = true;

        SmplRetarget _retarget;
        readonly Transform[] _bones = new Transform[SmplSkeleton.Joints];
        readonly Quat[] _rotations = new Quat[SmplSkeleton.Joints];
        long _scaledBySeq = -1;

        /// <summary>The transform placed and scaled: the skeleton's or the Animator's.</summary>
        Transform Body
        {
            get { return smplSkeleton != null ? smplSkeleton : animator.transform; }
        }

        void Start()
        {
            if (smplSkeleton != null) FindSmplJoints();
            else MeasureHumanoid();
            client.Client.Follow(twinId);
        }

        void FindSmplJoints()
        {
            var byName = new Dictionary<string, Transform>();
            foreach (Transform t in smplSkeleton.GetComponentsInChildren<Transform>()) byName[t.name] = t;
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                Transform joint;
                if (byName.TryGetValue(SmplSkeleton.Names[j], out joint)) _bones[j] = joint;
                else Debug.LogWarning("PoseDriver: " + smplSkeleton.name + " has no joint " + SmplSkeleton.Names[j]);
            }
        }

        void MeasureHumanoid()
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
        }

        void LateUpdate()
        {
            if (client.Replica == null) return;
            int row;
            PoseMessage pose = client.Replica.Pose(twinId, out row);
            if (pose == null || row < 0 || pose.Joints != SmplSkeleton.Joints) return;
            PlaceBody(pose.RootM, row);
            if (applyShape) ScaleBody();
            if (smplSkeleton != null) SetSmplJoints(pose, row);
            else SetHumanoidBones(pose, row);
        }

        void SetSmplJoints(PoseMessage pose, int row)
        {
            SmplBody.JointRotations(pose.Quat, row, _rotations);
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                if (_bones[j] != null) _bones[j].localRotation = ToUnity(_rotations[j]);
            }
        }

        void SetHumanoidBones(PoseMessage pose, int row)
        {
            _retarget.Solve(pose.Quat, row, _rotations);
            Transform root = animator.transform;
            for (int j = 0; j < SmplSkeleton.Joints; j++)
            {
                if (_bones[j] != null) _bones[j].rotation = root.rotation * ToUnity(_rotations[j]);
            }
        }

        /// <summary>The body at the twin's map position and the pose's root height, turned to
        /// the twin's heading (the crowd's record).</summary>
        void PlaceBody(double[] rootM, int row)
        {
            int crowdRow = client.Replica.Crowd().Row(twinId);
            if (crowdRow < 0) return;
            Vec3 p = SmplBody.RootPosition(rootM, row);
            float yaw = (float)Handedness.HeadingToUnityYawDeg(client.Replica.Crowd().HeadingRad[crowdRow]);
            Body.SetPositionAndRotation(new Vector3((float)p.X, (float)p.Y, (float)p.Z), Quaternion.Euler(0, yaw, 0));
        }

        /// <summary>The body scaled by the twin's stature, when a shape message arrives.</summary>
        void ScaleBody()
        {
            int row;
            ShapeMessage shape = client.Replica.Shape(twinId, out row);
            if (shape == null || row < 0 || shape.Seq == _scaledBySeq) return;
            _scaledBySeq = shape.Seq;
            float scale = (float)SmplBody.StatureScale(shape.Model[row], shape.BetasOf(row));
            Body.localScale = new Vector3(scale, scale, scale);
        }

        static Quaternion ToUnity(Quat q)
        {
            return new Quaternion((float)q.X, (float)q.Y, (float)q.Z, (float)q.W);
        }
    }
}
