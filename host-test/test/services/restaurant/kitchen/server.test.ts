// The kitchen server over a real restaurant on the real embedded broker (TLS on loopback): a plain MQTT
// client with the device's certificate places orders and reads acks, and the test speaks raw HTTP to the
// page's API, including what a hostile page in the same browser would send.
import http from "node:http";
import net from "node:net";
import path from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningBroker } from "../../../../../services/broker/broker";
import { startKitchen, type KitchenServer } from "../../../../../services/restaurant/kitchen/server";
import { startRestaurant, type Restaurant } from "../../../../../services/restaurant/restaurant";
import { holdForKitchen } from "../../../../../services/restaurant/service";
import {
  collectMessages,
  connectRaw,
  credentialsOf,
  devPki,
  removeDir,
  startTestBroker,
  tempDir,
  waitFor,
} from "../../../integration/fixtures";
import { acksOf, ordersOf } from "../../../support/topics";
import { collectFrames } from "../../../support/event-stream";

const THING = "pizza-button-01";

let dir: string;
let broker: RunningBroker;
let restaurant: Restaurant;
let kitchen: KitchenServer;
let button: MqttClient;
let acks: ReturnType<typeof collectMessages>;
let seq = 0;

beforeAll(async () => {
  dir = tempDir("kitchen");
  const dev = await devPki(dir);
  broker = await startTestBroker(dev);
  restaurant = await startRestaurant({
    brokerUrl: broker.url,
    ...credentialsOf(dev.restaurant),
    dbPath: path.join(dir, "orders.db"),
    decide: holdForKitchen,
    etaMin: 25,
  });
  kitchen = await startKitchen({
    backend: {
      order: (id) => restaurant.order(id),
      waiting: (page) => restaurant.waiting(page),
      recentlyDecided: (limit) => restaurant.recentlyDecided(limit),
      settle: async (id, decision) => {
        const stored = await restaurant.settle(id, decision);
        kitchen.orderChanged(stored);
        return stored;
      },
    },
    port: 0,
    defaultEtaMin: 25,
  });
  button = await connectRaw(broker.url, THING, credentialsOf(dev.device));
  await button.subscribeAsync(acksOf(THING), { qos: 1 });
  acks = collectMessages(button);
});

afterAll(async () => {
  await button?.endAsync(true);
  await kitchen?.close();
  await restaurant?.close();
  await broker?.close();
  removeDir(dir);
});

/** The button publishes a message; resolves once the restaurant holds it for a decision. */
async function place(fields: Record<string, unknown> = {}): Promise<string> {
  seq++;
  const orderId = `${THING}-${seq}`;
  const message =
    fields.action === "cancel"
      ? { serialNumber: THING, clickType: "LONG", v: 1, orderId, seq, action: "cancel", cancels: fields.cancels }
      : { serialNumber: THING, clickType: "SINGLE", v: 1, orderId, seq, action: "order", item: "margherita", ...fields };
  await button.publishAsync(ordersOf(THING), JSON.stringify(message), { qos: 1 });
  await waitFor(async () => (await restaurant.order(orderId)) !== undefined, `${orderId} at the restaurant`);
  return orderId;
}

function ackOf(orderId: string) {
  return acks.find((a) => a.json?.orderId === orderId)?.json;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

/** Raw HTTP, so the test controls every header (fetch would not let it set Host). */
function request(method: string, urlPath: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return requestTo(kitchen.port, method, urlPath, opts);
}

function requestTo(port: number, method: string, urlPath: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method, path: urlPath, headers: opts.headers ?? {} },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const sameOrigin = () => ({ "Content-Type": "application/json", Origin: `http://127.0.0.1:${kitchen.port}` });
const post = (orderId: string, decision: string, body: unknown, headers: Record<string, string> = sameOrigin()) =>
  request("POST", `/api/orders/${encodeURIComponent(orderId)}/${decision}`, { headers, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("kitchen page: static files", () => {
  it("serves the page, its script and style from the process, with a strict CSP and no framing", async () => {
    const page = await request("GET", "/");
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.text).toContain('<script src="/kitchen.js" defer></script>');
    expect(page.text).not.toMatch(/https?:\/\//); // nothing from the internet: works offline
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'; script-src 'self'");
    expect(page.headers["x-frame-options"]).toBe("DENY");
    expect((await request("GET", "/kitchen.js")).headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect((await request("GET", "/kitchen.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
    expect((await request("GET", "/../package.json")).status).toBe(404);
    expect((await request("GET", "/nothing")).json).toEqual({ error: "nothing at /nothing" });
    const wrongMethod = await request("POST", "/", { headers: sameOrigin(), body: "{}" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe("GET, HEAD");
  });
});

describe("kitchen API: decisions", () => {
  it("accept with an ETA: the button gets that ack only after the decision", async () => {
    const orderId = await place();
    const listed = await request("GET", "/api/orders");
    expect(listed.json.orders.find((o: any) => o.orderId === orderId)).toMatchObject({ thing: THING, clickType: "SINGLE", item: "margherita", status: null });
    expect(listed.json.orders[0].ack).toBeUndefined(); // the stored ack text stays inside
    expect(listed.json.settings).toMatchObject({ defaultEtaMin: 25, autoAccept: false });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ackOf(orderId)).toBeUndefined(); // held: nobody decided yet

    const reply = await post(orderId, "accept", { etaMin: 12 });
    expect(reply.status).toBe(200);
    expect(reply.json.order).toMatchObject({ orderId, status: "accepted", etaMin: 12 });
    await waitFor(() => ackOf(orderId) !== undefined, "the ack");
    expect(ackOf(orderId)).toEqual({ v: 1, orderId, status: "accepted", etaMin: 12 });
  });

  it("accept without a body uses the default ETA; reject sends the reason", async () => {
    const first = await place();
    expect((await post(first, "accept", "")).json.order.etaMin).toBe(25);
    const second = await place({ item: "pepperoni" });
    const reply = await post(second, "reject", { reason: "  out of dough  " });
    expect(reply.status).toBe(200);
    await waitFor(() => ackOf(second) !== undefined, "the rejection");
    expect(ackOf(second)).toEqual({ v: 1, orderId: second, status: "rejected", reason: "out of dough" });
  });

  it("cancel requests are held too: grant and refuse answer the button", async () => {
    const accepted = await place();
    await post(accepted, "accept", { etaMin: 20 });
    const cancel = await place({ action: "cancel", cancels: accepted });
    expect((await restaurant.order(cancel))!.status).toBeNull();
    expect((await post(cancel, "accept", {})).json).toEqual({ error: `${cancel} is a cancel request: grant or refuse it` });
    expect((await post(cancel, "cancel-grant", {})).json.order.status).toBe("cancelled");
    await waitFor(() => ackOf(cancel) !== undefined, "the cancel ack");
    expect(ackOf(cancel)).toEqual({ v: 1, orderId: cancel, status: "cancelled" });
    expect((await restaurant.order(accepted))!.cancelledBy).toBe(cancel);

    const other = await place();
    await post(other, "accept", {});
    const refused = await place({ action: "cancel", cancels: other });
    expect((await post(refused, "cancel-refuse", { reason: "already in the oven" })).status).toBe(200);
    await waitFor(() => ackOf(refused) !== undefined, "the refusal");
    expect(ackOf(refused)).toEqual({ v: 1, orderId: refused, status: "cancel-refused", reason: "already in the oven" });
  });

  it("bad input gets a clear error and changes nothing", async () => {
    const orderId = await place();
    const cases: Array<[string, unknown, number, RegExp]> = [
      ["accept", "{not json", 400, /not valid JSON/],
      ["accept", "[1]", 400, /must be a JSON object/],
      ["accept", { etaMin: -1 }, 400, /etaMin must be a whole number of minutes from 0 to 600/],
      ["accept", { etaMin: 601 }, 400, /etaMin/],
      ["accept", { etaMin: 2.5 }, 400, /etaMin/],
      ["accept", { etaMin: "10" }, 400, /etaMin/],
      ["accept", { etaMin: 10, status: "rejected" }, 400, /unexpected field "status" for accept/],
      ["reject", {}, 400, /reason is required/],
      ["reject", { reason: "   " }, 400, /must not be empty/],
      ["reject", { reason: "x".repeat(101) }, 400, /at most 100 characters/],
      ["reject", { reason: "line\nbreak" }, 400, /one line of printable text/],
      ["cancel-grant", {}, 409, /is an order: accept or reject it/],
      ["bake", {}, 404, /unknown action bake/],
    ];
    for (const [decision, body, status, message] of cases) {
      const reply = await post(orderId, decision, body);
      expect(reply.status, `${decision} ${JSON.stringify(body)}`).toBe(status);
      expect(reply.json.error).toMatch(message);
    }
    expect((await post("pizza-button-01-999", "accept", {})).status).toBe(404);
    expect((await post("bad id!", "accept", {})).json).toEqual({ error: "malformed order id" });
    expect((await request("GET", `/api/orders/${orderId}/accept`)).status).toBe(405);
    expect((await post(orderId, "reject", JSON.stringify({ reason: "x".repeat(5000) }))).status).toBe(413);
    expect((await restaurant.order(orderId))!.status).toBeNull();
    expect(ackOf(orderId)).toBeUndefined();

    await post(orderId, "accept", {});
    const again = await post(orderId, "reject", { reason: "too late" });
    expect(again.status).toBe(409);
    expect(again.json.error).toBe(`${orderId} is already accepted`);
  });
});

describe("kitchen API: only this page may decide (CSRF, DNS rebinding)", () => {
  it("refuses non-JSON bodies (what a cross-site form can send), foreign origins and foreign Host names", async () => {
    const orderId = await place();
    const form = await post(orderId, "accept", "etaMin=5", { "Content-Type": "application/x-www-form-urlencoded" });
    expect(form.status).toBe(415);
    expect((await post(orderId, "accept", "{}", { "Content-Type": "text/plain" })).status).toBe(415);
    const foreign = await post(orderId, "accept", {}, { "Content-Type": "application/json", Origin: "http://evil.example" });
    expect(foreign.status).toBe(403);
    expect(foreign.json.error).toBe("cross-origin request from http://evil.example refused");
    const crossSite = await post(orderId, "accept", {}, { "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site" });
    expect(crossSite.status).toBe(403);
    // A rebinding page on evil.example resolving to 127.0.0.1 can neither decide nor read orders.
    const rebound = await post(orderId, "accept", {}, { "Content-Type": "application/json", Host: `evil.example:${kitchen.port}`, Origin: `http://evil.example:${kitchen.port}` });
    expect(rebound.status).toBe(403);
    expect((await request("GET", "/api/orders", { headers: { Host: "evil.example" } })).status).toBe(403);
    expect((await restaurant.order(orderId))!.status).toBeNull();
    // localhost by name is this server too.
    const local = await post(orderId, "accept", {}, { "Content-Type": "application/json", Host: `localhost:${kitchen.port}`, Origin: `http://localhost:${kitchen.port}` });
    expect(local.status).toBe(200);
  });
});

describe("kitchen API: live events", () => {
  it("a snapshot on connect, then every new and decided order as it happens", async () => {
    const controller = new AbortController();
    const res = await fetch(`${kitchen.url}api/events`, { signal: controller.signal });
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const { frames, done: reading } = collectFrames(res);
    try {
      await waitFor(() => frames.length > 0, "the snapshot");
      expect(frames[0]!.event).toBe("snapshot");
      expect(frames[0]!.data.orders.length).toBe((await restaurant.orders()).length);

      // The restaurant's own events reach the page through orderChanged (the service wires them).
      const orderId = await place({ item: "funghi" });
      kitchen.orderChanged((await restaurant.order(orderId))!);
      await waitFor(() => frames.some((f) => f.event === "order" && f.data.orderId === orderId), "the new order");
      await post(orderId, "accept", { etaMin: 9 });
      await waitFor(() => frames.some((f) => f.event === "order" && f.data.orderId === orderId && f.data.status === "accepted"), "the decision");

      kitchen.brokerStatus({ connected: false, detail: "ECONNREFUSED" });
      await waitFor(() => frames.some((f) => f.event === "broker" && f.data.connected === false), "the broker status");
    } finally {
      controller.abort();
      await reading;
      kitchen.brokerStatus({ connected: true });
    }
  });
});

/** Opens GET /api/events from `localAddress` (any 127.x.y.z is this machine); resolves with the status, the stream left open. */
function openEvents(port: number, localAddress: string): Promise<{ status: number; retryAfter: string | undefined; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, localAddress, path: "/api/events", headers: { Host: "127.0.0.1" }, agent: false }, (res) => {
      if (res.statusCode !== 200) res.resume();
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], close: () => req.destroy() });
    });
    req.on("error", reject);
  });
}

describe("kitchen API: event streams are capped (8 per address, 64 in all)", () => {
  it("refuses the newest stream with 503 (Retry-After) once an address holds 8, or the page 64; open streams keep flowing", async () => {
    const open: Array<{ close(): void }> = [];
    try {
      for (let i = 0; i < 8; i++) {
        const stream = await openEvents(kitchen.port, "127.0.0.1");
        expect(stream.status).toBe(200);
        open.push(stream);
      }
      const ninth = await openEvents(kitchen.port, "127.0.0.1");
      expect(ninth.status).toBe(503);
      expect(Number(ninth.retryAfter)).toBeGreaterThan(0);
      // Another address still gets its own.
      const other = await openEvents(kitchen.port, "127.0.0.2");
      expect(other.status).toBe(200);
      open.push(other);
      // Closing one frees its place.
      open.shift()!.close();
      let again = await openEvents(kitchen.port, "127.0.0.1");
      for (let tries = 0; again.status !== 200 && tries < 50; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        again = await openEvents(kitchen.port, "127.0.0.1");
      }
      expect(again.status).toBe(200);
      open.push(again);
      // 64 in all: fill up from other addresses, the 65th is refused whatever its address.
      for (let a = 3; open.length < 64; a++) {
        for (let i = 0; i < 8 && open.length < 64; i++) {
          const stream = await openEvents(kitchen.port, `127.0.0.${a}`);
          expect(stream.status).toBe(200);
          open.push(stream);
        }
      }
      expect((await openEvents(kitchen.port, "127.0.0.200")).status).toBe(503);
      // The ordinary API still answers while the streams are full.
      expect((await fetch(`${kitchen.url}api/orders`)).status).toBe(200);
    } finally {
      for (const stream of open) stream.close();
    }
  });
});

describe("kitchen API: Host allow-list in every mode (DNS rebinding)", () => {
  /** A second kitchen on the same restaurant, listening where the test says. */
  async function kitchenOn(host: string, allowedHosts?: string[]): Promise<KitchenServer> {
    return startKitchen({ backend: restaurant, host, port: 0, defaultEtaMin: 25, ...(allowedHosts ? { allowedHosts } : {}) });
  }

  it("refuses a foreign Host with 403 also when the listen address is not a loopback name", async () => {
    // "::ffff:127.0.0.1" is loopback but not spelled as a loopback name: it stands in for 0.0.0.0 or a LAN
    // address (tests stay on loopback). A rebinding page names its own host in Host and in Origin.
    const open = await kitchenOn("::ffff:127.0.0.1");
    try {
      const orderId = await place();
      const at = (hostHeader: string, method = "GET", urlPath = "/api/orders", body?: string) =>
        requestTo(open.port, method, urlPath, { headers: { Host: hostHeader, ...(body !== undefined ? { "Content-Type": "application/json", Origin: `http://${hostHeader}` } : {}) }, ...(body !== undefined ? { body } : {}) });
      const read = await at(`evil.example:${open.port}`);
      expect(read.status).toBe(403);
      expect(read.json.error).toMatch(/Host "evil\.example:\d+" is not allowed/);
      expect((await at(`evil.example:${open.port}`, "POST", `/api/orders/${orderId}/reject`, JSON.stringify({ reason: "x" }))).status).toBe(403);
      expect((await restaurant.order(orderId))!.status).toBeNull();
      // The loopback names, and the listen address itself, are allowed by default.
      expect((await at(`127.0.0.1:${open.port}`)).status).toBe(200);
      expect((await at(`localhost:${open.port}`)).status).toBe(200);
      expect((await at(`[::ffff:127.0.0.1]:${open.port}`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });

  it("--allowed-host names are served, with their own Origin; other names are not", async () => {
    const named = await kitchenOn("127.0.0.1", ["kitchen.lan", "192.168.1.20"]);
    try {
      const get = (hostHeader: string) => requestTo(named.port, "GET", "/api/orders", { headers: { Host: hostHeader } });
      expect((await get("kitchen.lan:8080")).status).toBe(200);
      expect((await get("KITCHEN.LAN")).status).toBe(200);
      expect((await get("192.168.1.20")).status).toBe(200);
      expect((await get("127.0.0.1")).status).toBe(200);
      expect((await get("evil.example")).status).toBe(403);
      expect((await get("kitchen.lan.evil.example")).status).toBe(403);
      const orderId = await place();
      const crossOrigin = await requestTo(named.port, "POST", `/api/orders/${orderId}/accept`, {
        headers: { Host: "kitchen.lan", "Content-Type": "application/json", Origin: "http://evil.example" },
        body: "{}",
      });
      expect(crossOrigin.status).toBe(403);
      const sameOriginPost = await requestTo(named.port, "POST", `/api/orders/${orderId}/accept`, {
        headers: { Host: "kitchen.lan", "Content-Type": "application/json", Origin: "http://kitchen.lan" },
        body: "{}",
      });
      expect(sameOriginPost.status).toBe(200);
    } finally {
      await named.close();
    }
  });
});

describe("kitchen HTTP: idle, slow-header and slow-body connections are closed", () => {
  const timeouts = { idleMs: 400, headersMs: 400, requestMs: 400 };

  /** Opens a raw TCP connection, writes `bytes`, and resolves with what came back once the server closed it. */
  function heldOpen(port: number, bytes: string, waitMs = 5_000): Promise<{ closed: boolean; reply: string }> {
    return new Promise((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
      let reply = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (reply += chunk));
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ closed: false, reply });
      }, waitMs);
      socket.on("close", () => {
        clearTimeout(timer);
        resolve({ closed: true, reply });
      });
      socket.on("error", () => {});
    });
  }

  it("closes a connection that sends nothing, one that never finishes its headers, and one that never finishes its body", async () => {
    const strict = await startKitchen({ backend: restaurant, port: 0, defaultEtaMin: 25, timeouts, heartbeatMs: 100 });
    try {
      const [idle, slowHeaders, slowBody] = await Promise.all([
        heldOpen(strict.port, ""),
        heldOpen(strict.port, "GET /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "),
        heldOpen(strict.port, "POST /api/orders/pizza-button-01-1/accept HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"etaMin\""),
      ]);
      expect(idle.closed).toBe(true);
      expect(slowHeaders.closed).toBe(true);
      expect(slowBody.closed).toBe(true);
      // A finished request on a kept-alive connection is answered, then the idle connection is closed too.
      const kept = await heldOpen(strict.port, "GET /api/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      expect(kept.reply).toMatch(/^HTTP\/1\.1 200 OK/);
      expect(kept.closed).toBe(true);
    } finally {
      await strict.close();
    }
  });

  it("keeps an open event stream alive (its heartbeat is traffic)", async () => {
    const strict = await startKitchen({ backend: restaurant, port: 0, defaultEtaMin: 25, timeouts, heartbeatMs: 100 });
    try {
      const stream = await heldOpen(strict.port, "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 1_500);
      expect(stream.closed).toBe(false);
      expect(stream.reply).toContain("event: snapshot");
      expect(stream.reply).toContain(": ping");
    } finally {
      await strict.close();
    }
  });
});
