using System;

namespace SynthTwin.Core.Smpl
{
    /// <summary>
    /// A unit quaternion (w, x, y, z) of doubles: a rotation, in whichever frame (right-handed
    /// SMPL or left-handed Unity) the method that made it names. Products compose like
    /// rotation matrices: <c>(a * b).Rotate(v) == a.Rotate(b.Rotate(v))</c>.
    /// </summary>
    public struct Quat
    {
        public double W, X, Y, Z;

        public Quat(double w, double x, double y, double z)
        {
            W = w;
            X = x;
            Y = y;
            Z = z;
        }

        /// <summary>The rotation by nothing.</summary>
        public static readonly Quat Identity = new Quat(1, 0, 0, 0);

        public static Quat operator *(Quat a, Quat b)
        {
            return new Quat(
                a.W * b.W - a.X * b.X - a.Y * b.Y - a.Z * b.Z,
                a.W * b.X + a.X * b.W + a.Y * b.Z - a.Z * b.Y,
                a.W * b.Y - a.X * b.Z + a.Y * b.W + a.Z * b.X,
                a.W * b.Z + a.X * b.Y - a.Y * b.X + a.Z * b.W);
        }

        /// <summary>The inverse rotation (the conjugate of a unit quaternion).</summary>
        public Quat Inverse()
        {
            return new Quat(W, -X, -Y, -Z);
        }

        /// <summary><paramref name="v"/> rotated by this rotation.</summary>
        public Vec3 Rotate(Vec3 v)
        {
            Quat r = this * new Quat(0, v.X, v.Y, v.Z) * Inverse();
            return new Vec3(r.X, r.Y, r.Z);
        }

        /// <summary>The rotation by <paramref name="angleRad"/> about the unit axis
        /// <paramref name="axis"/> (counter-clockwise seen from the axis' tip in a right-handed
        /// frame, clockwise in a left-handed one: the same numbers either way).</summary>
        public static Quat AngleAxis(double angleRad, Vec3 axis)
        {
            double s = Math.Sin(angleRad / 2);
            return new Quat(Math.Cos(angleRad / 2), axis.X * s, axis.Y * s, axis.Z * s);
        }

        /// <summary>The shortest rotation that turns direction <paramref name="from"/> into
        /// direction <paramref name="to"/> (any length, not zero); opposite directions turn
        /// half a turn about an axis perpendicular to them.</summary>
        public static Quat FromTo(Vec3 from, Vec3 to)
        {
            Vec3 a = from.Normalized(), b = to.Normalized();
            double dot = Vec3.Dot(a, b);
            if (dot < -1 + 1e-12)
            {
                Vec3 axis = Vec3.Cross(a, Math.Abs(a.X) < 0.9 ? new Vec3(1, 0, 0) : new Vec3(0, 1, 0));
                return AngleAxis(Math.PI, axis.Normalized());
            }
            Vec3 c = Vec3.Cross(a, b);
            return new Quat(1 + dot, c.X, c.Y, c.Z).Normalized();
        }

        /// <summary>This quaternion scaled to length 1.</summary>
        public Quat Normalized()
        {
            double n = Math.Sqrt(W * W + X * X + Y * Y + Z * Z);
            return new Quat(W / n, X / n, Y / n, Z / n);
        }

        /// <summary>The angle between two rotations, rad (0 for q and -q).</summary>
        public static double Angle(Quat a, Quat b)
        {
            double dot = Math.Abs(a.W * b.W + a.X * b.X + a.Y * b.Y + a.Z * b.Z);
            return 2 * Math.Acos(Math.Min(1.0, dot));
        }

        public override string ToString()
        {
            return "(" + W.ToString("F4") + ", " + X.ToString("F4") + ", " + Y.ToString("F4") + ", " + Z.ToString("F4") + ")";
        }
    }
}
