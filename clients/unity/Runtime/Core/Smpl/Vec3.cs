using System;

namespace SynthTwin.Core.Smpl
{
    /// <summary>A 3-vector (x, y, z) of doubles: positions (m) and directions, in whichever
    /// frame the method that made it names.</summary>
    public struct Vec3
    {
        public double X, Y, Z;

        public Vec3(double x, double y, double z)
        {
            X = x;
            Y = y;
            Z = z;
        }

        public static Vec3 operator -(Vec3 a, Vec3 b)
        {
            return new Vec3(a.X - b.X, a.Y - b.Y, a.Z - b.Z);
        }

        public static double Dot(Vec3 a, Vec3 b)
        {
            return a.X * b.X + a.Y * b.Y + a.Z * b.Z;
        }

        public static Vec3 Cross(Vec3 a, Vec3 b)
        {
            return new Vec3(a.Y * b.Z - a.Z * b.Y, a.Z * b.X - a.X * b.Z, a.X * b.Y - a.Y * b.X);
        }

        public double Length
        {
            get { return Math.Sqrt(Dot(this, this)); }
        }

        /// <summary>This vector scaled to length 1 (the zero vector stays zero).</summary>
        public Vec3 Normalized()
        {
            double length = Length;
            return length > 0 ? new Vec3(X / length, Y / length, Z / length) : this;
        }

        public override string ToString()
        {
            return "(" + X.ToString("F4") + ", " + Y.ToString("F4") + ", " + Z.ToString("F4") + ")";
        }
    }
}
