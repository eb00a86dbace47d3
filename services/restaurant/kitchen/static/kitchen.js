// The kitchen page: a live list of orders from /api/events (server-sent events) and the staff's decisions
// posted to /api/orders/:id/<decision> as JSON. Text from buttons is only ever set with textContent.
"use strict";

const state = {
  orders: new Map(), // orderId → order view
  settings: { defaultEtaMin: 25, autoAccept: false, maxReasonChars: 100, maxEtaMin: 600 },
  cards: new Map(), // orderId → { signature, element }
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** What the status badge says, and its colour. */
function statusOf(order) {
  switch (order.status) {
    case null:
      return order.action === "order" ? ["waiting", "warn"] : ["cancel requested", "warn"];
    case "accepted":
      return order.cancelledBy ? [`accepted · ETA ${order.etaMin} min · then cancelled`, "bad"] : [`accepted · ETA ${order.etaMin} min`, "ok"];
    case "rejected":
      return [`rejected · ${order.reason}`, "bad"];
    case "cancelled":
      return ["cancel granted", "ok"];
    case "cancel-refused":
      return [`cancel refused · ${order.reason}`, "bad"];
    default:
      return [String(order.status), ""];
  }
}

function titleOf(order) {
  if (order.action === "order") return el("span", { className: "what", text: order.item });
  const target = state.orders.get(order.cancels);
  return el("span", { className: "what", text: "Cancel " }, el("small", { text: target && target.item ? `${target.item} (${order.cancels})` : order.cancels }));
}

function meta(pairs) {
  const list = el("dl", { className: "meta" });
  for (const [term, value] of pairs) if (value !== null && value !== undefined) list.append(el("div", {}, el("dt", { text: term }), el("dd", { text: value })));
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
  const card = el("li", {
    className: "card",
    "data-order-id": order.orderId,
    "data-action": order.action,
    "data-status": order.status === null ? "waiting" : order.status,
  });
  card.append(titleOf(order), el("span", { className: "status", "data-tone": tone, text: statusText }));
  card.append(
    meta([
      ["Button", order.thing],
      ["Click", order.clickType],
      ["Time", time(order.receivedAt)],
      [order.action === "order" ? "Order" : "Request", order.orderId],
      ["Battery", order.batteryVoltage],
    ]),
  );
  if (order.status === null) {
    const error = el("p", { className: "error", role: "alert" });
    const buttons = [];
    const actions = el("div", { className: "actions" });
    if (order.action === "order") {
      const eta = el("input", { name: "etaMin", type: "number", min: 0, max: state.settings.maxEtaMin, step: 1, value: state.settings.defaultEtaMin, "aria-label": "ETA in minutes" });
      const etaLabel = el("label", { text: "ETA " }, eta, document.createTextNode(" min"));
      actions.append(decisionForm(order, "accept", "Accept", "yes", etaLabel, error, buttons));
      actions.append(decisionForm(order, "reject", "Reject", "no", reasonInput("Reason, e.g. out of dough"), error, buttons));
    } else {
      actions.append(decisionForm(order, "cancel-grant", "Grant cancel", "yes", null, error, buttons));
      actions.append(decisionForm(order, "cancel-refuse", "Refuse", "no", reasonInput("Reason, e.g. in the oven"), error, buttons));
    }
    card.append(actions, error);
  }
  return card;
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
  const waiting = all.filter((o) => o.status === null).sort((a, b) => a.receivedAt - b.receivedAt);
  const done = all
    .filter((o) => o.status !== null)
    .sort((a, b) => (b.decidedAt ?? 0) - (a.decidedAt ?? 0) || b.receivedAt - a.receivedAt)
    .slice(0, 100);
  const cardFor = (order) => {
    const target = order.action === "cancel" ? state.orders.get(order.cancels) : undefined;
    const signature = JSON.stringify([order.status, order.cancelledBy, order.etaMin, order.reason, target && target.item]);
    const cached = state.cards.get(order.orderId);
    if (cached && cached.signature === signature) return cached.element;
    const element = buildCard(order);
    state.cards.set(order.orderId, { signature, element });
    return element;
  };
  syncList($("waiting"), waiting.map(cardFor));
  syncList($("done"), done.map(cardFor));
  $("waiting-count").textContent = String(waiting.length);
  $("waiting-empty").hidden = waiting.length > 0;
  $("done-empty").hidden = done.length > 0;
  document.title = waiting.length > 0 ? `(${waiting.length}) Kitchen · pizza orders` : "Kitchen · pizza orders";
}

function upsert(order) {
  if (!order || typeof order.orderId !== "string") return;
  state.orders.set(order.orderId, order);
  render();
}

function showBroker(status) {
  const pill = $("broker");
  pill.dataset.state = status.connected ? "connected" : "disconnected";
  pill.textContent = status.connected ? "broker connected" : "broker unreachable: buttons wait and resend";
  pill.title = status.detail || "";
}

function connect() {
  const events = new EventSource("/api/events");
  events.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    state.settings = data.settings;
    state.orders = new Map(data.orders.map((o) => [o.orderId, o]));
    const mode = $("mode");
    mode.hidden = !data.settings.autoAccept;
    mode.textContent = "auto-accept on";
    showBroker(data.broker);
    render();
  });
  events.addEventListener("order", (event) => upsert(JSON.parse(event.data)));
  events.addEventListener("broker", (event) => showBroker(JSON.parse(event.data)));
  events.addEventListener("error", () => {
    const pill = $("broker");
    pill.dataset.state = "offline";
    pill.textContent = "restaurant service unreachable: reconnecting…";
  });
}

connect();
