using System.Collections;
using System.Collections.Generic;
using SynthTwin.Core.MsgPack;

namespace SynthTwin.Core.Wire
{
    /// <summary>
    /// <c>request</c> (section 6.6): an operation for the server (section 7), matched to its
    /// reply by <see cref="Id"/>. In the envelope, tick, seq and t are the last ones the client
    /// applied (0 if none); the server does not depend on them.
    /// </summary>
    public sealed class Request : WireMessage
    {
        public const string KindName = "request";

        /// <summary>Chosen by the client, &gt;= 0; echoed by the reply.</summary>
        public long Id;

        /// <summary>The operation: snapshot, roster, twin, spawn, despawn, time_scale, pause,
        /// resume, stats, town.</summary>
        public string Op;

        /// <summary>The operation's arguments (none: empty); numeric arrays as <see cref="NumArray"/>.</summary>
        public MsgMap Args = new MsgMap();

        /// <summary>The caller's access token, or null (section 2.1; never logged).</summary>
        public string Token;

        /// <summary>The payload of this request (t as float64, arrays as array maps).</summary>
        public byte[] Encode()
        {
            var body = new Dictionary<string, object>
            {
                { "id", Id }, { "op", Op }, { "args", ToWire(Args) },
            };
            if (Token != null) body["token"] = Token;
            var envelope = new Dictionary<string, object>
            {
                { "v", (long)Envelope.ProtocolVersion }, { "kind", KindName }, { "tick", Tick },
                { "seq", Seq }, { "t", TimeS }, { "body", body },
            };
            return MsgPackWriter.Write(envelope);
        }

        /// <summary><paramref name="value"/> with every <see cref="NumArray"/> as its wire map.</summary>
        static object ToWire(object value)
        {
            var array = value as NumArray;
            if (array != null) return array.ToWire();
            var map = value as IDictionary;
            if (map != null)
            {
                var copy = new Dictionary<string, object>();
                foreach (DictionaryEntry entry in map) copy[(string)entry.Key] = ToWire(entry.Value);
                return copy;
            }
            var list = value as IList;
            if (list != null && !(value is byte[]))
            {
                var copy = new List<object>();
                foreach (object item in list) copy.Add(ToWire(item));
                return copy;
            }
            return value;
        }

        /// <summary>Decode and check a request payload (fields in table order).</summary>
        /// <exception cref="WireException">any envelope or field error of section 10.</exception>
        public static Request Decode(byte[] payload)
        {
            return FromEnvelope(Envelope.Unpack(payload, KindName));
        }

        /// <summary>The request in a decoded envelope.</summary>
        public static Request FromEnvelope(Envelope envelope)
        {
            var msg = new Request();
            msg.SetEnvelope(envelope);
            msg.Id = Fields.ReadInt(envelope.Body, "id", "body", 0);
            msg.Op = Fields.ReadStr(envelope.Body, "op", "body");
            if (envelope.Body.ContainsKey("args")) // absent: no arguments (section 6.6)
            {
                msg.Args = (MsgMap)Arrays.FromWire(Fields.ReadMap(envelope.Body, "args", "body"), "body.args");
            }
            if (envelope.Body.ContainsKey("token")) msg.Token = Fields.ReadStr(envelope.Body, "token", "body");
            return msg;
        }
    }
}
