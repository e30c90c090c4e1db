// The crowd as live video: the server renders it and streams it over WebRTC (aiortc, net/webrtc.py).
// A data channel carries the camera (drag pans, shift- or right-drag orbits, wheel zooms), clicks
// to pick a twin (the server finds the twin under the pointer), and the selected twin's vitals.

const RETRY_MS = 3000;
const ZOOM_STEP = 1.2;
const ORBIT_DEG_PER_PX = 0.3;
const CLICK_SLOP_PX = 4; // a press that moves less than this is a click, not a drag

let channel = null;
let selectedTwin = null;
let followedTwin = null;
let handlers = {};

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

function onMessage(event) {
  const message = JSON.parse(event.data);
  if ("selected" in message) { // a click on empty ground keeps the selection (the server's)
    if (message.selected !== followedTwin) followedTwin = null;
    selectedTwin = message.selected;
    handlers.selected?.(message.selected);
  }
  if (message.vitals && message.vitals.id === selectedTwin) handlers.vitals?.(message.vitals);
  if (message.activity && message.id === selectedTwin) handlers.activity?.(message.activity);
  if (message.error) console.warn(`video: ${message.error}`);
}

async function connect(video, status) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  channel = pc.createDataChannel("control");
  channel.onopen = () => { // a new connection: tell the server what this page shows
    if (followedTwin !== null) send({ follow: followedTwin });
    else if (selectedTwin !== null) send({ select: selectedTwin });
  };
  channel.onmessage = onMessage;
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
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({})); // 401: sign in; 503: the view is full
    const why = typeof body.detail === "string" ? body.detail : `offer refused: ${answer.status}`;
    throw new Error(why);
  }
  await pc.setRemoteDescription(await answer.json());
  await lost;
  pc.close();
}

/** The picture's rectangle inside the element (the video keeps its aspect ratio). */
function pictureRect(video) {
  const box = video.getBoundingClientRect();
  const aspect = (video.videoWidth || 16) / (video.videoHeight || 9);
  const width = Math.min(box.width, box.height * aspect);
  const height = width / aspect;
  return {
    left: box.left + (box.width - width) / 2,
    top: box.top + (box.height - height) / 2,
    width,
    height,
  };
}

function bindCamera(video) {
  let press = null;
  video.addEventListener("contextmenu", (e) => e.preventDefault());
  video.addEventListener("pointerdown", (e) => {
    press = { x: e.clientX, y: e.clientY, lastX: e.clientX, lastY: e.clientY, moved: false,
              orbit: e.shiftKey || e.button === 2 };
    video.setPointerCapture(e.pointerId);
  });
  video.addEventListener("pointermove", (e) => {
    if (!press) return;
    const dx = e.clientX - press.lastX;
    const dy = e.clientY - press.lastY;
    press.lastX = e.clientX;
    press.lastY = e.clientY;
    if (Math.hypot(e.clientX - press.x, e.clientY - press.y) >= CLICK_SLOP_PX) press.moved = true;
    if (!press.moved) return;
    if (press.orbit) {
      send({ orbit: { dyaw_deg: -dx * ORBIT_DEG_PER_PX, dpitch_deg: dy * ORBIT_DEG_PER_PX } });
    } else {
      const scale = (video.videoHeight || 720) / pictureRect(video).height; // video px per css px
      followedTwin = null; // panning stops following, on the server too
      send({ pan: { dx_px: dx * scale, dy_px: dy * scale } });
    }
  });
  video.addEventListener("pointercancel", () => { press = null; });
  video.addEventListener("pointerup", (e) => {
    if (press && !press.moved && !press.orbit) {
      const r = pictureRect(video);
      const u = (e.clientX - r.left) / r.width;
      const v = (e.clientY - r.top) / r.height;
      if (u >= 0 && u <= 1 && v >= 0 && v <= 1) send({ pick: { u, v } });
    }
    press = null;
  });
  video.addEventListener("wheel", (e) => {
    e.preventDefault();
    send({ zoom: e.deltaY > 0 ? 1 / ZOOM_STEP : ZOOM_STEP }); // wheel towards you: farther
  }, { passive: false });
}

/**
 * Start the video view; it reconnects by itself after a failure or a server restart.
 * `on` holds callbacks: ready() whether to connect now (signed in), selected(id) when the server
 * says which twin is selected (a click on empty ground keeps it), vitals(record) for each vitals message of the selected twin (sent to
 * analysts only), activity(name) when its activity changes.
 */
export function startVideo(video, status, on = {}) {
  handlers = on;
  bindCamera(video);
  (async () => {
    for (;;) {
      try {
        if (handlers.ready && !handlers.ready()) throw new Error("sign in to watch");
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
  followedTwin = null;
  send({ select: id });
}

/** Keep the camera on a twin as it moves (null: stop following). */
export function followTwin(id) {
  selectedTwin = id;
  followedTwin = id;
  send({ follow: id });
}
