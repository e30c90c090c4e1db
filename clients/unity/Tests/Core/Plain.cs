using System;
using System.Collections;
using System.Collections.Generic;
using SynthTwin.Core.Clone;
using SynthTwin.Core.MsgPack;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Tests
{
    /// <summary>
    /// Decoded messages as plain values (maps of the reference decoder's field names, lists,
    /// long, double, string, bool, null, bin) to compare with a golden file's <c>values</c>.
    /// </summary>
    static class Plain
    {
        public static object Of(object value)
        {
            if (value is CrowdMessage) return Crowd((CrowdMessage)value);
            if (value is CrowdState) return State((CrowdState)value);
            if (value is Crowd) return Merged((Crowd)value);
            if (value is PoseMessage) return Pose((PoseMessage)value);
            if (value is ShapeMessage) return Shape((ShapeMessage)value);
            if (value is VitalsMessage) return Vitals((VitalsMessage)value);
            if (value is EventMessage) return Event((EventMessage)value);
            if (value is MetaMessage) return Meta((MetaMessage)value);
            if (value is Request) return RequestOf((Request)value);
            if (value is Reply) return ReplyOf((Reply)value);
            if (value is NumArray) return Nested((NumArray)value);
            if (value is MsgMap)
            {
                var map = new Dictionary<string, object>();
                foreach (KeyValuePair<string, object> entry in (MsgMap)value) map[entry.Key] = Of(entry.Value);
                return map;
            }
            if (value is List<object>) return ((List<object>)value).ConvertAll(Of);
            return value;
        }

        static Dictionary<string, object> Head(WireMessage msg)
        {
            return new Dictionary<string, object> { { "tick", msg.Tick }, { "seq", msg.Seq }, { "t_s", msg.TimeS } };
        }

        /// <summary>A flat array as a list of long (integer element types) or double.</summary>
        public static List<object> List(IEnumerable values)
        {
            var list = new List<object>();
            foreach (object v in values)
            {
                if (v is float || v is double) list.Add(Convert.ToDouble(v));
                else if (v is string) list.Add(v);
                else list.Add(Convert.ToInt64(v));
            }
            return list;
        }

        /// <summary>A flat list as rows of <paramref name="width"/>.</summary>
        public static List<object> Rows(IEnumerable values, params int[] widths)
        {
            List<object> items = List(values);
            for (int w = widths.Length - 1; w >= 0; w--)
            {
                var rows = new List<object>();
                for (int i = 0; i < items.Count; i += widths[w]) rows.Add(items.GetRange(i, widths[w]));
                items = rows;
            }
            return items;
        }

        static object Nested(NumArray array)
        {
            var flat = new List<object>();
            for (int i = 0; i < array.Length; i++) flat.Add(array.Element(i));
            object items = flat;
            for (int d = array.Shape.Length - 1; d >= 1; d--)
            {
                var rows = new List<object>();
                var list = (List<object>)items;
                int width = (int)array.Shape[d];
                for (int i = 0; i < list.Count; i += width) rows.Add(list.GetRange(i, width));
                items = rows;
            }
            return items;
        }

        static object Crowd(CrowdMessage m)
        {
            var d = Head(m);
            d["cell"] = List(new[] { m.CellX, m.CellY });
            d["base"] = m.Base;
            d["changed"] = List(m.Changed);
            d["ids"] = List(m.Ids);
            d["gone"] = List(m.Gone);
            d["pos"] = Rows(m.Pos, 2);
            d["heading"] = List(m.Heading);
            d["speed"] = List(m.Speed);
            d["activity"] = List(m.Activity);
            d["clip"] = List(m.Clip);
            d["phase"] = List(m.Phase);
            d["blend"] = List(m.Blend);
            return d;
        }

        static Dictionary<string, object> Records(uint[] ids, double[] posM, float[] heading, float[] speed,
            byte[] activity, byte[] clip, float[] phase, float[] blend, double[] sampleT)
        {
            return new Dictionary<string, object>
            {
                { "ids", List(ids) }, { "pos_m", Rows(posM, 2) }, { "heading_rad", List(heading) },
                { "speed_mps", List(speed) }, { "activity", List(activity) }, { "clip", List(clip) },
                { "phase", List(phase) }, { "blend", List(blend) }, { "sample_t_s", List(sampleT) },
            };
        }

        static object State(CrowdState s)
        {
            var d = Records(s.Ids, s.PosM, s.HeadingRad, s.SpeedMps, s.Activity, s.Clip, s.Phase, s.Blend, s.SampleTimeS);
            d["cell"] = List(new[] { s.CellX, s.CellY });
            d["tick"] = s.Tick;
            d["seq"] = s.Seq;
            d["t_s"] = s.TimeS;
            return d;
        }

        static object Merged(Crowd c)
        {
            return Records(c.Ids, c.PosM, c.HeadingRad, c.SpeedMps, c.Activity, c.Clip, c.Phase, c.Blend, c.SampleTimeS);
        }

        static object Pose(PoseMessage m)
        {
            var d = Head(m);
            d["ids"] = List(m.Ids);
            d["quat"] = Rows(m.Quat, m.Joints, 4);
            d["root_m"] = Rows(m.RootM, 3);
            return d;
        }

        static object Shape(ShapeMessage m)
        {
            var d = Head(m);
            d["ids"] = List(m.Ids);
            d["model"] = List(m.Model);
            d["betas"] = Rows(m.Betas, m.NumBetas);
            return d;
        }

        static object Vitals(VitalsMessage m)
        {
            var d = Head(m);
            d["ids"] = List(m.Ids);
            for (int f = 0; f < VitalsMessage.Table.Length; f++) d[VitalsMessage.Table[f].Name] = List(m.Values[f]);
            d["activity"] = List(m.Activity);
            return d;
        }

        static object Event(EventMessage m)
        {
            var d = Head(m);
            d["type"] = m.Type;
            d["twin_id"] = m.TwinId;
            d["data"] = Of(m.Data);
            return d;
        }

        static object Meta(MetaMessage m)
        {
            var d = Head(m);
            d["epoch"] = m.Epoch;
            d["activities"] = List(m.Activities);
            d["clips"] = List(m.Clips);
            d["added"] = List(m.Added);
            d["removed"] = List(m.Removed);
            d["protocol"] = m.Protocol;
            return d;
        }

        static object RequestOf(Request m)
        {
            var d = Head(m);
            d["id"] = m.Id;
            d["op"] = m.Op;
            d["args"] = Of(m.Args);
            d["token"] = m.Token;
            return d;
        }

        static object ReplyOf(Reply m)
        {
            var d = Head(m);
            d["id"] = m.Id;
            d["ok"] = m.Ok;
            d["result"] = m.Result == null ? null : Of(m.Result);
            d["error"] = m.Error == null ? null : new Dictionary<string, object>
            {
                { "code", m.Error.Code }, { "message", m.Error.Message }, { "retry_after_ms", m.Error.RetryAfterMs },
            };
            return d;
        }
    }
}
