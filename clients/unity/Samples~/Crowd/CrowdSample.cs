using SynthTwin.Unity;
using UnityEngine;

/// <summary>
/// The crowd sample: put this on an empty GameObject of an empty scene, give it a humanoid
/// prefab (an Animator with states named stand, walk, ... as the server's meta.clips) and press
/// Play with <c>twin serve</c> running: it connects to ws://127.0.0.1:8000/ws, shows a pooled
/// body per twin within 150 m of the camera, and drives one more body with the full pose of the
/// first twin of the roster.
/// </summary>
public sealed class CrowdSample : MonoBehaviour
{
    public GameObject humanoid;
    public string url = "ws://127.0.0.1:8000/ws";

    SynthTwinClient _client;
    bool _following;

    void Awake()
    {
        gameObject.SetActive(false); // configure before OnEnable connects
        _client = gameObject.AddComponent<SynthTwinClient>();
        _client.url = url;
        var spawner = gameObject.AddComponent<CrowdSpawner>();
        spawner.client = _client;
        spawner.humanoid = humanoid;
        spawner.focus = Camera.main != null ? Camera.main.transform : null;
        gameObject.SetActive(true);
    }

    void Update()
    {
        if (_following || _client.Replica == null || _client.Replica.Roster.Length == 0) return;
        var body = Instantiate(humanoid);
        var driver = body.AddComponent<PoseDriver>();
        driver.client = _client;
        driver.twinId = _client.Replica.Roster[0];
        driver.animator = body.GetComponent<Animator>(); // its LateUpdate overrides the Animator
        _following = true;
    }
}
