// The setup page as a pure handler over a store: what it shows, what it saves, what it refuses.
import { describe, expect, it } from "vitest";
import { SetupPage } from "../../../modules/core/setup-page";
import { readStoredSettings, SETUP_STORE_KEY, setupReasonAtBoot, withStored } from "../../../modules/core/setup-settings";
import { utf8Encode } from "../../../modules/core/utf8";
import { validateButtonSettings } from "../../../modules/core/settings";
import { MemoryLog, MemoryStore } from "./fakes";

const BASE = { "mqtt.host": "broker.example", "mqtt.port": 8883, "wifi.ssid": "", "wifi.password": "" };
const HOST = "192.168.4.1";

function page(store = new MemoryStore()) {
  const log = new MemoryLog();
  return { store, log, page: new SetupPage({ base: BASE, store, log, allowedHosts: [HOST], reason: "no-wifi" }) };
}
const get = (p: SetupPage, path: string) => p.handle({ method: "GET", path, headers: { host: HOST } });
const post = (p: SetupPage, value: unknown, headers: Record<string, string> = {}) => {
  const body = utf8Encode(typeof value === "string" ? value : JSON.stringify(value));
  return p.handle({ method: "POST", path: "/settings", headers: { host: HOST, "content-type": "application/json", "content-length": String(body.length), ...headers }, body });
};
const bodyOf = (r: { body: string }) => JSON.parse(r.body);

describe("SetupPage", () => {
  it("serves the page and its script with a strict CSP, no framing, no caching", () => {
    const { page: p } = page();
    const html = get(p, "/");
    expect(html.status).toBe(200);
    expect(html.body).toContain('<form id="setup">');
    expect(html.body).toMatch(/^[\x00-\x7f]*$/);
    const headers = Object.fromEntries(html.headers.flatMap((v, i, a) => (i % 2 ? [] : [[v, a[i + 1]]])));
    expect(headers["content-security-policy"]).toContain("default-src 'none'");
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["cache-control"]).toBe("no-store");
    expect(get(p, "/setup.js").status).toBe(200);
    expect(get(p, "/nothing").status).toBe(404);
  });

  it("shows the current settings but never the Wi-Fi password", () => {
    const { page: p, store } = page();
    store.write(SETUP_STORE_KEY, JSON.stringify({ "wifi.ssid": "kitchen", "wifi.password": "correct-horse" }));
    const shown = bodyOf(get(p, "/settings"));
    expect(shown.values).toMatchObject({ "wifi.ssid": "kitchen", "mqtt.host": "broker.example", "mqtt.port": "8883" });
    expect(JSON.stringify(shown)).not.toContain("correct-horse");
    store.write(SETUP_STORE_KEY, JSON.stringify({ "item.single": "caf\u00e9 \u{1f355}" }));
    const accented = get(p, "/settings").body;
    expect(accented).toMatch(/^[\x00-\x7f]*$/); // ASCII on the wire, the same text once parsed
    expect(JSON.parse(accented).values["item.single"]).toBe("caf\u00e9 \u{1f355}");
    expect(shown.secretsSet).toEqual({ "wifi.password": true });
    expect(shown.reason).toBe("no-wifi");
  });

  it("saves a valid form over the build-time values; an empty password keeps the saved one", () => {
    const { page: p, store, log } = page();
    const saved = post(p, { "wifi.ssid": "kitchen", "wifi.password": "correct-horse", "mqtt.port": "8884" });
    expect(saved).toMatchObject({ status: 200, saved: true });
    expect(post(p, { "wifi.password": "", "mqtt.host": "other.example" })).toMatchObject({ status: 200 });
    const stored = readStoredSettings(store, log);
    expect(stored).toEqual({ "wifi.ssid": "kitchen", "wifi.password": "correct-horse", "mqtt.port": "8884", "mqtt.host": "other.example" });
    const merged = validateButtonSettings(withStored(BASE, stored), { unknownKeys: "ignore" });
    expect(merged.ok && merged.value.mqtt).toMatchObject({ host: "other.example", port: 8884 });
  });

  it("refuses, saving nothing: keys outside setup (identity, CA, TLS), schema errors, no Wi-Fi, junk bodies", () => {
    const { page: p, store } = page();
    for (const form of [
      { "wifi.ssid": "kitchen", tls: "{}" },
      { "wifi.ssid": "kitchen", "mqtt.serverName": "evil.example" },
      { "wifi.ssid": "kitchen", "setup.password": "12345678" },
      { "wifi.ssid": "kitchen", "mqtt.port": "99999" },
      { "wifi.ssid": "kitchen", "wifi.password": "short" },
      { "wifi.ssid": "kitchen", thing: "bad/thing" },
      { "mqtt.port": "8883" }, // no Wi-Fi network
      { "wifi.ssid": 5 },
      [],
    ]) {
      const r = post(p, form);
      expect(r.status, JSON.stringify(form)).toBe(400);
      expect(bodyOf(r).errors.length).toBeGreaterThan(0);
    }
    expect(post(p, "{not json").status).toBe(400);
    expect(store.read(SETUP_STORE_KEY)).toBeUndefined();
  });

  it("applies the web-attack rules before anything else (foreign Host, cross-site POST, size)", () => {
    const { page: p, store } = page();
    const good = { "wifi.ssid": "kitchen" };
    expect(p.handle({ method: "GET", path: "/settings", headers: { host: "evil.example" } }).status).toBe(403);
    expect(post(p, good, { origin: "http://evil.example" }).status).toBe(403);
    expect(post(p, good, { "content-type": "text/plain" }).status).toBe(415);
    expect(post(p, { "wifi.ssid": "x".repeat(3000) }).status).toBe(413);
    expect(store.read(SETUP_STORE_KEY)).toBeUndefined();
  });

  it("an unreadable saved record is reported and the build-time values are used", () => {
    const { store, log } = page();
    store.write(SETUP_STORE_KEY, "{broken");
    expect(readStoredSettings(store, log)).toEqual({});
    expect(log.has(/unreadable/)).toBe(true);
  });

  it("setup mode at boot: button held, or no Wi-Fi where one is needed", () => {
    expect(setupReasonAtBoot({ wifiRequired: true, ssid: "", heldAtBoot: false })).toBe("no-wifi");
    expect(setupReasonAtBoot({ wifiRequired: true, ssid: "kitchen", heldAtBoot: true })).toBe("button-held");
    expect(setupReasonAtBoot({ wifiRequired: true, ssid: "kitchen", heldAtBoot: false })).toBeUndefined();
    expect(setupReasonAtBoot({ wifiRequired: false, ssid: "", heldAtBoot: false })).toBeUndefined();
  });
});
