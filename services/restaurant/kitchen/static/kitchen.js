// The kitchen page: a live list of orders from /api/events (server-sent events) and the staff's decisions
// posted to /api/orders/:id/<decision> as JSON. Text from buttons is only ever set with textContent, with
// bidirectional controls removed and inside <bdi> (isolated), so it cannot reorder the text around it.
//
// Bounded at any backlog: the server sends one page of the waiting list (oldest first) and its total; the
// page shows that page, says how many are not shown, and asks for the page again when a slot frees up.
"use strict";

const state = {
  orders: new Map(), // orderId → order view (the waiting page and the latest decisions only)
  waitingTotal: 0,
  settings: { defaultEtaMin: 25, autoAccept: false, maxReasonChars: 100, maxEtaMin: 600, waitingPage: 50, decidedShown: 50, buttonGiveUpMs: 120000 },
  cards: new Map(), // orderId → { signature, element }
  clockOffset: 0, // server time − local time
  alerts: false, // sound + title count, off until staff turn them on (browsers require a click for sound)
  audio: null,
  refetch: null,
};

const $ = (id) => document.getElementById(id);
const now = () => Date.now() + state.clockOffset;

const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text a button sent, safe to show: no bidi controls, isolated from its surroundings. */
function userText(value) {
  return el("bdi", { text: String(value).replace(BIDI_CONTROLS, "") });
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(typeof child === "string" ? document.createTextNode(child) : child);
  return node;
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** What the status badge says, and its colour. */
function statusOf(order) {
  switch (order.status) {
    case null:
      return order.action === "order" ? ["waiting", "warn"] : ["cancel requested", "warn"];
    case "accepted":
      return order.cancelledBy ? [`accepted · ETA ${order.etaMin} min · then cancelled`, "bad"] : [`accepted · ETA ${order.etaMin} min`, "ok"];
    case "rejected":
      return [`rejected · ${strip(order.reason)}`, "bad"];
    case "cancelled":
      return ["cancel granted", "ok"];
    case "cancel-refused":
      return [`cancel refused · ${strip(order.reason)}`, "bad"];
    default:
      return [String(order.status), ""];
  }
}

function strip(text) {
  return String(text ?? "").replace(BIDI_CONTROLS, "");
}

function titleOf(order) {
  if (order.action === "order") return el("span", { className: "what" }, userText(order.item));
  const target = state.orders.get(order.cancels);
  const what = target && target.item ? el("small", {}, userText(target.item), ` (${order.cancels})`) : el("small", { text: order.cancels });
  return el("span", { className: "what" }, "Cancel ", what);
}

function meta(pairs) {
  const list = el("dl", { className: "meta" });
  for (const [term, value] of pairs) {
    if (value === null || value === undefined) continue;
    list.append(el("div", {}, el("dt", { text: term }), el("dd", {}, typeof value === "string" ? userText(value) : value)));
  }
  return list;
}

function decisionForm(order, decision, label, tone, field, error, buttons) {
  const form = el("form", { "data-decision-form": decision });
  if (field) form.append(field);
  const button = el("button", { type: "submit", className: tone, "data-decision": decision, text: label });
  buttons.push(button);
  form.append(button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {};
    if (decision === "accept") {
      const eta = Number(form.elements.etaMin.value);
      if (form.elements.etaMin.value.trim() !== "") body.etaMin = eta;
    }
    if (decision === "reject" || decision === "cancel-refuse") body.reason = form.elements.reason.value;
    void decide(order.orderId, decision, body, error, buttons);
  });
  return form;
}

function reasonInput(placeholder) {
  return el("input", { name: "reason", type: "text", placeholder, maxlength: state.settings.maxReasonChars, required: true, "aria-label": placeholder });
}

function buildCard(order) {
  const [statusText, tone] = statusOf(order);
  const waiting = order.status === null;
  const card = el("li", {
    className: "card",
    "data-order-id": order.orderId,
    "data-action": order.action,
    "data-status": waiting ? "waiting" : order.status,
    "data-received-at": order.receivedAt,
    "data-thing-state": order.thingState,
  });
  card.append(titleOf(order), el("span", { className: "status", "data-tone": tone, text: statusText }));
  card.append(
    meta([
      ["Button", order.thing],
      ["Click", order.clickType],
      ["Time", time(order.receivedAt)],
      ["Waiting", waiting ? el("span", { className: "age", text: age(now() - order.receivedAt) }) : null],
      [order.action === "order" ? "Order" : "Request", order.orderId],
      ["Battery", order.batteryVoltage],
    ]),
  );
  if (order.thingState) {
    card.append(el("p", { className: "warning thing-warning", role: "note", text: `This button is ${order.thingState} in the registry: its orders cannot be accepted${waiting ? "; reject it" : ""}.` }));
  }
  if (waiting) {
    card.append(el("p", { className: "warning overdue-note", hidden: true, text: "The button has given up waiting (it shows failed) and resends on its next press; deciding now still answers it then." }));
    const error = el("p", { className: "error", role: "alert" });
    const buttons = [];
    const actions = el("div", { className: "actions" });
    if (order.action === "order") {
      const eta = el("input", { name: "etaMin", type: "number", min: 0, max: state.settings.maxEtaMin, step: 1, value: state.settings.defaultEtaMin, "aria-label": "ETA in minutes" });
      const etaLabel = el("label", { text: "ETA " }, eta, " min");
      actions.append(decisionForm(order, "accept", "Accept", "yes", etaLabel, error, buttons));
      actions.append(decisionForm(order, "reject", "Reject", "no", reasonInput("Reason, e.g. out of dough"), error, buttons));
    } else {
      actions.append(decisionForm(order, "cancel-grant", "Grant cancel", "yes", null, error, buttons));
      actions.append(decisionForm(order, "cancel-refuse", "Refuse", "no", reasonInput("Reason, e.g. in the oven"), error, buttons));
    }
    card.append(actions, error);
    updateAge(card);
  }
  return card;
}

/** The live age of a waiting card, and the mark once the button's own wait (giveUpMs) has passed. */
function updateAge(card) {
  const waited = now() - Number(card.dataset.receivedAt);
  const label = card.querySelector(".age");
  if (label) label.textContent = age(waited);
  const overdue = waited >= state.settings.buttonGiveUpMs;
  if (card.dataset.overdue !== String(overdue)) {
    card.dataset.overdue = String(overdue);
    const note = card.querySelector(".overdue-note");
    if (note) note.hidden = !overdue;
  }
}

async function decide(orderId, decision, body, error, buttons) {
  error.textContent = "";
  for (const b of buttons) b.disabled = true;
  try {
    const res = await fetch(`/api/orders/${encodeURIComponent(orderId)}/${decision}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(answer.error || `HTTP ${res.status}`);
    if (state.orders.get(orderId)?.status === null) state.waitingTotal = Math.max(0, state.waitingTotal - 1);
    upsert(answer.order);
  } catch (e) {
    error.textContent = e.message;
    for (const b of buttons) b.disabled = false;
  }
}

/** Places `elements` in `list` in order, moving only what is out of place (inputs keep focus and text). */
function syncList(list, elements) {
  elements.forEach((element, i) => {
    if (list.children[i] !== element) list.insertBefore(element, list.children[i] || null);
  });
  while (list.children.length > elements.length) list.lastElementChild.remove();
}

function render() {
  const all = [...state.orders.values()];
  const waiting = all
    .filter((o) => o.status === null)
    .sort((a, b) => a.receivedAt - b.receivedAt)
    .slice(0, state.settings.waitingPage);
  const done = all
    .filter((o) => o.status !== null)
    .sort((a, b) => (b.decidedAt ?? 0) - (a.decidedAt ?? 0) || b.receivedAt - a.receivedAt)
    .slice(0, state.settings.decidedShown);
  // Keep only what is shown: the page's memory does not grow with the backlog.
  const shown = new Set([...waiting, ...done].map((o) => o.orderId));
  for (const id of state.orders.keys()) if (!shown.has(id)) state.orders.delete(id);
  for (const id of state.cards.keys()) if (!shown.has(id)) state.cards.delete(id);

  const cardFor = (order) => {
    const target = order.action === "cancel" ? state.orders.get(order.cancels) : undefined;
    const signature = JSON.stringify([order.status, order.cancelledBy, order.etaMin, order.reason, order.thingState, target && target.item]);
    const cached = state.cards.get(order.orderId);
    if (cached && cached.signature === signature) return cached.element;
    const element = buildCard(order);
    state.cards.set(order.orderId, { signature, element });
    return element;
  };
  syncList($("waiting"), waiting.map(cardFor));
  syncList($("done"), done.map(cardFor));
  const total = Math.max(state.waitingTotal, waiting.length);
  const hidden = total - waiting.length;
  $("waiting-count").textContent = String(total);
  $("waiting-empty").hidden = total > 0;
  $("done-empty").hidden = done.length > 0;
  const more = $("waiting-more");
  more.hidden = hidden === 0;
  more.dataset.hidden = String(hidden);
  more.textContent = `${hidden.toLocaleString("en")} more waiting, not shown: decide the oldest first and the next ones move up.`;
  showTitle();
  // A slot freed up while more are waiting: fetch the page again (one request, however many changes).
  if (hidden > 0 && waiting.length < state.settings.waitingPage) scheduleRefetch();
}

function showTitle() {
  const total = Math.max(state.waitingTotal, 0);
  document.title = state.alerts && total > 0 ? `(${total}) Kitchen · pizza orders` : "Kitchen · pizza orders";
}

function scheduleRefetch() {
  if (state.refetch) return;
  state.refetch = setTimeout(async () => {
    try {
      const res = await fetch("/api/orders");
      if (res.ok) applySnapshot(await res.json());
    } finally {
      state.refetch = null;
    }
  }, 200);
}

function upsert(order) {
  if (!order || typeof order.orderId !== "string") return;
  state.orders.set(order.orderId, order);
  render();
}

function applySnapshot(data) {
  state.settings = data.settings;
  state.waitingTotal = data.waiting.total;
  state.clockOffset = typeof data.serverTime === "number" ? data.serverTime - Date.now() : 0;
  state.orders = new Map(data.orders.map((o) => [o.orderId, o]));
  render();
}

function showBroker(status) {
  const pill = $("broker");
  pill.dataset.state = status.connected ? "connected" : "disconnected";
  pill.textContent = status.connected ? "broker connected" : "broker unreachable: buttons wait and resend";
  pill.title = status.detail || "";
}

/** A short two-tone chime (Web Audio: no sound file to serve). */
function chime() {
  const alerts = $("alerts");
  alerts.dataset.played = String(Number(alerts.dataset.played || 0) + 1);
  const ctx = state.audio;
  if (!ctx) return;
  const t = ctx.currentTime;
  for (const [i, freq] of [880, 1320].entries()) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t + i * 0.18);
    gain.gain.exponentialRampToValueAtTime(0.3, t + i * 0.18 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.18 + 0.16);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t + i * 0.18);
    osc.stop(t + i * 0.18 + 0.17);
  }
}

function setAlerts(on) {
  state.alerts = on;
  const button = $("alerts");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? "Sound and title count: on" : "Sound and title count: off";
  if (on && !state.audio && typeof AudioContext === "function") state.audio = new AudioContext();
  if (state.audio) void (on ? state.audio.resume() : state.audio.suspend()).catch(() => undefined);
  showTitle();
}

function connect() {
  const events = new EventSource("/api/events");
  events.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    applySnapshot(data);
    const mode = $("mode");
    mode.hidden = !data.settings.autoAccept;
    mode.textContent = "auto-accept on";
    showBroker(data.broker);
  });
  events.addEventListener("order", (event) => {
    const order = JSON.parse(event.data);
    const isNew = order.status === null && !state.orders.has(order.orderId);
    upsert(order);
    if (isNew && state.alerts) chime();
  });
  events.addEventListener("waiting", (event) => {
    state.waitingTotal = JSON.parse(event.data).total;
    render();
  });
  events.addEventListener("broker", (event) => showBroker(JSON.parse(event.data)));
  events.addEventListener("error", () => {
    const pill = $("broker");
    pill.dataset.state = "offline";
    pill.textContent = "restaurant service unreachable: reconnecting…";
  });
}

$("alerts").addEventListener("click", () => setAlerts(!state.alerts));
setAlerts(false);
// Ages tick every second; only the shown cards (one page) are touched.
setInterval(() => {
  for (const card of $("waiting").children) updateAge(card);
}, 1000);
// The registry may revoke a thing while its order waits: refresh the shown page now and then.
setInterval(scheduleRefetch, 30000);
connect();
