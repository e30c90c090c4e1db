using System;
using System.Collections.Generic;
using System.Text;

namespace SynthTwin.Core.Net
{
    /// <summary>
    /// The gateway's WebSocket framing (<c>ws://HOST:PORT/ws</c>, protocol section "WebSocket
    /// transport"; the reference is net/websocket.py). A binary message is
    /// <c>[n: u8][topic: n ASCII bytes][payload]</c>, the payload as over ZeroMQ; n = 0 is a
    /// request (client to gateway) or a reply. A text message is one JSON object: the client's
    /// <c>{"op": "subscribe" | "unsubscribe", "prefix": str}</c>, answered
    /// <c>{"op": "subscribed" | "unsubscribed" | "error", ...}</c>; the gateway also sends
    /// <c>{"op": "skipped", "dropped": n}</c> when it skipped a slow client ahead.
    /// </summary>
    public static class WsFrame
    {
        /// <summary>The subprotocol the gateway speaks.</summary>
        public const string Subprotocol = "synthtwin-v1";

        /// <summary>Longest topic a frame carries (its length is one byte).</summary>
        public const int MaxTopicBytes = 255;

        /// <summary>The binary message of <paramref name="payload"/> on <paramref name="topic"/>
        /// ("" for a request).</summary>
        public static byte[] Frame(string topic, byte[] payload)
        {
            byte[] name = Encoding.ASCII.GetBytes(topic);
            if (name.Length > MaxTopicBytes) throw new ArgumentException("a topic has at most 255 bytes");
            var message = new byte[1 + name.Length + payload.Length];
            message[0] = (byte)name.Length;
            Buffer.BlockCopy(name, 0, message, 1, name.Length);
            Buffer.BlockCopy(payload, 0, message, 1 + name.Length, payload.Length);
            return message;
        }

        /// <summary>The topic ("" for a reply) and payload of the first <paramref name="length"/>
        /// bytes of a binary message; false when the topic overruns it.</summary>
        public static bool TrySplit(byte[] message, int length, out string topic, out byte[] payload)
        {
            topic = null;
            payload = null;
            if (length < 1 || length < 1 + message[0]) return false;
            int n = message[0];
            topic = Encoding.ASCII.GetString(message, 1, n);
            payload = new byte[length - 1 - n];
            Buffer.BlockCopy(message, 1 + n, payload, 0, payload.Length);
            return true;
        }

        /// <summary>The text message that subscribes to (or unsubscribes from) a topic prefix.</summary>
        public static string Control(string op, string prefix)
        {
            var text = new StringBuilder("{\"op\": \"").Append(op).Append("\", \"prefix\": \"");
            foreach (char c in prefix)
            {
                if (c == '"' || c == '\\') text.Append('\\').Append(c);
                else if (c < ' ' || c > '~') text.Append("\\u").Append(((int)c).ToString("x4"));
                else text.Append(c);
            }
            return text.Append("\"}").ToString();
        }

        /// <summary>The members of a flat JSON object whose values are strings or numbers (the
        /// gateway's text messages), as text; null for anything else.</summary>
        public static Dictionary<string, string> ParseControl(string json)
        {
            var members = new Dictionary<string, string>();
            int at = Skip(json, 0);
            if (at >= json.Length || json[at] != '{') return null;
            at = Skip(json, at + 1);
            while (at < json.Length && json[at] != '}')
            {
                string key = ReadString(json, ref at);
                at = Skip(json, at);
                if (key == null || at >= json.Length || json[at] != ':') return null;
                at = Skip(json, at + 1);
                string value = at < json.Length && json[at] == '"' ? ReadString(json, ref at) : ReadNumber(json, ref at);
                if (value == null) return null;
                members[key] = value;
                at = Skip(json, at);
                if (at < json.Length && json[at] == ',') at = Skip(json, at + 1);
            }
            return at < json.Length ? members : null;
        }

        static int Skip(string json, int at)
        {
            while (at < json.Length && char.IsWhiteSpace(json[at])) at++;
            return at;
        }

        static string ReadString(string json, ref int at)
        {
            if (at >= json.Length || json[at] != '"') return null;
            var text = new StringBuilder();
            for (at++; at < json.Length; at++)
            {
                char c = json[at];
                if (c == '"')
                {
                    at++;
                    return text.ToString();
                }
                if (c != '\\') text.Append(c);
                else if (at + 1 < json.Length && json[at + 1] == 'u' && at + 5 < json.Length)
                {
                    text.Append((char)Convert.ToInt32(json.Substring(at + 2, 4), 16));
                    at += 5;
                }
                else if (at + 1 < json.Length)
                {
                    char e = json[++at];
                    text.Append(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e);
                }
            }
            return null;
        }

        static string ReadNumber(string json, ref int at)
        {
            int start = at;
            while (at < json.Length && "+-.0123456789eE".IndexOf(json[at]) >= 0) at++;
            return at > start ? json.Substring(start, at - start) : null;
        }
    }
}
