// SynthTwin browser page: the twin list and the header through the JavaScript client over the
// gateway's WebSocket (wire.js), the panels through the REST API of `twin serve`
// (net/http_api.py), the video and live vitals over WebRTC (video.js). Plain ES modules, no build
// step; uPlot and Swagger UI are vendored in ./vendor (licences beside them).
// A server with tokens answers 401 until the page signs in: the login form trades a token (typed,
// or from a `?token=` link) for an HttpOnly cookie (POST /api/login), and what the page shows
// follows the token's role (net/http_security.py). Every time shown is the simulation's clock.

import { alertsForTwin, startAlerts } from "./alerts.js";
import { ApiError, api, hooks } from "./api.js";
import { timeChart } from "./charts.js";
import { setActivities, setOperator, showHistory } from "./history.js";
import { activityText, employmentText, placeText } from "./labels.js";
import { startPopulation } from "./population.js";
import { axisSeconds, clock, fromT, span } from "./simclock.js";
import { followTwin, selectTwin, startVideo } from "./video.js";
import { WireError, call, twins } from "./wire.js";

const STATS_EVERY_MS = 1000;
const DETAIL_EVERY_MS = 1000; // identity and today; live vitals come over the video's channel
const LIVE_STALE_MS = 2000; // without live vitals this long, the charts take the polled ones
const LIST_EVERY_MS = 5000; // activities change: refresh the list now and then
const SESSION_RETRY_MS = 2000; // the server did not answer the first question: ask again
const ROLES = ["viewer", "analyst", "operator", "admin"];
const PAGE = 50;
const LIVE_WALL_S = 300; // the live charts keep what 5 wall minutes bring, in simulated time
const CHART_HEIGHT = 170;

const CHARTS = [
  { title: "Heart rate (1/min)", series: [["HR", "#d1342f", "hr_bpm", 0]] },
  {
    title: "Blood pressure (mmHg)",
    series: [
      ["systolic", "#c2571a", "sbp_mmhg", 0],
      ["diastolic", "#2f6fde", "dbp_mmhg", 0],
    ],
  },
  { title: "SpO2 (%)", series: [["SpO2", "#7b3fc4", "spo2_pct", 1]] },
  { title: "Glucose (mg/dL)", series: [["glucose", "#1b8a5a", "glucose_mgdl", 0]] },
  { title: "Steps today", series: [["steps", "#444", "steps", 0]] },
];
const KEYS = CHARTS.flatMap((c) => c.series.map((s) => s[2]));

const $ = (id) => document.getElementById(id);

// -- the connection banner -------------------------------------------------------------------

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

hooks.connected = setConnected;
hooks.signedOut = (why) => signedOut(why);

/** A call through the JavaScript client; a lost connection shows in the banner. */
async function viaWire(promise) {
  try {
    const result = await promise;
    setConnected(true);
    return result;
  } catch (err) {
    if (err instanceof WireError && !err.reachable) setConnected(false, err.message);
    throw err;
  }
}

/** Run `fn` now and then every `ms` (measured from each start) while signed in, whatever it
 * throws. */
function every(ms, fn) {
  const run = async () => {
    const start = performance.now();
    try {
      if (session !== null) await fn();
    } catch (err) {
      if (!(err instanceof ApiError || err instanceof WireError)) console.error(err);
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
  setOperator(atLeast("operator"));
  $("alerts").hidden = !atLeast("analyst");
  $("population").hidden = !atLeast("analyst");
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
  const now = axisSeconds(s.sim_time);
  if (Number.isFinite(now)) {
    clock.nowS = now;
    if (clock.epochS === null) clock.epochS = now - s.t_s; // until the roster says it
  }
  clock.scale = s.time_scale;
  const day = Number.isFinite(now)
    ? new Date(now * 1000).toLocaleDateString("en-GB", { weekday: "short", timeZone: "UTC" }) + " "
    : "";
  $("sim-time").textContent = day + String(s.sim_time).replace("T", " ").slice(0, 19);
  $("twins").textContent = String(s.twins);
  const rate = $("tick-rate");
  rate.textContent = `${num(s.measured_hz, 1)} / ${num(s.tick_hz, 0)} Hz`;
  rate.classList.toggle("bad", !s.paused && s.measured_hz < 0.9 * s.tick_hz);
  $("overruns").textContent = String(s.overruns);
  $("time-scale").textContent = `×${s.time_scale}`;
  $("live-window").textContent = `(last ${span(LIVE_WALL_S * s.time_scale)} of simulated time)`;
  showPaused(s.paused);
}

function showPaused(paused) {
  $("run-state").textContent = paused ? "paused" : "running";
  $("pause").disabled = paused;
  $("resume").disabled = !paused;
}

/** The `stats` op through the JavaScript client (its reply's `t_s` places the clock). */
async function pollStats() {
  showStats(await viaWire(call("stats")));
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

const list = { offset: 0, q: "", rows: [], seq: 0, world: null };
let selected = null;
let legendColours = []; // "#rrggbb" by activity code, as the video draws the twins

/** Fetch every twin through the JavaScript client (a Clone join), then show the current page. */
async function loadList() {
  const seq = ++list.seq;
  const world = await viaWire(twins());
  if (seq !== list.seq) return; // a newer request was sent meanwhile
  list.world = world;
  clock.epochS = axisSeconds(world.epoch);
  setActivities(legendColours, world.activities);
  showList();
}

/** The rows of `list.world` that match the search: an id prefix, or part of an activity name. */
function matching(world, q) {
  const needle = q.toLowerCase();
  const names = world.activities.map((n) => [n.toLowerCase(), activityText(n).toLowerCase()]);
  const codes = new Set(names.flatMap(([n, text], code) =>
    needle && (n.includes(needle) || text.includes(needle)) ? [code] : []));
  const rows = [];
  world.ids.forEach((id, row) => {
    if (!needle || (/^\d+$/.test(needle) && String(id).startsWith(needle)) ||
        codes.has(world.activity[row])) rows.push(row);
  });
  return rows;
}

function showList() {
  const world = list.world;
  if (world === null) return;
  const rows = matching(world, list.q);
  if (list.offset >= rows.length && rows.length > 0) {
    list.offset = Math.floor((rows.length - 1) / PAGE) * PAGE; // the list shrank
  }
  list.rows = rows;
  const page = rows.slice(list.offset, list.offset + PAGE);
  $("twin-rows").replaceChildren(
    ...page.map((r) => {
      const id = world.ids[r];
      const row = el("tr");
      row.dataset.id = id;
      const code = world.activity[r];
      row.append(
        el("td", String(id)),
        el("td", activityText(code < 0 ? null : world.activities[code])),
        el("td", placeText(world.pos[2 * r], world.pos[2 * r + 1])),
      );
      row.classList.toggle("selected", id === selected);
      return row;
    }),
  );
  const first = rows.length === 0 ? 0 : list.offset + 1;
  $("page-info").textContent = `${first}–${list.offset + page.length} of ${rows.length}`;
  $("prev").disabled = list.offset === 0;
  $("next").disabled = list.offset + PAGE >= rows.length;
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
    showList();
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
  if (id === selected || id === null) return; // a click on empty ground keeps the selection
  selected = id;
  if (tellServer) selectTwin(id);
  markRow();
  lastLive = 0;
  for (const key of Object.keys(buffer)) buffer[key].length = 0;
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("d-id").textContent = String(id);
  $("d-activity").textContent = "loading";
  showHealth();
  for (const dl of [$("d-identity"), $("d-today")]) dl.replaceChildren();
  $("d-minutes").replaceChildren();
  resetChat();
  if (charts.length === 0) makeCharts();
  drawCharts();
  showHistory(atLeast("analyst") ? id : null);
  alertsForTwin(id);
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
  charts = CHARTS.map((spec) => ({
    spec,
    plot: timeChart($("charts"), {
      title: spec.title,
      height: CHART_HEIGHT,
      series: spec.series.map(([label, stroke, , digits]) => ({ label, stroke, digits })),
    }),
  }));
}

function drawCharts() {
  for (const { spec, plot } of charts) {
    plot.setData([buffer.t, ...spec.series.map((s) => buffer[s[2]])]);
  }
}

/** Add one sample at simulated axis second `at` (null vitals: a gap in the lines) and drop those
 * older than the window (what LIVE_WALL_S wall seconds bring at the current time scale). */
function record(vitals, at) {
  if (at === null || !Number.isFinite(at)) return;
  if (buffer.t.length && at < buffer.t[buffer.t.length - 1]) {
    for (const key of Object.keys(buffer)) buffer[key].length = 0; // the clock went back
  }
  buffer.t.push(at);
  for (const key of KEYS) buffer[key].push(vitals ? vitals[key] : null);
  const oldest = at - LIVE_WALL_S * clock.scale;
  let old = 0;
  while (old < buffer.t.length && buffer.t[old] < oldest) old++;
  if (old > 0) for (const key of Object.keys(buffer)) buffer[key].splice(0, old);
  drawCharts();
}

function showTwin(d) {
  $("d-activity").textContent = `${activityText(d.activity_name)} · ${num(d.speed_mps, 1)} m/s`;
  const p = d.profile;
  fillKv($("d-identity"), [
    ["age", `${num(p.age_y, 0)} y`],
    ["sex", p.sex],
    ["height", `${num(p.height_cm, 0)} cm`],
    ["weight", `${num(p.weight_kg, 1)} kg`],
    ["BMI", num(p.bmi, 1)],
    ["employment", employmentText(p.employment, p.shift)],
    ["conditions", p.conditions.length ? p.conditions.join(", ") : "none"],
    ["where", `${placeText(d.pos_m[0], d.pos_m[1])} of the town centre`],
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
    if (Date.now() - lastLive > LIVE_STALE_MS) record(d.vitals, clock.nowS);
  } catch (err) {
    if (id !== selected) return;
    if (err.status === 404) $("d-activity").textContent = "does not exist (any more)";
    record(null, clock.nowS);
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
  showList();
});
$("next").addEventListener("click", () => {
  if (list.offset + PAGE < list.rows.length) list.offset += PAGE;
  showList();
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
  startAlerts((id) => select(id));
  startPopulation();
  startVideo($("video"), $("video-status"), {
    ready: () => session !== null,
    selected: (id) => select(id, false),
    vitals: (v) => {
      if (v.id !== selected) return;
      lastLive = Date.now();
      liveCount += 1;
      record(v, fromT(v.t_s));
    },
    activity: (name) => {
      $("d-activity").textContent = activityText(name);
    },
  });
}

/** The video's colours: twins (dots) by activity, places (squares) by kind, in two lists
 * (GET /api/legend). */
async function loadLegend() {
  const legend = await api("/api/legend");
  const item = ({ name, rgb }, shape, text) => {
    const swatch = el("span", undefined, `swatch ${shape}`);
    swatch.style.background = rgb;
    const li = el("li");
    li.append(swatch, text(name));
    return li;
  };
  legendColours = legend.activities.map((entry) => entry.rgb);
  setActivities(legendColours, legend.activities.map((entry) => entry.name));
  $("legend").replaceChildren(...legend.activities.map((e) => item(e, "dot", activityText)));
  $("legend-places").replaceChildren(
    ...legend.places.map((e) => item(e, "box", (name) => name.replaceAll("_", " "))),
  );
}

$("follow").addEventListener("click", () => {
  if (selected !== null) followTwin(selected);
});
