// SynthTwin browser page: polls the REST API of `twin serve` (net/http_api.py) and draws it.
// Plain ES module, no build step; uPlot is vendored in ./vendor (MIT, see vendor/LICENSE).
// A server with tokens answers 401 until the page signs in: the login form trades a token (typed,
// or from a `?token=` link) for an HttpOnly cookie (POST /api/login), and what the page shows
// follows the token's role (net/http_security.py).

import uPlot from "./vendor/uPlot.esm.js";
import { followTwin, selectTwin, startVideo } from "./video.js";

const STATS_EVERY_MS = 1000;
const DETAIL_EVERY_MS = 1000; // identity and today; live vitals come over the video's channel
const LIVE_STALE_MS = 2000; // without live vitals this long, the charts take the polled ones
const LIST_EVERY_MS = 5000; // activities change: refresh the visible page now and then
const REQUEST_TIMEOUT_MS = 4000;
const SESSION_RETRY_MS = 2000; // the server did not answer the first question: ask again
const ROLES = ["viewer", "analyst", "operator", "admin"];
const PAGE = 50;
const WINDOW_S = 300; // the charts keep the last 5 minutes
const CHART_HEIGHT = 170;

const CHARTS = [
  { title: "Heart rate (1/min)", series: [["HR", "#d1342f", "hr_bpm"]] },
  {
    title: "Blood pressure (mmHg)",
    series: [
      ["systolic", "#c2571a", "sbp_mmhg"],
      ["diastolic", "#2f6fde", "dbp_mmhg"],
    ],
  },
  { title: "SpO2 (%)", series: [["SpO2", "#7b3fc4", "spo2_pct"]] },
  { title: "Glucose (mg/dL)", series: [["glucose", "#1b8a5a", "glucose_mgdl"]] },
  { title: "Steps today", series: [["steps", "#444", "steps"]] },
];
const KEYS = CHARTS.flatMap((c) => c.series.map((s) => s[2]));

const $ = (id) => document.getElementById(id);

// -- fetching, and the connection banner -----------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status; // 0: no answer at all
  }
}

let connected = true;
const onReconnect = [];

function setConnected(ok, why = "") {
  const banner = $("banner");
  if (ok) {
    banner.hidden = true;
    if (!connected) {
      connected = true;
      onReconnect.forEach((fn) => fn());
    }
    return;
  }
  connected = false;
  banner.textContent = `Disconnected, retrying… (${why})`;
  banner.hidden = false;
}

async function api(path, init = {}) {
  let res;
  try {
    res = await fetch(path, {
      ...init,
      headers: { "content-type": "application/json", ...(init.headers || {}) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    setConnected(false, "server unreachable");
    throw new ApiError(0, String(err));
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  const detail = body && typeof body.detail === "string" ? body.detail : res.statusText;
  if (res.status === 401) {
    setConnected(true);
    signedOut(detail);
    throw new ApiError(401, detail);
  }
  if (res.status >= 500) {
    setConnected(false, detail || `HTTP ${res.status}`);
    throw new ApiError(res.status, detail);
  }
  setConnected(true);
  if (!res.ok) throw new ApiError(res.status, detail || `HTTP ${res.status}`);
  return body;
}

/** Run `fn` now and then every `ms` (measured from each start) while signed in, whatever it
 * throws. */
function every(ms, fn) {
  const run = async () => {
    const start = performance.now();
    try {
      if (session !== null) await fn();
    } catch (err) {
      if (!(err instanceof ApiError)) console.error(err);
    }
    setTimeout(run, Math.max(0, ms - (performance.now() - start)));
  };
  run();
}

// -- the session: sign in, sign out, the role ------------------------------------------------

let session = null; // {role, open} from the API; null until signed in, and after a 401
let started = false;

function atLeast(role) {
  return session !== null && ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}

/** The API answered 401 (no token, or one revoked or expired): show the login form. */
function signedOut(why) {
  session = null;
  $("who").hidden = true;
  $("login-error").textContent = why;
  if ($("login").hidden) {
    $("login").hidden = false;
    $("login-token").focus();
  }
}

function signedIn(answer) {
  session = answer;
  $("login").hidden = true;
  $("login-error").textContent = "";
  $("who").hidden = answer.open; // open access: nobody signs in or out
  $("role").textContent = answer.role;
  $("controls").hidden = !atLeast("operator");
  if (selected !== null) showHealth();
  start();
}

async function logIn(token) {
  signedIn(await api("/api/login", { method: "POST", body: JSON.stringify({ token }) }));
}

async function onLogin(event) {
  event.preventDefault();
  const input = $("login-token");
  $("login-error").textContent = ""; // the last refusal goes as this try starts
  try {
    await logIn(input.value.trim());
    input.value = "";
  } catch (err) {
    $("login-error").textContent = err.message; // a 401 says why the token was refused
  }
}

async function logOut() {
  await api("/api/logout", { method: "POST" }).catch(() => {});
  location.reload(); // and the video goes with the page
}

/** A `?token=` link: trade the token for the cookie at once, and take it out of the address bar
 * (and so out of the history) before anything else happens. Returns whether it signed in. */
async function signInFromLink() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token === null) return false;
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  try {
    await logIn(token);
    return true;
  } catch {
    return false; // the form shows why
  }
}

/** Ask who we are (GET /api/session) until the server answers; a 401 shows the login form. */
async function openSession() {
  if (await signInFromLink()) return;
  try {
    signedIn(await api("/api/session"));
  } catch (err) {
    if (err.status !== 401) setTimeout(openSession, SESSION_RETRY_MS);
  }
}

// -- small helpers ---------------------------------------------------------------------------

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function num(x, digits = 0) {
  return typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–";
}

function fillKv(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
}

let noticeTimer = null;
function notice(text) {
  $("notice").textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => ($("notice").textContent = ""), 5000);
}

// -- header: stats, pause, resume, time scale ------------------------------------------------

function showStats(s) {
  const when = new Date(s.sim_time); // ISO 8601 without zone: local time
  const day = Number.isNaN(when.getTime())
    ? ""
    : when.toLocaleDateString(undefined, { weekday: "short" }) + " ";
  $("sim-time").textContent = day + String(s.sim_time).replace("T", " ").slice(0, 19);
  $("twins").textContent = String(s.twins);
  const rate = $("tick-rate");
  rate.textContent = `${num(s.measured_hz, 1)} / ${num(s.tick_hz, 0)} Hz`;
  rate.classList.toggle("bad", !s.paused && s.measured_hz < 0.9 * s.tick_hz);
  $("overruns").textContent = String(s.overruns);
  $("time-scale").textContent = `×${s.time_scale}`;
  showPaused(s.paused);
}

function showPaused(paused) {
  $("run-state").textContent = paused ? "paused" : "running";
  $("pause").disabled = paused;
  $("resume").disabled = !paused;
}

async function pollStats() {
  showStats(await api("/api/stats"));
}

async function setPaused(paused) {
  try {
    const state = await api(paused ? "/api/pause" : "/api/resume", { method: "POST" });
    showPaused(state.paused);
  } catch (err) {
    notice(err.message);
  }
}

async function setScale(event) {
  event.preventDefault();
  const scale = Number($("scale-input").value);
  if (!(scale > 0)) return notice("time scale must be a positive number");
  try {
    const answer = await api("/api/time-scale", {
      method: "PUT",
      body: JSON.stringify({ scale }),
    });
    $("time-scale").textContent = `×${answer.scale}`;
    notice("");
  } catch (err) {
    notice(err.message);
  }
}

// -- the twin list ---------------------------------------------------------------------------

const list = { offset: 0, q: "", total: 0, seq: 0 };
let selected = null;

async function loadList() {
  const seq = ++list.seq;
  const params = new URLSearchParams({ offset: list.offset, limit: PAGE });
  if (list.q) params.set("q", list.q);
  const page = await api(`/api/twins?${params}`);
  if (seq !== list.seq) return; // a newer request was sent meanwhile
  if (page.items.length === 0 && page.total > 0 && list.offset > 0) {
    list.offset = Math.max(0, Math.floor((page.total - 1) / PAGE) * PAGE); // the list shrank
    return loadList();
  }
  list.total = page.total;
  $("twin-rows").replaceChildren(
    ...page.items.map((item) => {
      const row = el("tr");
      row.dataset.id = item.id;
      row.append(
        el("td", String(item.id)),
        el("td", item.activity ?? "…"),
        el("td", `${item.cell[0]}, ${item.cell[1]}`),
      );
      row.classList.toggle("selected", item.id === selected);
      return row;
    }),
  );
  const first = page.total === 0 ? 0 : list.offset + 1;
  const last = list.offset + page.items.length;
  $("page-info").textContent = `${first}–${last} of ${page.total}`;
  $("prev").disabled = list.offset === 0;
  $("next").disabled = list.offset + PAGE >= page.total;
}

function reloadList() {
  loadList().catch(() => {});
}

let searchTimer = null;
function onSearch() {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    list.q = $("search").value.trim();
    list.offset = 0;
    reloadList();
  }, 250);
}

function onRowClick(event) {
  const row = event.target.closest("tr[data-id]");
  if (!row) return;
  select(Number(row.dataset.id));
}

function markRow() {
  for (const r of $("twin-rows").children) {
    r.classList.toggle("selected", Number(r.dataset.id) === selected);
  }
}

// -- the selected twin -----------------------------------------------------------------------

const buffer = { t: [], ...Object.fromEntries(KEYS.map((k) => [k, []])) };
let charts = [];
let lastLive = 0; // Date.now() of the latest vitals from the video's channel
let liveCount = 0; // vitals from the channel since the last rate update

function showLiveRate() {
  $("live-rate").textContent = selected === null ? "" : `${liveCount} updates/s`;
  liveCount = 0;
}

/** Show twin `id`; `tellServer` is false when the server chose it (a click in the video). */
function select(id, tellServer = true) {
  if (id === selected) return;
  if (id === null) {
    selected = null;
    $("detail").hidden = true;
    $("detail-empty").hidden = false;
    markRow();
    return;
  }
  selected = id;
  if (tellServer) selectTwin(id);
  markRow();
  lastLive = 0;
  for (const key of Object.keys(buffer)) buffer[key].length = 0;
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("d-id").textContent = String(id);
  $("d-activity").textContent = "…";
  showHealth();
  for (const dl of [$("d-identity"), $("d-today")]) dl.replaceChildren();
  $("d-minutes").replaceChildren();
  resetChat();
  if (charts.length === 0) makeCharts();
  drawCharts();
  pollDetail().catch(() => {});
}

// -- talking to the selected twin (POST /api/twins/{id}/chat, analysts) -----------------------

let conversation = null; // {twin, id}: the conversation with the selected twin, once started

function resetChat() {
  conversation = null;
  $("chat-log").replaceChildren();
  $("chat-about").textContent = "";
}

function chatLine(who, text, className) {
  const li = el("li", undefined, className);
  li.append(el("b", `${who}: `), text);
  $("chat-log").append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

/** Send the typed message to the selected twin; its reply (the facts it rests on as a tooltip),
 * or the server's refusal, joins the log. */
async function onChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const message = input.value.trim();
  if (!message || selected === null) return;
  const twin = selected;
  input.value = "";
  chatLine("you", message, "chat-you");
  $("chat-send").disabled = true;
  try {
    const cid = conversation !== null && conversation.twin === twin ? conversation.id : null;
    const answer = await api(`/api/twins/${twin}/chat`, {
      method: "POST",
      body: JSON.stringify({ message, conversation_id: cid }),
    });
    if (twin !== selected) return;
    conversation = { twin, id: answer.conversation_id };
    const line = chatLine(`twin ${twin}`, answer.reply, "chat-twin");
    line.title = answer.facts.map((f) => `${f.name} = ${f.value} ${f.unit} (${f.source})`).join("\n");
    $("chat-about").textContent = `${answer.intent.replaceAll("_", " ")} · ${answer.engine}`;
  } catch (err) {
    if (twin === selected) chatLine("error", err.message, "chat-error bad");
  } finally {
    $("chat-send").disabled = false;
  }
}

$("chat-form").addEventListener("submit", onChat);

/** The selected twin's health data for analysts, a note for viewers. */
function showHealth() {
  const health = atLeast("analyst");
  $("health").hidden = !health;
  $("detail-denied").hidden = health;
  $("detail-role").textContent = session === null ? "" : session.role;
}

function makeCharts() {
  const box = $("charts");
  charts = CHARTS.map((spec) => {
    const div = el("div", undefined, "chart");
    box.append(div);
    const opts = {
      title: spec.title,
      width: Math.max(200, div.clientWidth),
      height: CHART_HEIGHT,
      scales: { x: { time: true } },
      series: [{}, ...spec.series.map(([label, stroke]) => ({ label, stroke, width: 1.5 }))],
      axes: [{}, { size: 50 }],
    };
    const plot = new uPlot(opts, [[], ...spec.series.map(() => [])], div);
    new ResizeObserver(() => {
      const width = Math.max(200, div.clientWidth);
      if (width !== plot.width) plot.setSize({ width, height: CHART_HEIGHT });
    }).observe(div);
    return { spec, plot };
  });
}

function drawCharts() {
  for (const { spec, plot } of charts) {
    plot.setData([buffer.t, ...spec.series.map((s) => buffer[s[2]])]);
  }
}

/** Add one sample (null vitals: a gap in the lines) and drop those older than the window. */
function record(vitals) {
  const now = Date.now() / 1000;
  buffer.t.push(now);
  for (const key of KEYS) buffer[key].push(vitals ? vitals[key] : null);
  let old = 0;
  while (old < buffer.t.length && buffer.t[old] < now - WINDOW_S) old++;
  if (old > 0) for (const key of Object.keys(buffer)) buffer[key].splice(0, old);
  drawCharts();
}

function showTwin(d) {
  $("d-activity").textContent = `${d.activity_name} · ${num(d.speed_mps, 1)} m/s`;
  const p = d.profile;
  const employment = String(p.employment).replaceAll("_", " ");
  const job = p.shift ? `${employment} (${p.shift} shift)` : employment;
  fillKv($("d-identity"), [
    ["age", `${num(p.age_y, 0)} y`],
    ["sex", p.sex],
    ["height", `${num(p.height_cm, 0)} cm`],
    ["weight", `${num(p.weight_kg, 1)} kg`],
    ["BMI", num(p.bmi, 1)],
    ["employment", job],
    ["conditions", p.conditions.length ? p.conditions.join(", ") : "none"],
    ["cell", `${d.cell[0]}, ${d.cell[1]}`],
  ]);
  const t = d.today;
  fillKv($("d-today"), [
    ["steps", String(t.steps)],
    ["energy", `${num(t.energy_kcal, 0)} kcal`],
    ["mean HR", `${num(t.mean_hr, 0)} /min`],
    ["max HR", `${num(t.max_hr, 0)} /min`],
    ["resting HR", t.resting_hr == null ? "–" : `${num(t.resting_hr, 0)} /min`],
    ["sleep", `${num(t.sleep_hours, 1)} h`],
  ]);
  const minutes = Object.entries(t.minutes || {});
  const most = Math.max(1, ...minutes.map(([, m]) => m));
  $("d-minutes").replaceChildren(
    ...minutes.map(([name, m]) => {
      const bar = el("span", undefined, "bar");
      bar.style.width = `${(100 * m) / most}%`;
      const track = el("span");
      track.append(bar);
      const li = el("li");
      li.append(el("span", name.replaceAll("_", " ")), track, el("span", num(m, 0), "num"));
      return li;
    }),
  );
}

async function pollDetail() {
  if (selected === null || !atLeast("analyst")) return;
  const id = selected;
  try {
    const d = await api(`/api/twins/${id}`);
    if (id !== selected) return;
    showTwin(d);
    if (Date.now() - lastLive > LIVE_STALE_MS) record(d.vitals);
  } catch (err) {
    if (id !== selected) return;
    if (err.status === 404) $("d-activity").textContent = "does not exist (any more)";
    record(null);
    throw err;
  }
}

// -- start -----------------------------------------------------------------------------------

$("login-form").addEventListener("submit", onLogin);
$("logout").addEventListener("click", logOut);
$("pause").addEventListener("click", () => setPaused(true));
$("resume").addEventListener("click", () => setPaused(false));
$("scale-form").addEventListener("submit", setScale);
$("search").addEventListener("input", onSearch);
$("twin-rows").addEventListener("click", onRowClick);
$("prev").addEventListener("click", () => {
  list.offset = Math.max(0, list.offset - PAGE);
  reloadList();
});
$("next").addEventListener("click", () => {
  if (list.offset + PAGE < list.total) list.offset += PAGE;
  reloadList();
});
onReconnect.push(reloadList);
openSession();

/** Start polling and the video, once signed in (at once with open access). */
function start() {
  if (started) return;
  started = true;
  every(STATS_EVERY_MS, pollStats);
  every(1000, showLiveRate);
  loadLegend().catch(() => onReconnect.push(loadLegend));
  every(DETAIL_EVERY_MS, pollDetail);
  every(LIST_EVERY_MS, loadList);
  startVideo($("video"), $("video-status"), {
    ready: () => session !== null,
    selected: (id) => select(id, false),
    vitals: (v) => {
      if (v.id !== selected) return;
      lastLive = Date.now();
      liveCount += 1;
      record(v);
    },
    activity: (name) => {
      $("d-activity").textContent = name.replaceAll("_", " ");
    },
  });
}
/** The video's colours: twins by activity, then places by kind (GET /api/legend). */
async function loadLegend() {
  const legend = await api("/api/legend");
  const item = ({ name, rgb }, shape) => {
    const swatch = el("span", undefined, `swatch ${shape}`);
    swatch.style.background = rgb;
    const li = el("li");
    li.append(swatch, name.replaceAll("_", " "));
    return li;
  };
  $("legend").replaceChildren(
    ...legend.activities.map((entry) => item(entry, "dot")),
    ...legend.places.map((entry) => item(entry, "box")),
  );
}

$("follow").addEventListener("click", () => {
  if (selected !== null) followTwin(selected);
});
