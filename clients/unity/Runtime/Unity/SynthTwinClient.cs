using System;
using SynthTwin.Core.Clone;
using SynthTwin.Core.Net;
using UnityEngine;

namespace SynthTwin.Unity
{
    /// <summary>
    /// The connection to a SynthTwin gateway for a scene: a <see cref="CloneClient"/> over
    /// <c>ws://HOST:PORT/ws</c>, updated once a frame on the main thread. Other components read
    /// <see cref="Replica"/> (the crowd, poses, vitals, tables) and send requests through
    /// <see cref="Client"/>. All logic is in SynthTwin.Core; this only calls it.
    /// </summary>
    public sealed class SynthTwinClient : MonoBehaviour
    {
        [Tooltip("The gateway's WebSocket, e.g. ws://127.0.0.1:8000/ws")]
        public string url = "ws://127.0.0.1:8000/ws";

        [Tooltip("An access token (twin token create), or empty with open access")]
        public string token = "";

        [Tooltip("Topic prefixes to follow: cell/ for every cell, or cell/<ix>/<iy>/")]
        public string[] prefixes = { "cell/" };

        /// <summary>The client (null while disabled).</summary>
        public CloneClient Client { get; private set; }

        /// <summary>The latest replica, or null before the first join.</summary>
        public Replica Replica
        {
            get { return Client != null ? Client.Replica : null; }
        }

        void OnEnable()
        {
            Client = new CloneClient(new Uri(url), prefixes, string.IsNullOrEmpty(token) ? null : token);
            Client.Start();
        }

        void Update()
        {
            Client.Update();
        }

        void OnDisable()
        {
            Client.Dispose();
            Client = null;
        }
    }
}
