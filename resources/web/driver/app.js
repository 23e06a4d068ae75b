// The driver app (docs/driver.md). Plain JavaScript, no build step, no external files.
// Every value from the server is put on the page with textContent, never as HTML.
"use strict";

const TOKEN_KEY = "driver.token";
const SHEET_KEY = "driver.sheet";
const REFUSED_KEY = "driver.refused";
const POLL_MS = 3000;          // the sheet's poll without a stream (the fallback)
const STREAM_POLL_MS = 30000;  // ... and with one (statuses are not pushed)
const POSITION_MS = 30000;
const MAX_SIDE = 1600;

const $ = (id) => document.getElementById(id);
const state = {
  token: localStorage.getItem(TOKEN_KEY) || "",
  sheet: JSON.parse(localStorage.getItem(SHEET_KEY) || "null"),
  pending: [],          // queued actions (copy of the IndexedDB outbox, for the page)
  messages: [],
  lastMessage: 0,
  seenMessage: Number(localStorage.getItem("driver.seen") || 0),
  podStop: null,
  failStop: null,
  photos: [],
  signed: false,
  watch: null,
  lastFix: 0,
  flushing: false,
  online: navigator.onLine,
  streaming: false,
  lastSheetPoll: 0,
};

// ---- the outbox: IndexedDB, strictly in order --------------------------------------------
let dbPromise = null;
function outboxDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const open = indexedDB.open("driver-outbox", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  return dbPromise;
}
async function tx(mode, fn) {
  const db = await outboxDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction("outbox", mode);
    const result = fn(t.objectStore("outbox"));
    t.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    t.onerror = () => reject(t.error);
  });
}
const outboxAll = () => tx("readonly", (s) => s.getAll());
const outboxAdd = (item) => tx("readwrite", (s) => s.add(item));
const outboxDelete = (seq) => tx("readwrite", (s) => s.delete(seq));

function newKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function enqueue(item) {
  item.key = newKey();
  item.ts = Date.now() / 1000;
  await outboxAdd(item);
  await refreshPending();
  flush();
}

async function refreshPending() {
  state.pending = await outboxAll();
  const q = $("queue");
  const actions = state.pending.filter((i) => i.type === "action").length;
  q.hidden = state.pending.length === 0;
  q.textContent = state.pending.length
    ? `${actions} action(s) and ${state.pending.length - actions} message(s) waiting to be sent — they are kept on this phone`
    : "";
  renderSheet();
}

function api(path, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${state.token}` }, options.headers || {});
  return fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
}

function dataUrlToBlob(url) {
  const [head, body] = url.split(",");
  const type = head.slice(5, head.indexOf(";"));
  const bin = atob(body);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type });
}

// Send what waits, oldest first; stop at the first that cannot be sent now (no signal, the
// desk is away), so the order is kept. A refusal is final: shown, then dropped.
async function flush() {
  if (state.flushing || !state.token) return;
  state.flushing = true;
  let sent = 0;
  try {
    for (const item of await outboxAll()) {
      let response;
      try {
        response = await send(item);
      } catch (err) {
        setNet(false);
        return;
      }
      setNet(true);
      if (response.status === 401) {
        const body = await response.json().catch(() => ({}));
        showBanner(body.reason || "This phone may no longer use the app.", true);
        return;
      }
      if (response.status === 503 || response.status >= 500 && response.status !== 501) return;
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        const stop = item.stop ? `order ${item.stop}: ` : "";
        rememberRefusal(`${stop}${body.reason || `refused (${response.status})`}`);
      }
      await outboxDelete(item.seq);
      await refreshPending();
      sent += 1;
    }
    if (sent || !state.streaming) await loadSheet();  // statuses are not pushed
  } finally {
    state.flushing = false;
  }
}

function send(item) {
  const sentAt = Date.now() / 1000;
  if (item.type === "message") {
    return api("/driver/api/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key: item.key, body: item.body, stop: item.stop || null }),
    });
  }
  const action = {
    v: 1, key: item.key, kind: item.kind, stop: item.stop, ts: item.ts, sent_at: sentAt,
    lat: item.lat, lon: item.lon, accuracy_m: item.accuracy, reason: item.reason,
    note: item.note, recipient: item.recipient,
  };
  const form = new FormData();
  form.append("action", JSON.stringify(action));
  (item.photos || []).forEach((p, i) => form.append("photo", dataUrlToBlob(p), `photo${i}.jpg`));
  if (item.signature) form.append("signature", dataUrlToBlob(item.signature), "signature.png");
  return api("/driver/api/actions", { method: "POST", body: form });
}

function rememberRefusal(text) {
  const list = JSON.parse(localStorage.getItem(REFUSED_KEY) || "[]");
  list.push(text);
  localStorage.setItem(REFUSED_KEY, JSON.stringify(list.slice(-5)));
  showBanner(`Not recorded — ${text}`, true);
}

function showBanner(text, error) {
  const b = $("banner");
  b.textContent = text;
  b.classList.toggle("error", !!error);
  b.hidden = !text;
}

function setNet(online) {
  state.online = online;
  const n = $("net");
  n.dataset.state = online ? "online" : "offline";
  n.textContent = online ? "online" : "offline";
}

// ---- the run sheet -----------------------------------------------------------------------
async function loadSheet() {
  if (!state.token) return;
  let response;
  try {
    response = await api("/driver/api/sheet");
  } catch (err) {
    setNet(false);
    return;
  }
  setNet(true);
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    showBanner(body.reason || "This phone may no longer use the app.", true);
    return;
  }
  if (!response.ok) return;
  takeSheet(body);
}

function takeSheet(body) {
  state.lastSheetPoll = Date.now();
  const changed = !state.sheet || state.sheet.version !== body.version;
  state.sheet = body;
  localStorage.setItem(SHEET_KEY, JSON.stringify(body));
  if (changed) renderSheet();
}

// ---- the push channel: server-sent events read with fetch (EventSource cannot send the
// token in a header). While it is open the sheet arrives as the desk saves; when it drops
// (no signal, the server restarts) the 3 s poll takes over and it is opened again.
async function openStream() {
  if (state.streaming || !state.token) return;
  state.streaming = true;
  try {
    const response = await api("/driver/api/stream");
    if (response.status === 401) {
      const body = await response.json().catch(() => ({}));
      showBanner(body.reason || "This phone may no longer use the app.", true);
      return;
    }
    if (!response.ok || !response.body) return;
    setNet(true);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (onStreamEvent(block) === "end") {
          reader.cancel().catch(() => {});
          return;
        }
      }
    }
  } catch (err) {
    // dropped: the poll carries on
  } finally {
    state.streaming = false;
  }
}

function onStreamEvent(block) {
  let name = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) name = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return "";
  const body = JSON.parse(data);
  if (name === "sheet") takeSheet(body);
  else if (name === "messages") loadMessages();
  else if (name === "unpaired") {
    showBanner(body.reason, true);
    return "end";
  } else if (name === "bye") return "end";
  return "";
}

function pendingFor(ref) {
  return state.pending.filter((i) => i.type === "action" && i.stop === ref).map((i) => i.kind);
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, cls, onClick) {
  const b = el("button", cls, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

// Times and dates as the fleet writes them ([fleet] locale and time zone, sent with the
// sheet), never the phone's language: a Finnish fleet reads 14.05, not 2:05 PM. Without a
// fleet locale, the console's own convention: a 24-hour clock and ISO dates.
const formats = { key: "", clock: null, day: null };

function fleetFormats() {
  const sheet = state.sheet || {};
  const key = `${sheet.locale || ""}|${sheet.timezone || ""}`;
  if (formats.key !== key || !formats.clock) {
    const clock = { hour: "2-digit", minute: "2-digit", timeZone: sheet.timezone || undefined };
    if (!sheet.locale) clock.hourCycle = "h23";
    const day = { weekday: "short", year: "numeric", month: "numeric", day: "numeric", timeZone: "UTC" };
    try {
      formats.clock = new Intl.DateTimeFormat(sheet.locale || undefined, clock);
      formats.day = sheet.locale ? new Intl.DateTimeFormat(sheet.locale, day) : null;
    } catch (e) {  // a tag or zone this browser does not know: its own, 24-hour
      formats.clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
      formats.day = null;
    }
    formats.key = key;
  }
  return formats;
}

function timeOf(iso) {
  if (!iso) return "";
  return fleetFormats().clock.format(new Date(iso));
}

function dayOf(isoDay) {
  const fmt = fleetFormats().day;  // a service day is a calendar date: formatted at UTC noon
  return fmt && isoDay ? fmt.format(new Date(`${isoDay}T12:00:00Z`)) : isoDay;
}

function renderSheet() {
  const list = $("stops");
  if (!list) return;
  const sheet = state.sheet;
  $("unpaired").hidden = !!state.token;
  $("sheet-view").hidden = !state.token || !!(state.podStop || state.failStop) || !$("msg-view").hidden;
  if (!sheet) return;
  $("title").textContent = `${sheet.vehicle_name} — ${dayOf(sheet.day)}`;
  list.replaceChildren();
  for (const stop of sheet.stops) {
    const li = el("li", "stop");
    li.dataset.ref = stop.order_ref;
    li.dataset.status = stop.status;
    const head = el("div", "head");
    head.append(el("span", "", `${stop.sequence}. ${stop.customer || stop.order_ref}`));
    head.append(el("span", "status", stop.status));
    li.append(head);
    li.append(el("div", "addr", stop.address));
    const window = stop.window_start ? `${timeOf(stop.window_start)}–${timeOf(stop.window_end)} · ` : "";
    li.append(el("div", "meta", `${window}${stop.kind} · ${stop.order_ref}`));
    if (stop.notes) li.append(el("div", "meta", stop.notes));
    const waiting = pendingFor(stop.order_ref);
    if (waiting.length) li.append(el("div", "pending", `waiting to send: ${waiting.join(", ")}`));
    const actions = el("div", "actions");
    const nav = el("a", "nav", "Navigate");
    nav.href = `geo:${stop.lat},${stop.lon}?q=${stop.lat},${stop.lon}(${encodeURIComponent(stop.address || stop.order_ref)})`;
    actions.append(nav);
    const finished = ["done", "failed", "skipped"].includes(stop.status) ||
      waiting.some((k) => k !== "arrived");
    if (!finished) {
      if (stop.status !== "arrived" && !waiting.includes("arrived")) {
        actions.append(button("Arrived", "secondary", () => act(stop, "arrived")));
      }
      if (stop.kind === "pickup") {
        actions.append(button("Picked up", "", () => openPod(stop, "picked_up")));
      } else {
        actions.append(button("Delivered", "", () => openPod(stop, "delivered")));
      }
      actions.append(button("Failed", "danger", () => openFail(stop)));
    }
    li.append(actions);
    list.append(li);
  }
}

function here() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve({});
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy }),
      () => resolve({}),
      { enableHighAccuracy: true, timeout: 8000, maximumAge: 0 });
  });
}

async function act(stop, kind, extra = {}) {
  const where = await here();
  await enqueue(Object.assign({ type: "action", kind, stop: stop.order_ref }, where, extra));
}

// ---- proof of delivery -------------------------------------------------------------------
function openPod(stop, kind) {
  state.podStop = { stop, kind };
  state.photos = [];
  state.signed = false;
  $("pod-stop").textContent = `${stop.sequence}. ${stop.customer || stop.order_ref}`;
  const needs = (state.sheet.requires || {})[stop.kind] || [];
  $("pod-needs").textContent = needs.length ? `Needed: ${needs.join(", ")}` : "Nothing is required; add what you can.";
  $("pod-submit").textContent = kind === "picked_up" ? "Picked up" : "Delivered";
  $("pod-recipient").value = "";
  $("pod-thumbs").replaceChildren();
  $("pod-error").hidden = true;
  clearSignature();
  $("pod-view").hidden = false;
  renderSheet();
}

function closeSheets() {
  state.podStop = null;
  state.failStop = null;
  $("pod-view").hidden = true;
  $("fail-view").hidden = true;
  renderSheet();
}

function shrink(file) {
  // Re-encode on the phone: a smaller upload, and no camera metadata leaves the phone.
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onerror = () => reject(reader.error);
    reader.onload = () => {
      const img = new Image();
      img.onerror = () => reject(new Error("not a picture"));
      img.onload = () => {
        const scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
        const canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(img.width * scale));
        canvas.height = Math.max(1, Math.round(img.height * scale));
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        resolve(canvas.toDataURL("image/jpeg", 0.8));
      };
      img.src = reader.result;
    };
    reader.readAsDataURL(file);
  });
}

async function addPhotos(files) {
  for (const file of files) {
    try {
      const url = await shrink(file);
      state.photos.push(url);
      const img = el("img");
      img.src = url;
      img.alt = "photo";
      $("pod-thumbs").append(img);
    } catch (err) {
      podError(`${file.name}: this file is not a picture`);
    }
  }
}

function podError(text) {
  const e = $("pod-error");
  e.textContent = text;
  e.hidden = !text;
}

function clearSignature() {
  const c = $("pod-signature");
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
  state.signed = false;
}

function setupSignature() {
  const c = $("pod-signature");
  const g = c.getContext("2d");
  let drawing = false;
  const point = (e) => {
    const r = c.getBoundingClientRect();
    return [(e.clientX - r.left) * c.width / r.width, (e.clientY - r.top) * c.height / r.height];
  };
  c.addEventListener("pointerdown", (e) => {
    drawing = true;
    c.setPointerCapture(e.pointerId);
    g.beginPath();
    g.lineWidth = 2.5;
    g.lineCap = "round";
    g.strokeStyle = "#0d1b2a";
    g.moveTo(...point(e));
  });
  c.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    g.lineTo(...point(e));
    g.stroke();
    state.signed = true;
  });
  const end = () => { drawing = false; };
  c.addEventListener("pointerup", end);
  c.addEventListener("pointercancel", end);
}

async function submitPod() {
  const { stop, kind } = state.podStop;
  const needs = (state.sheet.requires || {})[stop.kind] || [];
  const recipient = $("pod-recipient").value.trim();
  const missing = needs.filter((n) => (n === "photo" && !state.photos.length) ||
    (n === "signature" && !state.signed) || (n === "recipient" && !recipient));
  if (missing.length) {
    podError(`Still needed: ${missing.join(", ")}`);
    return;
  }
  const signature = state.signed ? $("pod-signature").toDataURL("image/png") : null;
  const photos = state.photos.slice();
  closeSheets();
  await act(stop, kind, { photos, signature, recipient });
}

// ---- failed ------------------------------------------------------------------------------
function openFail(stop) {
  state.failStop = stop;
  $("fail-stop").textContent = `${stop.sequence}. ${stop.customer || stop.order_ref}`;
  const select = $("fail-reason");
  select.replaceChildren();
  for (const [code, label] of Object.entries(state.sheet.reasons || {})) {
    const option = el("option", "", label);
    option.value = code;
    select.append(option);
  }
  $("fail-note").value = "";
  $("fail-view").hidden = false;
  renderSheet();
}

async function submitFail() {
  const stop = state.failStop;
  const reason = $("fail-reason").value;
  const note = $("fail-note").value.trim();
  closeSheets();
  await act(stop, "failed", { reason, note });
}

// ---- messages ----------------------------------------------------------------------------
async function loadMessages() {
  if (!state.token) return;
  try {
    const response = await api(`/driver/api/messages?after=${state.lastMessage}`);
    if (!response.ok) return;
    const body = await response.json();
    for (const m of body.messages) {
      state.messages.push(m);
      state.lastMessage = Math.max(state.lastMessage, m.id);
    }
    if (body.messages.length) renderMessages();
  } catch (err) {
    setNet(false);
  }
}

function renderMessages() {
  const list = $("msg-list");
  list.replaceChildren();
  for (const m of state.messages) {
    const li = el("li", m.direction);
    const who = m.direction === "desk" ? `Desk (${m.author})` : "Me";
    const about = m.stop_ref ? ` · order ${m.stop_ref}` : "";
    li.append(el("span", "who", `${who} · ${timeOf(m.created_at)}${about}`));
    li.append(el("span", "body", m.body));
    list.append(li);
  }
  const unread = state.messages.filter((m) => m.direction === "desk" && m.id > state.seenMessage).length;
  const badge = $("unread");
  badge.hidden = unread === 0 || !$("msg-view").hidden;
  badge.textContent = String(unread);
  if (unread && $("msg-view").hidden) showBanner("New message from the desk — open Messages");
}

function openMessages() {
  $("msg-view").hidden = false;
  state.seenMessage = state.lastMessage;
  localStorage.setItem("driver.seen", String(state.seenMessage));
  showBanner("");
  renderMessages();
  renderSheet();
}

async function sendMessage() {
  const text = $("msg-text").value.trim();
  if (!text) return;
  $("msg-text").value = "";
  const lastDesk = [...state.messages].reverse().find((m) => m.direction === "desk");
  await enqueue({ type: "message", body: text, stop: lastDesk ? lastDesk.stop_ref : null });
}

// ---- position on shift -------------------------------------------------------------------
function toggleShift(on) {
  if (on && navigator.geolocation && state.watch === null) {
    state.watch = navigator.geolocation.watchPosition(sendFix, () => {}, { enableHighAccuracy: true });
  } else if (!on && state.watch !== null) {
    navigator.geolocation.clearWatch(state.watch);
    state.watch = null;
  }
}

function sendFix(p) {
  const now = Date.now();
  if (now - state.lastFix < POSITION_MS) return;
  state.lastFix = now;
  const fix = {
    v: 1, ts: p.timestamp / 1000, sent_at: now / 1000, lat: p.coords.latitude,
    lon: p.coords.longitude, accuracy_m: p.coords.accuracy, speed_ms: p.coords.speed,
    heading_deg: p.coords.heading,
  };
  api("/driver/api/position", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(fix),
  }).catch(() => setNet(false));  // a position is worth only while fresh: never queued
}

// ---- start -------------------------------------------------------------------------------
function pairFromLink() {
  const match = location.hash.match(/pair=([A-Za-z0-9_.%-]+)/);
  if (!match) return;
  state.token = decodeURIComponent(match[1]);
  localStorage.setItem(TOKEN_KEY, state.token);
  localStorage.removeItem(SHEET_KEY);
  state.sheet = null;
  history.replaceState(null, "", location.pathname);  // the secret leaves the address bar
}

function start() {
  pairFromLink();
  setupSignature();
  $("pod-photo").addEventListener("change", (e) => addPhotos(Array.from(e.target.files)));
  $("pod-clear").addEventListener("click", clearSignature);
  $("pod-cancel").addEventListener("click", closeSheets);
  $("pod-submit").addEventListener("click", submitPod);
  $("fail-cancel").addEventListener("click", closeSheets);
  $("fail-submit").addEventListener("click", submitFail);
  $("open-messages").addEventListener("click", openMessages);
  $("msg-close").addEventListener("click", () => { $("msg-view").hidden = true; renderSheet(); });
  $("msg-send").addEventListener("click", sendMessage);
  $("on-shift").addEventListener("change", (e) => toggleShift(e.target.checked));
  window.addEventListener("online", () => { setNet(true); flush(); });
  window.addEventListener("offline", () => setNet(false));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/driver/sw.js", { scope: "/driver/" }).catch(() => {});
  }
  setNet(navigator.onLine);
  renderSheet();
  refreshPending().then(() => { loadSheet(); loadMessages(); flush(); openStream(); });
  setInterval(() => {
    flush();
    if (!state.streaming || Date.now() - state.lastSheetPoll > STREAM_POLL_MS) loadSheet();
    if (!state.streaming) { loadMessages(); openStream(); }
  }, POLL_MS);
}

document.addEventListener("DOMContentLoaded", start);
