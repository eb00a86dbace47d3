// The setup page (docs/setup.md) as a pure request → response function, so the SDK's HTTP server on the
// ESP32 and on the headless build serve the same thing, and Node tests can drive it directly.
//
//   GET  /            the page (HTML)              GET /setup.js  its script
//   GET  /settings    { values, secretsSet, reason }: the current setup settings, never the Wi-Fi password
//   POST /settings    a JSON object of setup keys → 200 { saved: true } (the host restarts into normal mode)
//                     · 400 { errors } when the schema refuses it (nothing saved)
// Every request first passes checkRequest (request-check.ts): Host allow-list, JSON-only same-origin POST,
// body size. Errors are { "error": "…" }. The page sets no cookie and holds no session: whoever reaches it
// (on the ESP32: whoever joined the WPA2 setup access point) may set it up.

import type { Log, Store } from "./ports";
import { checkRequest, type RequestFacts } from "./request-check";
import type { RawSettings } from "./settings";
import { applySetupForm, publicSettings, readStoredSettings, SETUP_STORE_KEY, withStored, type SetupReason } from "./setup-settings";
import { utf8Decode } from "./utf8";

export const SETUP_MAX_BODY_BYTES = 2048;

export interface SetupRequest extends RequestFacts {
  path: string;
  body?: Uint8Array;
}

export interface SetupResponse {
  status: number;
  /** Name, value, name, value, … (the SDK's HTTP server takes them so). */
  headers: string[];
  /** ASCII only (JSON escapes the rest), so its length is its byte length: no encoding copy on a small heap. */
  body: string;
  /** The settings were saved: restart once this response has gone out. */
  saved?: boolean;
}

export interface SetupPageOptions {
  /** Build-time settings (the defaults under what is saved). */
  base: RawSettings;
  store: Store;
  log: Log;
  allowedHosts: readonly string[];
  reason: SetupReason;
}

const SECURITY_HEADERS = [
  "cache-control", "no-store",
  "x-content-type-options", "nosniff",
  "x-frame-options", "DENY",
  "referrer-policy", "no-referrer",
  "content-security-policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
];

export class SetupPage {
  private readonly options: SetupPageOptions;

  constructor(options: SetupPageOptions) {
    this.options = options;
  }

  /** The head alone (before any body is read): a refusal, or undefined to go on. */
  refuse(request: RequestFacts): SetupResponse | undefined {
    const refusal = checkRequest(request, { allowedHosts: this.options.allowedHosts, maxBodyBytes: SETUP_MAX_BODY_BYTES });
    return refusal ? json(refusal.status, { error: refusal.error }) : undefined;
  }

  handle(request: SetupRequest): SetupResponse {
    const refused = this.refuse(request);
    if (refused) return refused;
    const method = request.method.toUpperCase();
    const path = request.path.split("?")[0];
    if (method === "POST") {
      if (path !== "/settings") return json(404, { error: `no ${path}` });
      return this.save(request.body ?? new Uint8Array(0));
    }
    switch (path) {
      case "/":
        return text(200, "text/html; charset=utf-8", PAGE_HTML);
      case "/setup.js":
        return text(200, "text/javascript; charset=utf-8", PAGE_SCRIPT);
      case "/settings": {
        const { base, store, log, reason } = this.options;
        return json(200, { ...publicSettings(withStored(base, readStoredSettings(store, log))), reason });
      }
      default:
        return json(404, { error: `no ${path}` });
    }
  }

  private save(body: Uint8Array): SetupResponse {
    const { base, store, log } = this.options;
    if (body.length > SETUP_MAX_BODY_BYTES) return json(413, { error: `body larger than ${SETUP_MAX_BODY_BYTES} bytes` });
    const textBody = utf8Decode(body);
    if (textBody === undefined) return json(400, { error: "the body is not UTF-8" });
    let form: unknown;
    try {
      form = JSON.parse(textBody);
    } catch {
      return json(400, { error: "the body is not JSON" });
    }
    const result = applySetupForm(base, readStoredSettings(store, log), form);
    if (!result.ok) {
      log.warn(`setup: refused: ${result.errors.join("; ")}`);
      return json(400, { errors: result.errors });
    }
    try {
      store.write(SETUP_STORE_KEY, JSON.stringify(result.stored));
    } catch (e) {
      log.error(`setup: cannot save: ${e instanceof Error ? e.message : String(e)}`);
      return json(500, { error: "the settings could not be saved" });
    }
    log.info(`setup: saved ${Object.keys(result.stored).join(", ")}`);
    return { ...json(200, { saved: true }), saved: true };
  }
}

function text(status: number, type: string, body: string): SetupResponse {
  return { status, headers: ["content-type", type, ...SECURITY_HEADERS], body };
}

/** JSON with every non-ASCII character escaped (\uXXXX): still the same JSON, and ASCII. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${`000${c.charCodeAt(0).toString(16)}`.slice(-4)}`);
}

function json(status: number, value: unknown): SetupResponse {
  return text(status, "application/json", asciiJson(value));
}

const FIELDS: readonly [key: string, label: string, type: string][] = [
  ["wifi.ssid", "Wi-Fi network", "text"],
  ["wifi.password", "Wi-Fi password", "password"],
  ["mqtt.host", "Broker host", "text"],
  ["mqtt.port", "Broker port", "number"],
  ["thing", "Thing name (empty: the certificate's)", "text"],
  ["item.single", "Item for a single press", "text"],
  ["item.double", "Item for a double press", "text"],
];

const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pizza button setup</title>
<style>body{font-family:sans-serif;max-width:28em;margin:1em auto;padding:0 1em}label{display:block;margin-top:.8em}
input{width:100%;padding:.4em;font-size:1em;box-sizing:border-box}button{margin-top:1.2em;padding:.6em 1.2em;font-size:1em}
#status{margin-top:1em}.error{color:#b00}</style></head>
<body><h1>Pizza button setup</h1><p id="reason"></p>
<form id="setup">${FIELDS.map(([key, label, type]) => `<label for="${key}">${label}</label><input id="${key}" name="${key}" type="${type}" autocomplete="off">`).join("")}
<button type="submit" id="save">Save and restart</button></form>
<div id="status" role="status"></div>
<script src="/setup.js"></script></body></html>
`;

// Plain ES5-level script: the phone's browser, not ours. textContent only (no HTML from data).
const PAGE_SCRIPT = `"use strict";
var REASONS = {"no-wifi": "No Wi-Fi is set up yet.", "button-held": "Setup mode: the button was held at power-on.", "wifi-failed": "The button could not join the Wi-Fi: check its name and password."};
var form = document.getElementById("setup"), statusBox = document.getElementById("status"); // not "status": window.status is a string
function show(lines, isError) {
  statusBox.textContent = "";
  statusBox.className = isError ? "error" : "";
  lines.forEach(function (line) { var p = document.createElement("p"); p.textContent = line; statusBox.appendChild(p); });
}
fetch("/settings").then(function (r) { return r.json(); }).then(function (s) {
  Object.keys(s.values).forEach(function (key) { var input = document.getElementById(key); if (input) input.value = s.values[key]; });
  var pw = document.getElementById("wifi.password");
  pw.placeholder = s.secretsSet["wifi.password"] ? "(saved: leave empty to keep it)" : "";
  document.getElementById("reason").textContent = REASONS[s.reason] || "";
});
form.addEventListener("submit", function (event) {
  event.preventDefault();
  var body = {};
  Array.prototype.forEach.call(form.elements, function (input) { if (input.name) body[input.name] = input.value; });
  fetch("/settings", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
    .then(function (r) { return r.json().then(function (answer) { return {ok: r.ok, answer: answer}; }); })
    .then(function (result) {
      if (result.ok) show(["Saved. The button restarts and joins the Wi-Fi."], false);
      else show(result.answer.errors || [result.answer.error], true);
    }, function () { show(["The button did not answer."], true); });
});
`;
