using System;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// <c>pose</c> (section 6.2): joint rotations and root translations of M followed twins with
    /// J joints each (SMPL: J = 24, joint order and parents in <see cref="Smpl.SmplSkeleton"/>).
    /// Rotations travel as smallest-three quaternions in three 16-bit words: the largest
    /// component (w, x, y, z = 0..3) is dropped, its index in bit 15 of words 0 (high) and 1
    /// (low); bits 0..14 of word k hold <c>(c_k + S) * 16383 / S</c>, S = 1 / sqrt(2).
    /// </summary>
    public sealed class PoseMessage : WireMessage
    {
        public const string KindName = "pose";

        /// <summary>Root translation quantum, m (1 mm).</summary>
        public const double RootQuantumM = 0.001;

        const int Half = 16383; // the code of 0, so the identity is exact
        static readonly double S = 1.0 / Math.Sqrt(2.0);

        /// <summary>The kept components, in w, x, y, z order, for each dropped index.</summary>
        static readonly int[][] Kept = { new[] { 1, 2, 3 }, new[] { 0, 2, 3 }, new[] { 0, 1, 3 }, new[] { 0, 1, 2 } };

        /// <summary>(M,) twin ids, ascending.</summary>
        public uint[] Ids;

        /// <summary>J: joints per twin.</summary>
        public int Joints;

        /// <summary>(M * J * 4,) unit quaternions (w, x, y, z), each joint relative to its parent,
        /// SMPL's frame (right-handed; convert with <see cref="Smpl.Handedness"/>).</summary>
        public float[] Quat;

        /// <summary>(M * 3,) SMPL root translation, m, map frame (x east, y north, z up).</summary>
        public double[] RootM;

        /// <summary>Decode and check a pose payload (fields in the order of section 6.2).</summary>
        /// <exception cref="WireException">any envelope or field error of section 10.</exception>
        public static PoseMessage Decode(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload, KindName));
        }

        /// <summary>The pose message in a decoded envelope.</summary>
        public static PoseMessage FromEnvelope(Envelope envelope)
        {
            var msg = new PoseMessage();
            msg.SetEnvelope(envelope);
            msg.Ids = Arrays.Read(envelope.Body, "ids", "body", "<u4").ToUInt32();
            Arrays.CheckAscending(msg.Ids, "body.ids");
            NumArray rot = Arrays.Read(envelope.Body, "rot", "body", "<u2", null, 3);
            Arrays.CheckRows(rot, "body.rot", msg.Ids.Length);
            NumArray root = Arrays.Read(envelope.Body, "root", "body", "<i4", 3);
            Arrays.CheckRows(root, "body.root", msg.Ids.Length);
            msg.Joints = (int)rot.Shape[1];
            msg.Quat = UnpackQuaternions(rot.ToUInt16());
            int[] rootMm = root.ToInt32();
            msg.RootM = new double[rootMm.Length];
            for (int i = 0; i < rootMm.Length; i++) msg.RootM[i] = rootMm[i] * RootQuantumM;
            return msg;
        }

        /// <summary>(n * 3,) smallest-three words -> (n * 4,) unit quaternions (w, x, y, z),
        /// computed in float64 and rounded to float32 as the reference decoder does.</summary>
        public static float[] UnpackQuaternions(ushort[] words)
        {
            int n = words.Length / 3;
            var quat = new float[4 * n];
            var q = new double[4];
            for (int i = 0; i < n; i++)
            {
                int largest = ((words[3 * i] >> 15) << 1) | (words[3 * i + 1] >> 15);
                double sum = 0;
                for (int k = 0; k < 3; k++)
                {
                    double c = ((words[3 * i + k] & 0x7fff) - Half) * (S / Half);
                    q[Kept[largest][k]] = c;
                    sum += c * c;
                }
                q[largest] = Math.Sqrt(Math.Max(0.0, 1.0 - sum));
                double norm = Math.Sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
                for (int k = 0; k < 4; k++) quat[4 * i + k] = (float)(q[k] / norm);
            }
            return quat;
        }
    }
}
