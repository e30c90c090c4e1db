using System.Collections.Generic;
using SynthTwin.Core.MsgPack;
using SynthTwin.Core.Net;
using SynthTwin.Core.Wire;

namespace SynthTwin.Core.Clone
{
    /// <summary>
    /// What a client knows of the server's published state: the client side of the Clone
    /// pattern (ZeroMQ guide, chapter 5; protocol sections 2, 6.1 and 8) as a state machine
    /// without sockets, fed in this order:
    /// 1. subscribe, and keep what arrives while the subscriptions take effect;
    /// 2. <see cref="Join"/> the replies to <c>roster</c> (seq R) and <c>snapshot</c> (seq S);
    /// 3. <see cref="Receive"/> the kept and every later message: <c>meta</c> at or below R and
    ///    any other message at or below S are stale; crowd messages also pass the per-cell
    ///    stale rule of <see cref="CrowdDecoder"/>;
    /// 4. a crowd delta whose keyframe was lost marks its cell: <see cref="Recovery"/> lists the
    ///    cells to ask a snapshot of, and <see cref="Recover"/> applies its reply.
    /// </summary>
    public sealed class Replica
    {
        /// <summary>Events kept (<see cref="Events"/>).</summary>
        public const int RecentEvents = 1000;

        /// <summary>Activity and clip names and the epoch.</summary>
        public Tables Tables = new Tables();

        /// <summary>(n,) every twin of the world, ascending (roster, then meta).</summary>
        public uint[] Roster = new uint[0];

        /// <summary>Messages that failed to decode, and the last one's error.</summary>
        public int Rejected;

        /// <summary>The error message of the last rejected message, or null.</summary>
        public string LastRejection;

        /// <summary>Envelope (tick, seq, t) of the last PUB message applied.</summary>
        public long AppliedTick, AppliedSeq;

        /// <summary>Sim time of the last PUB message applied, s.</summary>
        public double AppliedTimeS;

        /// <summary>The server's sim time between messages (fed by every PUB message applied).</summary>
        public readonly SimClock Clock = new SimClock();

        /// <summary>The wall clock <see cref="Clock"/> is fed with.</summary>
        public static readonly System.Diagnostics.Stopwatch Wall = System.Diagnostics.Stopwatch.StartNew();

        /// <summary>The server's sim time now, extrapolated from the last message applied, s.</summary>
        public double SimNowS()
        {
            return Clock.Now(Wall.Elapsed.TotalSeconds);
        }

        readonly CrowdDecoder _decoder = new CrowdDecoder();
        readonly Dictionary<long, CrowdState> _cells = new Dictionary<long, CrowdState>();
        readonly Dictionary<string, VitalsMessage> _vitals = new Dictionary<string, VitalsMessage>();
        readonly Dictionary<uint, PoseMessage> _poses = new Dictionary<uint, PoseMessage>();
        readonly Dictionary<uint, ShapeMessage> _shapes = new Dictionary<uint, ShapeMessage>();
        readonly Queue<EventMessage> _events = new Queue<EventMessage>();
        readonly SortedSet<long> _lost = new SortedSet<long>();
        Crowd _crowd;
        long _rosterSeq, _snapshotSeq;

        static long CellKey(int ix, int iy)
        {
            return ((long)ix << 32) | (uint)iy;
        }

        /// <summary>Apply the replies to <c>roster</c> and <c>snapshot</c>.</summary>
        /// <exception cref="RequestException">either is an error reply.</exception>
        public void Join(Reply roster, Reply snapshot)
        {
            MsgMap tables = RequestException.ResultOf(roster);
            MsgMap shot = RequestException.ResultOf(snapshot);
            Tables = new Tables
            {
                Epoch = Fields.ReadStr(tables, "epoch", "result"),
                Activities = Fields.ReadNames(tables, "activities", "result"),
                Clips = Fields.ReadNames(tables, "clips", "result"),
            };
            var ids = tables["ids"] as NumArray;
            Roster = ids != null ? ids.ToUInt32() : new uint[0];
            _rosterSeq = roster.Seq;
            _snapshotSeq = snapshot.Seq;
            ApplySnapshot(shot);
        }

        /// <summary>The cells whose keyframe was lost since the last call, as [ix, iy] pairs for
        /// a <c>snapshot</c> request's <c>cells</c>, or null when none was.</summary>
        public List<object> Recovery()
        {
            if (_lost.Count == 0) return null;
            var cells = new List<object>();
            foreach (long key in _lost) cells.Add(new List<object> { key >> 32, (long)(int)(uint)key });
            _lost.Clear();
            return cells;
        }

        /// <summary>Apply the reply to the snapshot of <see cref="Recovery"/>'s cells.</summary>
        /// <exception cref="RequestException">an error reply.</exception>
        public void Recover(Reply snapshot)
        {
            ApplySnapshot(RequestException.ResultOf(snapshot));
        }

        void ApplySnapshot(MsgMap result)
        {
            var payloads = result.ContainsKey("crowd") ? result["crowd"] as List<object> : null;
            if (payloads == null)
            {
                Reject("snapshot", "field 'result.crowd' must be an array of bin");
                return;
            }
            foreach (object payload in payloads)
            {
                var bin = payload as MsgBin;
                try
                {
                    if (bin == null) throw new WireException(WireException.WrongType, "a snapshot payload must be bin");
                    ApplyCrowd(CrowdMessage.Decode(bin.ToArray()));
                }
                catch (WireException error)
                {
                    Reject("snapshot", error.Code + ": " + error.Message);
                }
            }
        }

        /// <summary>Apply one PUB message; returns whether it changed anything (false when stale
        /// or rejected: a bad message is counted in <see cref="Rejected"/>, never thrown).</summary>
        public bool Receive(string topic, byte[] payload)
        {
            try
            {
                return Apply(topic, payload);
            }
            catch (WireException error)
            {
                Reject(topic, error.Code + ": " + error.Message);
                return false;
            }
        }

        void Reject(string topic, string why)
        {
            Rejected++;
            LastRejection = topic + ": " + why;
        }

        bool Apply(string topic, byte[] payload)
        {
            Envelope envelope = Envelope.Unpack(payload);
            long stale = envelope.Kind == MetaMessage.KindName ? _rosterSeq : _snapshotSeq;
            if (envelope.Seq <= stale) return false;
            bool applied;
            switch (envelope.Kind)
            {
                case CrowdMessage.KindName:
                    applied = ApplyCrowd(CrowdMessage.FromEnvelope(envelope));
                    break;
                case VitalsMessage.KindName:
                    var vitals = VitalsMessage.FromEnvelope(envelope);
                    _vitals[topic] = vitals;
                    applied = true;
                    break;
                case PoseMessage.KindName:
                    var pose = PoseMessage.FromEnvelope(envelope);
                    foreach (uint id in pose.Ids) _poses[id] = pose;
                    applied = true;
                    break;
                case ShapeMessage.KindName:
                    var shape = ShapeMessage.FromEnvelope(envelope);
                    foreach (uint id in shape.Ids) _shapes[id] = shape;
                    applied = true;
                    break;
                case EventMessage.KindName:
                    _events.Enqueue(EventMessage.FromEnvelope(envelope));
                    while (_events.Count > RecentEvents) _events.Dequeue();
                    applied = true;
                    break;
                case MetaMessage.KindName:
                    ApplyMeta(MetaMessage.FromEnvelope(envelope));
                    applied = true;
                    break;
                default:
                    Reject(envelope.Kind, "kind '" + envelope.Kind + "' is not published");
                    return false;
            }
            if (applied)
            {
                Clock.Observe(envelope.TimeS, Wall.Elapsed.TotalSeconds);
                AppliedTick = envelope.Tick;
                AppliedSeq = envelope.Seq;
                AppliedTimeS = envelope.TimeS;
            }
            return applied;
        }

        bool ApplyCrowd(CrowdMessage msg)
        {
            CrowdState state;
            try
            {
                state = _decoder.ApplyMessage(msg);
            }
            catch (WireException error)
            {
                if (error.Code != WireException.UnknownBase) throw;
                _lost.Add(CellKey(msg.CellX, msg.CellY));
                return false;
            }
            long key = CellKey(state.CellX, state.CellY);
            CrowdState held;
            if (_cells.TryGetValue(key, out held) && state.Seq <= held.Seq) return false;
            _cells[key] = state;
            _crowd = null;
            return true;
        }

        void ApplyMeta(MetaMessage msg)
        {
            Tables = new Tables { Epoch = msg.Epoch, Activities = msg.Activities, Clips = msg.Clips };
            var roster = new SortedSet<uint>(Roster);
            foreach (uint id in msg.Removed)
            {
                roster.Remove(id);
                _shapes.Remove(id);
            }
            foreach (uint id in msg.Added) roster.Add(id);
            Roster = new uint[roster.Count];
            roster.CopyTo(Roster);
        }

        /// <summary>Every twin of the followed cells, once (<see cref="Crowd.Merge"/>); the
        /// same object until a cell changes.</summary>
        public Crowd Crowd()
        {
            if (_crowd == null) _crowd = Clone.Crowd.Merge(_cells.Values);
            return _crowd;
        }

        /// <summary>The latest vitals message that holds <paramref name="twinId"/> (its own
        /// topic's or its cell's, the greatest seq), and its row; null when none does.</summary>
        public VitalsMessage Vitals(uint twinId, out int row)
        {
            VitalsMessage best = null;
            row = -1;
            foreach (VitalsMessage msg in _vitals.Values)
            {
                int at = System.Array.BinarySearch(msg.Ids, twinId);
                if (at >= 0 && (best == null || msg.Seq > best.Seq))
                {
                    best = msg;
                    row = at;
                }
            }
            return best;
        }

        /// <summary>The latest pose of <paramref name="twinId"/> (a followed twin), and its row;
        /// null when none arrived.</summary>
        public PoseMessage Pose(uint twinId, out int row)
        {
            PoseMessage pose;
            row = -1;
            if (!_poses.TryGetValue(twinId, out pose)) return null;
            row = System.Array.BinarySearch(pose.Ids, twinId);
            return pose;
        }

        /// <summary>The body (model and betas) of <paramref name="twinId"/> (a followed twin) from
        /// its <c>twin/&lt;id&gt;/shape</c>, and its row; null before the first arrives.</summary>
        public ShapeMessage Shape(uint twinId, out int row)
        {
            ShapeMessage shape;
            row = -1;
            if (!_shapes.TryGetValue(twinId, out shape)) return null;
            row = System.Array.BinarySearch(shape.Ids, twinId);
            return shape;
        }

        /// <summary>The most recent events, oldest first (at most <see cref="RecentEvents"/>).</summary>
        public EventMessage[] Events()
        {
            return _events.ToArray();
        }
    }
}
