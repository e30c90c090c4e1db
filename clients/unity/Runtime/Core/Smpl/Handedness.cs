using System;

namespace SynthTwin.Core.Smpl
{
    /// <summary>
    /// Frames and their conversion to Unity's (left-handed: x right, y up, z forward):
    /// - SMPL's body frame (right-handed: x to the body's left, y up, z forward) mirrors X:
    ///   <c>(x, y, z) -> (-x, y, z)</c>; a rotation's quaternion <c>(w, x, y, z) -> (w, x, -y, -z)</c>
    ///   (a reflection keeps a rotation's angle and maps its axis, a pseudovector, to
    ///   <c>det(M) M axis</c>). A body facing +z keeps facing +z, its left on -x.
    /// - The map frame of the protocol (right-handed: x east, y north, z up) swaps Y and Z:
    ///   <c>(x, y, z) -> (x, z, y)</c>, Unity's x east, y up, z north.
    /// - A heading (rad, 0 = east, counter-clockwise seen from above) is Unity's yaw about +y
    ///   (degrees, 0 = facing +z = north, clockwise seen from above): <c>90 - heading</c>.
    /// </summary>
    public static class Handedness
    {
        /// <summary>A position or direction of SMPL's body frame in Unity's.</summary>
        public static Vec3 SmplToUnity(Vec3 v)
        {
            return new Vec3(-v.X, v.Y, v.Z);
        }

        /// <summary>A rotation of SMPL's body frame in Unity's.</summary>
        public static Quat SmplToUnity(Quat q)
        {
            return new Quat(q.W, q.X, -q.Y, -q.Z);
        }

        /// <summary>A map position (m; x east, y north, z up) in Unity's world (m).</summary>
        public static Vec3 MapToUnity(Vec3 mapM)
        {
            return new Vec3(mapM.X, mapM.Z, mapM.Y);
        }

        /// <summary>Unity's yaw about +y, degrees in [0, 360), of a protocol heading, rad.</summary>
        public static double HeadingToUnityYawDeg(double headingRad)
        {
            double yaw = 90.0 - headingRad * 180.0 / Math.PI;
            yaw %= 360.0;
            return yaw < 0 ? yaw + 360.0 : yaw;
        }
    }
}
