using System.Collections.Generic;
using SynthTwin.Core.Clone;
using SynthTwin.Core.Smpl;
using UnityEngine;

namespace SynthTwin.Unity
{
    /// <summary>
    /// A pooled humanoid per twin in range, driven by its replicated animation state (protocol
    /// section 6.1, subscriber rule 5): each frame placed at its map position moved on at its
    /// speed and heading since its record, and its Animator (speed 0) showing the state named
    /// after its clip (<c>meta.clips</c>: stand, walk, ...) at the phase its record holds,
    /// advanced at the clip's own rate (protocol section 14). With a second Animator layer
    /// holding the same states, a clip change fades from the clip shown before over the blend
    /// (layer 1's weight). Which twins are in range, which bodies to take or return, positions,
    /// phases and fades are the core's (<see cref="Crowd"/>, <see cref="RangeSet"/>,
    /// <see cref="ClipTable"/>, <see cref="SimClock"/>, <see cref="ClipFades"/>).
    /// </summary>
    public sealed class CrowdSpawner : MonoBehaviour
    {
        public SynthTwinClient client;

        [Tooltip("A humanoid with an Animator whose states are named after the server's clips")]
        public GameObject humanoid;

        [Tooltip("Twins within this distance of the focus, on both map axes, are shown, m")]
        public float rangeM = 150f;

        [Tooltip("Most bodies shown at once")]
        public int maxTwins = 500;

        [Tooltip("Where the view is (the camera); map x = world x, map y = world z")]
        public Transform focus;

        readonly RangeSet _range = new RangeSet();
        readonly ClipFades _fades = new ClipFades();
        readonly Dictionary<uint, Animator> _bodies = new Dictionary<uint, Animator>();
        readonly Stack<Animator> _pool = new Stack<Animator>();
        readonly List<int> _rows = new List<int>();
        readonly List<uint> _ids = new List<uint>(), _entered = new List<uint>(), _left = new List<uint>();

        void Update()
        {
            Replica replica = client.Replica;
            if (replica == null) return;
            Crowd crowd = replica.Crowd();
            Vector3 at = focus != null ? focus.position : Vector3.zero;
            crowd.RowsNear(at.x, at.z, rangeM, _rows);
            _ids.Clear();
            foreach (int row in _rows) _ids.Add(crowd.Ids[row]);
            _range.Update(_ids, maxTwins, _entered, _left);
            foreach (uint id in _left) Release(id);
            foreach (uint id in _entered) _bodies[id] = Take();
            double now = replica.SimNowS();
            foreach (int row in _rows)
            {
                Animator body;
                if (_bodies.TryGetValue(crowd.Ids[row], out body)) Drive(body, crowd, row, replica.Tables, now);
            }
        }

        Animator Take()
        {
            Animator body = _pool.Count > 0 ? _pool.Pop() : Instantiate(humanoid, transform).GetComponent<Animator>();
            body.gameObject.SetActive(true);
            body.speed = 0; // the phase comes from the server
            return body;
        }

        void Release(uint id)
        {
            Animator body = _bodies[id];
            _bodies.Remove(id);
            _fades.Forget(id);
            body.gameObject.SetActive(false);
            _pool.Push(body);
        }

        void Drive(Animator body, Crowd crowd, int row, Tables tables, double now)
        {
            double x, y;
            crowd.PositionAt(row, now, out x, out y);
            Vec3 p = Handedness.MapToUnity(new Vec3(x, y, 0));
            float yaw = (float)Handedness.HeadingToUnityYawDeg(crowd.HeadingRad[row]);
            body.transform.SetPositionAndRotation(new Vector3((float)p.X, (float)p.Y, (float)p.Z), Quaternion.Euler(0, yaw, 0));
            int clip = crowd.Clip[row];
            if (clip >= tables.Clips.Length) return;
            float phase = (float)crowd.PhaseAt(row, now, tables.Clips);
            double blend = crowd.BlendAt(row, now);
            int from = _fades.From(crowd, row, blend);
            if (body.layerCount < 2 || from >= tables.Clips.Length)
            {
                body.Play(tables.Clips[clip], 0, phase);
                return;
            }
            // layer 0 the clip fading out, layer 1 the new one over it at the blend's weight
            body.Play(tables.Clips[from], 0, phase);
            body.Play(tables.Clips[clip], 1, phase);
            body.SetLayerWeight(1, (float)blend);
        }
    }
}
