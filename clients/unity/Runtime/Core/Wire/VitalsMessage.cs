namespace SynthTwin.Core.Wire
{
    /// <summary>One fixed-point vital (section 6.3): <c>value = Offset + code * Quantum</c>,
    /// clamped by writers to Lo..Hi.</summary>
    public sealed class VitalField
    {
        public readonly string Name;
        public readonly string Dtype;
        public readonly double Quantum;
        public readonly double Offset;
        public readonly double Lo;
        public readonly double Hi;

        public VitalField(string name, string dtype, double quantum, double offset, double lo, double hi)
        {
            Name = name;
            Dtype = dtype;
            Quantum = quantum;
            Offset = offset;
            Lo = lo;
            Hi = hi;
        }
    }

    /// <summary>
    /// <c>vitals</c> (section 6.3): vital signs of one twin (<c>twin/&lt;id&gt;/vitals</c>) or of a
    /// cell's twins, each field a fixed-point code decoded to float32 in its unit.
    /// </summary>
    public sealed class VitalsMessage : WireMessage
    {
        public const string KindName = "vitals";

        /// <summary>The fields after <c>ids</c>, in table (and check) order; <c>activity</c> follows.</summary>
        public static readonly VitalField[] Table =
        {
            new VitalField("hr_bpm", "|u1", 1.0, 0.0, 30.0, 220.0),
            new VitalField("sbp_mmhg", "|u1", 1.0, 0.0, 60.0, 250.0),
            new VitalField("dbp_mmhg", "|u1", 1.0, 0.0, 30.0, 150.0),
            new VitalField("rr_brpm", "|u1", 0.25, 0.0, 4.0, 60.0),
            new VitalField("spo2_pct", "|u1", 0.125, 70.0, 70.0, 100.0),
            new VitalField("core_temp_c", "|u1", 0.05, 34.0, 34.0, 42.0),
            new VitalField("glucose_mgdl", "<u2", 0.1, 0.0, 30.0, 600.0),
            new VitalField("steps", "<u4", 1.0, 0.0, 0.0, 100000.0),
            new VitalField("energy_kcal", "<u2", 0.2, 0.0, 0.0, 10000.0),
            new VitalField("mets", "|u1", 0.1, 0.0, 0.0, 20.0),
        };

        /// <summary>(n,) twin ids, ascending.</summary>
        public uint[] Ids;

        /// <summary>Per <see cref="Table"/> field, (n,) values in its unit (heart rate 1/min,
        /// pressures mmHg, respiration 1/min, SpO2 %, core temperature degC, glucose mg/dL, steps
        /// today, energy today kcal, intensity MET).</summary>
        public float[][] Values;

        /// <summary>(n,) activity codes, &lt; 16.</summary>
        public byte[] Activity;

        /// <summary>The (n,) values of the field named <paramref name="name"/>, e.g. "hr_bpm".</summary>
        public float[] Field(string name)
        {
            for (int f = 0; f < Table.Length; f++)
            {
                if (Table[f].Name == name) return Values[f];
            }
            throw new System.ArgumentException("no vitals field '" + name + "'");
        }

        /// <summary>Decode and check a vitals payload (fields in table order).</summary>
        /// <exception cref="WireException">any envelope or field error of section 10.</exception>
        public static VitalsMessage Decode(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload, KindName));
        }

        /// <summary>The vitals message in a decoded envelope.</summary>
        public static VitalsMessage FromEnvelope(Envelope envelope)
        {
            var msg = new VitalsMessage();
            msg.SetEnvelope(envelope);
            msg.Ids = Arrays.Read(envelope.Body, "ids", "body", "<u4").ToUInt32();
            Arrays.CheckAscending(msg.Ids, "body.ids");
            int n = msg.Ids.Length;
            msg.Values = new float[Table.Length][];
            for (int f = 0; f < Table.Length; f++)
            {
                VitalField spec = Table[f];
                NumArray codes = Arrays.Read(envelope.Body, spec.Name, "body", spec.Dtype);
                Arrays.CheckRows(codes, "body." + spec.Name, n);
                msg.Values[f] = new float[n];
                for (int i = 0; i < n; i++)
                {
                    msg.Values[f][i] = (float)(spec.Offset + System.Convert.ToDouble(codes.Element(i)) * spec.Quantum);
                }
            }
            NumArray activity = Arrays.Read(envelope.Body, "activity", "body", "|u1");
            Arrays.CheckRows(activity, "body.activity", n);
            msg.Activity = activity.ToBytes();
            foreach (byte code in msg.Activity)
            {
                if (code >= CrowdMessage.ActivityLimit)
                {
                    throw new WireException(
                        WireException.BadValue,
                        "field 'body.activity' holds " + code + ", expected < " + CrowdMessage.ActivityLimit);
                }
            }
            return msg;
        }
    }
}
