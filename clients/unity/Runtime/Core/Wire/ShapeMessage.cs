using System;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// <c>shape</c> (section 6.8): the bodies of M followed twins, on <c>twin/&lt;id&gt;/shape</c>:
    /// each twin's body model (0 female, 1 male, 2 neutral) and its B SMPL shape coefficients
    /// (<c>betas</c>, section 14: [0] stature and [1] girth as z scores within the model's sex,
    /// [2..] proportions; this server sends B = 10).
    /// </summary>
    public sealed class ShapeMessage : WireMessage
    {
        public const string KindName = "shape";

        /// <summary>Body model names; a model's code is its index.</summary>
        public static readonly string[] Models = { "female", "male", "neutral" };

        /// <summary>(M,) twin ids, ascending.</summary>
        public uint[] Ids;

        /// <summary>(M,) body model codes, index into <see cref="Models"/>.</summary>
        public byte[] Model;

        /// <summary>B: shape coefficients per twin.</summary>
        public int NumBetas;

        /// <summary>(M * B,) SMPL shape coefficients, twin after twin.</summary>
        public float[] Betas;

        /// <summary>Decode and check a shape payload (fields in the order of section 6.8).</summary>
        /// <exception cref="WireException">any envelope or field error of section 10.</exception>
        public static ShapeMessage Decode(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload, KindName));
        }

        /// <summary>The shape message in a decoded envelope.</summary>
        public static ShapeMessage FromEnvelope(Envelope envelope)
        {
            var msg = new ShapeMessage();
            msg.SetEnvelope(envelope);
            msg.Ids = Arrays.Read(envelope.Body, "ids", "body", "<u4").ToUInt32();
            Arrays.CheckAscending(msg.Ids, "body.ids");
            NumArray model = Arrays.Read(envelope.Body, "model", "body", "|u1");
            Arrays.CheckRows(model, "body.model", msg.Ids.Length);
            msg.Model = model.ToBytes();
            foreach (byte code in msg.Model)
            {
                if (code >= Models.Length)
                {
                    throw new WireException(
                        WireException.BadValue, "field 'body.model' holds " + code + ", expected < " + Models.Length);
                }
            }
            NumArray betas = Arrays.Read(envelope.Body, "betas", "body", "<f4", (int?)null);
            Arrays.CheckRows(betas, "body.betas", msg.Ids.Length);
            msg.NumBetas = (int)betas.Shape[1];
            msg.Betas = betas.ToSingle();
            foreach (float beta in msg.Betas)
            {
                if (float.IsNaN(beta) || float.IsInfinity(beta))
                    throw new WireException(WireException.BadValue, "field 'body.betas' must be finite");
            }
            return msg;
        }

        /// <summary>The model name of the twin in row <paramref name="row"/>.</summary>
        public string ModelName(int row)
        {
            return Models[Model[row]];
        }

        /// <summary>The betas of the twin in row <paramref name="row"/>, a copy.</summary>
        public float[] BetasOf(int row)
        {
            var betas = new float[NumBetas];
            Array.Copy(Betas, row * NumBetas, betas, 0, NumBetas);
            return betas;
        }
    }
}
