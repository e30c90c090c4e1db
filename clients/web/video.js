// The crowd as live video: the server renders it and streams it over WebRTC (aiortc); a data
// channel carries the camera (drag pans, wheel zooms) and the selected twin.

const RETRY_MS = 3000;
const TOWN_VIEW_M_PER_PX = 20; // a 1280-px frame shows about 25 km: the whole town
const ZOOM_STEP = 1.2;

const camera = { x: 0, y: 0, zoom: TOWN_VIEW_M_PER_PX };
let channel = null;
let selectedTwin = null;

function send(message) {
  if (channel && channel.readyState === "open") channel.send(JSON.stringify(message));
}

function waitForIce(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}

async function connect(video, status) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  channel = pc.createDataChannel("control");
  channel.onopen = () => {
    send({ camera });
    if (selectedTwin !== null) send({ select: selectedTwin });
  };
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  const lost = new Promise((resolve) => {
    pc.onconnectionstatechange = () => {
      status.textContent = `video: ${pc.connectionState}`;
      if (["failed", "closed", "disconnected"].includes(pc.connectionState)) resolve();
    };
  });
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIce(pc);
  const answer = await fetch("/api/webrtc/offer", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sdp: pc.localDescription.sdp, type: pc.localDescription.type }),
  });
  if (!answer.ok) throw new Error(`offer refused: ${answer.status}`);
  await pc.setRemoteDescription(await answer.json());
  await lost;
  pc.close();
}

function bindCamera(video) {
  let drag = null;
  video.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY };
    video.setPointerCapture(e.pointerId);
  });
  video.addEventListener("pointerup", () => { drag = null; });
  video.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const scale = camera.zoom * (video.videoWidth || 1280) / video.clientWidth;
    camera.x -= (e.clientX - drag.x) * scale;
    camera.y += (e.clientY - drag.y) * scale; // screen y grows down, map y (north) up
    drag = { x: e.clientX, y: e.clientY };
    send({ camera });
  });
  video.addEventListener("wheel", (e) => {
    e.preventDefault();
    camera.zoom *= e.deltaY > 0 ? ZOOM_STEP : 1 / ZOOM_STEP;
    send({ camera });
  }, { passive: false });
}

/** Start the video view; it reconnects by itself after a failure or a server restart. */
export function startVideo(video, status) {
  bindCamera(video);
  (async () => {
    for (;;) {
      try {
        status.textContent = "video: connecting";
        await connect(video, status);
      } catch (err) {
        status.textContent = `video: ${err.message}, retrying`;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  })();
}

/** Tell the server which twin is selected (it streams that twin's vitals on the channel). */
export function selectTwin(id) {
  selectedTwin = id;
  send({ select: id });
}
