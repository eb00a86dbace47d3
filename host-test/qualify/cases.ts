// The qualification cases: AWS IoT Device Advisor's TLS and MQTT checks, run locally against a case
// server on loopback, plus the product's own rule (one press = at most one order row). Each case says what
// it sets up, what the device must do, and records the evidence; docs in docs/qualification.md.
import { decodeOrder } from "../../modules/core/messages";
import { DHE_RSA_SUITES, ECDHE_RSA_AES_GCM, parseClientHello, suiteName } from "./client-hello";
import type { ServerCertKind } from "./case-pki";
import { catchClientHello, type CaseServer } from "./case-server";
import { connack, payloadSizeForPacket, PINGRESP, publish } from "./mqtt-wire";
import type { CaseContext, QualificationCase } from "./runner";

/** Timer slack the device may show against its own settings, measured from the server side. */
const EARLY_MS = 5;

function gapsBetween(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

function list(values: number[]): string {
  return values.map((v) => `${Math.round(v)}`).join(", ");
}

/** The orderId of every order the device published, in order ("?" for a payload without one). */
function publishedOrderIds(server: CaseServer): string[] {
  return server.packets("publish").map(({ packet }) => {
    if (packet.cmd !== "publish") return "?";
    try {
      const id = (JSON.parse(Buffer.from(packet.payload).toString("utf8")) as { orderId?: unknown }).orderId;
      return typeof id === "string" ? id : "?";
    } catch {
      return "?";
    }
  });
}

/**
 * Delays from each connection's close to the next TCP connection: the device's backoff as the broker sees
 * it (the time it spends waiting, not connecting).
 */
function reconnectDelays(server: CaseServer): number[] {
  const c = server.connections;
  return c.slice(1).map((next, i) => next.tcpAt - (c[i]!.closedAt ?? next.tcpAt));
}

/** Backoff settings for cases that check for the absence of a retry loop: short windows, short wait. */
const NO_LOOP = { backoffBaseMs: 200, backoffCapMs: 400 };
const NO_LOOP_WAIT_MS = 1_500; // several full backoff windows: a retry loop would show here

/** How each connection's TLS ended, as the server saw it. */
function tlsEnds(server: CaseServer): string {
  return (
    server.connections
      .map((c) => (c.tlsError ? `aborted in the handshake (${c.tlsError})` : c.secureAt !== undefined ? "handshake completed, then closed by the device" : "closed during the handshake, no alert seen by the server"))
      .join("; ") || "no connection"
  );
}

/** One press against a server whose TLS the device must refuse. */
function refusedServer(id: string, cert: ServerCertKind, title: string): QualificationCase {
  return {
    id,
    group: "TLS",
    title,
    async run(ctx) {
      const server = await ctx.server({ cert });
      const device = await ctx.startDevice(server, NO_LOOP);
      const outcome = await ctx.press(device);
      await ctx.sleep(NO_LOOP_WAIT_MS);
      const sent = server.connections.flatMap((c) => c.packets);
      ctx.check("no MQTT packet over the untrusted connection", sent.length === 0, `${sent.length} packet(s)`);
      ctx.check("the device hung up", server.connections.length > 0 && server.connections.every((c) => c.closedBy === "device"), tlsEnds(server));
      ctx.check("LED auth-error, after one attempt, no retry loop", outcome.outcome === "auth-error" && server.connections.length === 1, `outcome ${outcome.outcome}, ${server.connections.length} TCP connection(s)`, { advisory: true });
      ctx.check("no order row", server.rows.size === 0, `${server.rows.size} row(s)`);
    },
  };
}

/** One press against a well-behaved server; returns the server for the MQTT checks. */
async function goodSession(ctx: CaseContext, cert: ServerCertKind = "good"): Promise<{ server: CaseServer; outcome: Awaited<ReturnType<CaseContext["press"]>> }> {
  const server = await ctx.server({ cert });
  const device = await ctx.startDevice(server);
  const outcome = await ctx.press(device);
  return { server, outcome };
}

export const CASES: QualificationCase[] = [
  {
    id: "tls-connect",
    group: "TLS",
    title: "TLS connect: mutual TLS 1.2 with the trusted broker, order acknowledged",
    async run(ctx) {
      const { server, outcome } = await goodSession(ctx);
      const first = server.connections.find((c) => c.secureAt !== undefined);
      ctx.check("handshake completed with TLS 1.2", first?.protocol === "TLSv1.2", `${first?.protocol ?? "no handshake"} ${first?.cipher ?? ""}`);
      ctx.check("forward-secret key exchange (ECDHE)", /^ECDHE/.test(first?.cipher ?? ""), first?.cipher ?? "none", { advisory: true });
      ctx.check("order acknowledged: LED ok", outcome.outcome === "ok", `outcome ${outcome.outcome}`);
      ctx.check("one order row", server.rows.size === 1, `${server.rows.size} row(s)`);
    },
  },
  refusedServer("tls-wrong-name", "wrong-name", "TLS incorrect subject name: server certificate whose SAN does not name the host is refused"),
  refusedServer("tls-other-ca", "other-ca", "TLS unsecure server certificate: one from another CA is refused"),
  refusedServer("tls-expired", "expired", "TLS expired server certificate is refused"),
  refusedServer("tls-not-yet-valid", "not-yet-valid", "TLS server certificate not yet valid is refused"),
  {
    id: "tls-intermediate",
    group: "TLS",
    title: "TLS server chain with an intermediate CA is accepted",
    async run(ctx) {
      const { server, outcome } = await goodSession(ctx, "intermediate");
      ctx.check("handshake completed through the intermediate", server.connections.some((c) => c.secureAt !== undefined), server.connections.map((c) => c.tlsError ?? c.protocol ?? "?").join("; "));
      ctx.check("order acknowledged: LED ok", outcome.outcome === "ok", `outcome ${outcome.outcome}`);
      ctx.check("one order row", server.rows.size === 1, `${server.rows.size} row(s)`);
    },
  },
  {
    id: "tls-large-chain",
    group: "TLS",
    title: "TLS large server chain (RSA-4096 leaf + intermediate, 120 SANs, ~8 KB): completes, or fails cleanly",
    async run(ctx) {
      const identity = await ctx.pki.server("large-chain");
      ctx.note(`chain sent by the server: ${identity.chainBytes} bytes DER`);
      const server = await ctx.server({ cert: "large-chain" });
      const device = await ctx.startDevice(server, { ackTimeoutMs: 15_000, giveUpMs: 30_000 });
      const outcome = await ctx.press(device, 60_000);
      const memory = await device.memoryPeak();
      if (memory) ctx.note(memory);
      const alive = await device.alive();
      const completed = server.connections.some((c) => c.secureAt !== undefined) && outcome.outcome === "ok";
      ctx.check("device still running and answering after the handshake", alive, alive ? "answers" : "crashed or hung");
      ctx.check("a clean result: an outcome, LED pattern shown", ["ok", "auth-error", "failed"].includes(outcome.outcome), `outcome ${outcome.outcome}`);
      ctx.check(
        "completed the handshake and the order",
        completed,
        completed ? "completed" : `failed cleanly: outcome ${outcome.outcome}; ${server.connections.map((c) => c.tlsError ?? "no TLS error at the server").join("; ")}`,
        { advisory: true },
      );
      ctx.check("at most one order row", server.rows.size <= 1, `${server.rows.size} row(s)`);
    },
  },
  {
    id: "tls-max-fragment",
    group: "TLS",
    title: "TLS receive maximum size fragment: a 16 KB record on the ack topic is ignored, the next good ack is taken",
    async run(ctx) {
      let oversizedBytes = 0;
      const server = await ctx.server({
        cert: "good",
        behaviour: {
          onOrder(session, _packet, orderId) {
            if (!orderId) return;
            // A message carrying the order's id and "rejected", padded to exactly one full TLS record
            // (16384 bytes of plaintext): the device must drop it as oversized, not act on it.
            const head = JSON.stringify({ v: 1, orderId, status: "rejected", reason: "" }).slice(0, -2);
            const size = payloadSizeForPacket(server.acksTopic, 16_384);
            const payload = Buffer.from(`${head}${"x".repeat(size - head.length - 2)}"}`);
            const packet = publish(server.acksTopic, payload);
            oversizedBytes = packet.length;
            session.send(packet, `PUBLISH ${server.acksTopic}, ${packet.length} bytes in one TLS record ("rejected", oversized)`);
            setTimeout(() => session.send(server.ack(orderId), `ack ${orderId} accepted (the good one)`), 300);
          },
        },
      });
      const device = await ctx.startDevice(server);
      const outcome = await ctx.press(device);
      ctx.check("the oversized message was sent as one 16384-byte record", oversizedBytes === 16_384, `${oversizedBytes} bytes`);
      ctx.check("oversized message ignored, good ack taken: LED ok", outcome.outcome === "ok", `outcome ${outcome.outcome}`);
      ctx.check("on the same connection, no resend", server.connections.length === 1 && outcome.attempts === 1, `${server.connections.length} connection(s), attempts ${outcome.attempts ?? "?"}`);
      ctx.check("one order row", server.rows.size === 1, `${server.rows.size} row(s)`);
    },
  },
  {
    id: "tls-client-hello",
    group: "TLS",
    title: "TLS cipher suites: the ClientHello offers ECDHE-RSA-AES-GCM and no DHE_RSA",
    async run(ctx) {
      const catcher = await catchClientHello(ctx.now);
      try {
        const device = await ctx.startDevice(catcher);
        const pressed = ctx.press(device).catch(() => undefined); // the listener hangs up after the hello
        const captured = await Promise.race([catcher.hello, ctx.sleep(15_000).then(() => undefined)]);
        if (!captured) {
          ctx.check("ClientHello received", false, "no ClientHello within 15 s");
          return;
        }
        const hello = parseClientHello(captured.bytes);
        if (!hello) {
          ctx.check("ClientHello readable", false, `${captured.bytes.length} bytes, not a complete ClientHello`);
          return;
        }
        ctx.note(`ClientHello (${captured.bytes.length} bytes), version 0x${hello.version.toString(16)}, suites: ${hello.cipherSuites.map(suiteName).join(" ")}`);
        const gcm = hello.cipherSuites.filter((s) => ECDHE_RSA_AES_GCM.has(s));
        const dhe = hello.cipherSuites.filter((s) => DHE_RSA_SUITES.has(s));
        const versions = hello.supportedVersions ?? [hello.version];
        ctx.check("offers an AWS IoT recommended ECDHE-RSA-AES-GCM suite", gcm.length > 0, gcm.map(suiteName).join(", ") || "none");
        ctx.check("offers no DHE_RSA suite", dhe.length === 0, dhe.map(suiteName).join(", ") || "none");
        ctx.check("offers TLS 1.2 and nothing older", versions.includes(0x0303) && versions.every((v) => v >= 0x0303), versions.map((v) => `0x${v.toString(16)}`).join(", "));
        await Promise.race([pressed, ctx.sleep(3_000)]);
      } finally {
        await catcher.close();
      }
    },
  },
  {
    id: "tls-old-version",
    group: "TLS",
    title: "TLS 1.0/1.1-only server is refused",
    async run(ctx) {
      const server = await ctx.server({ cert: "good", tls: { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT:@SECLEVEL=0" } });
      const device = await ctx.startDevice(server, NO_LOOP);
      const outcome = await ctx.press(device);
      await ctx.sleep(NO_LOOP_WAIT_MS);
      const established = server.connections.filter((c) => c.secureAt !== undefined);
      ctx.check("no TLS 1.0/1.1 session established", established.length === 0, established.length ? established.map((c) => c.protocol).join(", ") : tlsEnds(server));
      ctx.check("no MQTT CONNECT", server.packets("connect").length === 0, `${server.packets("connect").length} CONNECT(s)`);
      ctx.check("LED auth-error, after one attempt, no retry loop", outcome.outcome === "auth-error" && server.connections.length === 1, `outcome ${outcome.outcome}, ${server.connections.length} TCP connection(s)`, { advisory: true });
    },
  },
  {
    id: "mqtt-connect",
    group: "MQTT",
    title: "MQTT connect: client id = thing name, a keep-alive, MQTT 3.1.1",
    async run(ctx) {
      const { server } = await goodSession(ctx);
      const connect = server.packets("connect")[0]?.packet;
      if (connect?.cmd !== "connect") {
        ctx.check("CONNECT received", false, "none");
        return;
      }
      ctx.check("client id = thing name", connect.clientId === ctx.thingName, `clientId ${connect.clientId}, thing ${ctx.thingName}`);
      ctx.check("keep-alive set (> 0 s)", connect.keepalive > 0, `${connect.keepalive} s`);
      ctx.check("MQTT 3.1.1 (protocol MQTT, level 4)", connect.protocolId === "MQTT" && connect.protocolVersion === 4, `${connect.protocolId} level ${connect.protocolVersion}`);
      ctx.check("no username (the certificate is the identity)", connect.username === undefined, connect.username ?? "none", { advisory: true });
    },
  },
  {
    id: "mqtt-subscribe",
    group: "MQTT",
    title: "MQTT subscribe: exactly its ack topic",
    async run(ctx) {
      const { server } = await goodSession(ctx);
      const filters = server.packets("subscribe").flatMap((p) => (p.packet.cmd === "subscribe" ? p.packet.subscriptions.map((f) => f.topic) : []));
      ctx.check("subscribes to exactly its ack topic, once, without wildcards", filters.length === 1 && filters[0] === server.acksTopic, `${filters.join(", ") || "nothing"} (expected ${server.acksTopic})`);
    },
  },
  {
    id: "mqtt-publish",
    group: "MQTT",
    title: "MQTT publish: exactly its order topic, a valid order",
    async run(ctx) {
      const { server } = await goodSession(ctx);
      const publishes = server.packets("publish").map((p) => p.packet).filter((p) => p.cmd === "publish");
      ctx.check("publishes only to its order topic", publishes.length > 0 && publishes.every((p) => p.topic === server.ordersTopic), `${publishes.map((p) => p.topic).join(", ") || "nothing"} (expected ${server.ordersTopic})`);
      const decoded = publishes.map((p) => decodeOrder(new Uint8Array(p.payload)));
      ctx.check("payload is a valid order of this thing", decoded.length > 0 && decoded.every((d) => d.ok && d.value.serialNumber === ctx.thingName), decoded.map((d) => (d.ok ? `${d.value.orderId} ${d.value.clickType}` : d.reason)).join("; "));
    },
  },
  {
    id: "mqtt-no-connack",
    group: "MQTT",
    title: "MQTT connect retries with jittered exponential backoff when no CONNACK comes (two buttons, same moment)",
    async run(ctx) {
      const unanswered = 6;
      const settings = { ackTimeoutMs: 1_000, backoffBaseMs: 200, backoffCapMs: 1_600, giveUpMs: 30_000 };
      // Two factory-fresh buttons lose their broker at the same moment: jitter must keep them apart.
      const servers: CaseServer[] = [];
      for (let i = 0; i < 2; i++) {
        servers.push(
          await ctx.server({
            cert: "good",
            behaviour: {
              onConnect(session) {
                if (session.record.connectIndex! > unanswered) session.send(connack(0), "CONNACK 0 (accepted, at last)");
              },
            },
          }),
        );
      }
      const devices = await Promise.all(servers.map((server) => ctx.startDevice(server, settings)));
      const outcomes = await Promise.all(devices.map((device) => ctx.press(device, 40_000)));
      const delays = servers.map((server) => reconnectDelays(server).slice(0, unanswered));
      servers.forEach((server, i) =>
        ctx.note(`button ${i + 1}: retry delays (device closed → next TCP connection) ${list(delays[i]!)} ms; CONNECT to CONNECT ${list(gapsBetween(server.packets("connect").map((p) => p.at)))} ms`),
      );
      const [a, b] = delays as [number[], number[]];
      const connects = servers.map((server) => server.packets("connect").length);
      ctx.check(`at least ${unanswered} unanswered attempts, then connected`, connects.every((n) => n >= unanswered + 1), `${connects.join(" and ")} CONNECT(s)`);
      const all = [...a, ...b];
      ctx.check(`no retry sooner than backoffBaseMs (${settings.backoffBaseMs} ms)`, a.length > 0 && all.every((d) => d >= settings.backoffBaseMs - EARLY_MS), `shortest ${Math.min(...all)} ms`);
      // Lock-step: most steps equal within timer noise (a loaded machine may stretch one step or two).
      const together = a.filter((d, i) => b[i] !== undefined && Math.abs(d - b[i]!) <= Math.max(25, 0.05 * d)).length;
      const lockstep = a.length > 2 && together >= Math.ceil((2 * a.length) / 3);
      const constant = a.length > 2 && a.every((d) => Math.abs(d - a[0]!) <= 0.03 * a[0]!);
      ctx.check("jittered: the two buttons do not retry in lock-step, nor at fixed intervals", !lockstep && !constant, lockstep ? `the same delays at ${together} of ${a.length} steps` : constant ? "all delays equal" : `the same at ${together} of ${a.length} steps`);
      ctx.check("exponential: later waits go beyond the first window (2 × base)", all.some((d, i) => i % unanswered >= 2 && d > 2 * settings.backoffBaseMs), `${list(a.slice(2))} / ${list(b.slice(2))} ms`, { advisory: true });
      ctx.check("orders acknowledged once connected: LED ok", outcomes.every((o) => o.outcome === "ok"), outcomes.map((o) => o.outcome).join(", "));
      ctx.check("one order row per press", servers.every((s) => s.rows.size === 1), servers.map((s) => `${s.rows.size} row(s)`).join(", "));
    },
  },
  {
    id: "mqtt-server-disconnect",
    group: "MQTT",
    title: "MQTT reconnect backoff after the server disconnects; the pending order is resent with the same orderId",
    async run(ctx) {
      const drops = 2;
      const settings = { ackTimeoutMs: 3_000, backoffBaseMs: 300, backoffCapMs: 1_600, giveUpMs: 20_000 };
      const server = await ctx.server({
        cert: "good",
        behaviour: {
          onOrder(session, _packet, orderId) {
            if (session.record.connectIndex! <= drops) session.drop("after CONNACK and the order, before any ack");
            else if (orderId) session.send(server.ack(orderId), `ack ${orderId} accepted`);
          },
        },
      });
      const device = await ctx.startDevice(server, settings);
      const outcome = await ctx.press(device);
      const orderIds = publishedOrderIds(server);
      const delays = reconnectDelays(server);
      ctx.note(`reconnect delays (server dropped → next TCP connection): ${list(delays)} ms; orderIds: ${orderIds.join(", ")}`);
      ctx.check(`reconnected after each of the ${drops} drops`, server.packets("connect").length >= drops + 1, `${server.packets("connect").length} CONNECT(s)`);
      ctx.check(`reconnects wait at least backoffBaseMs (${settings.backoffBaseMs} ms)`, delays.length >= drops && delays.every((d) => d >= settings.backoffBaseMs - EARLY_MS), `shortest ${delays.length ? Math.min(...delays) : "-"} ms`);
      ctx.check("the pending order resent with the same orderId", orderIds.length >= drops + 1 && orderIds.every((id) => id === orderIds[0]), orderIds.join(", "));
      ctx.check("order acknowledged: LED ok", outcome.outcome === "ok", `outcome ${outcome.outcome}`);
      ctx.check("one order row", server.rows.size === 1, `${server.rows.size} row(s)`);
    },
  },
  {
    id: "mqtt-no-ack",
    group: "MQTT",
    title: "No ack: resend with the same orderId until giveUp, then LED failed; the next press resends it",
    async run(ctx) {
      const settings = { ackTimeoutMs: 1_000, backoffBaseMs: 200, backoffCapMs: 800, giveUpMs: 5_000 };
      let answering = false;
      const server = await ctx.server({
        cert: "good",
        behaviour: {
          onOrder(session, _packet, orderId) {
            if (answering && orderId) session.send(server.ack(orderId), `ack ${orderId} accepted`);
          },
        },
      });
      const device = await ctx.startDevice(server, settings);
      const pressedAt = ctx.now();
      const outcome = await ctx.press(device);
      const tookMs = outcome.at - pressedAt;
      const before = server.packets("publish").length;
      await ctx.sleep(2 * settings.backoffCapMs);
      const ids = publishedOrderIds(server);
      ctx.check("resent more than once, always the same orderId", before >= 2 && ids.every((id) => id === ids[0]), `${before} PUBLISH(es): ${[...new Set(ids)].join(", ")}`);
      ctx.check("gave up: outcome failed, LED failed", outcome.outcome === "failed" && device.leds().some((l) => l.pattern === "failed"), `outcome ${outcome.outcome}; LED ${device.leds().map((l) => l.pattern).join(" → ")}`);
      ctx.check(
        `gave up at giveUpMs (${settings.giveUpMs} ms), not before`,
        tookMs >= settings.giveUpMs - EARLY_MS && tookMs <= settings.giveUpMs + 2_000,
        `${tookMs} ms from the press to the outcome`,
      );
      ctx.check("silent after giving up", server.packets("publish").length === before, `${server.packets("publish").length - before} PUBLISH(es) after the outcome`);
      answering = true;
      const again = await ctx.press(device);
      const lastId = publishedOrderIds(server).at(-1);
      ctx.check("the next press resends the pending order (same orderId) and gets ok", again.outcome === "ok" && lastId === ids[0] && again.orderId === ids[0], `outcome ${again.outcome}, orderId ${again.orderId ?? "?"} (first ${ids[0] ?? "?"})`);
      ctx.check("two presses, one order row", server.rows.size === 1, `${server.rows.size} row(s)`);
    },
  },
  {
    id: "mqtt-connack-refused",
    group: "MQTT",
    title: "CONNACK refused (not authorized): LED auth-error after one attempt, no retry loop",
    async run(ctx) {
      const server = await ctx.server({ cert: "good", behaviour: { onConnect: (s) => s.send(connack(5), "CONNACK 5 (not authorized)") } });
      const device = await ctx.startDevice(server, NO_LOOP);
      const outcome = await ctx.press(device);
      await ctx.sleep(NO_LOOP_WAIT_MS);
      ctx.check("LED auth-error", outcome.outcome === "auth-error" && device.leds().some((l) => l.pattern === "auth-error"), `outcome ${outcome.outcome}`);
      ctx.check("one attempt, no retry loop", server.packets("connect").length === 1 && server.connections.length === 1, `${server.connections.length} connection(s), ${server.packets("connect").length} CONNECT(s)`);
      ctx.check("no order row", server.rows.size === 0, `${server.rows.size} row(s)`);
    },
  },
  {
    id: "mqtt-keepalive",
    group: "MQTT",
    title: "Persistent mode keep-alive: PINGREQ within the keep-alive, a silent server and a dropped link detected, reconnect",
    async run(ctx) {
      const keepaliveMs = 2_000;
      const keepaliveSec = keepaliveMs / 1_000; // what CONNECT carries
      const settings = { connectionMode: "persistent" as const, keepaliveMs, backoffBaseMs: 300, backoffCapMs: 1_600 };
      let silent = false;
      const server = await ctx.server({
        cert: "good",
        behaviour: {
          onPingreq(session) {
            if (!silent) session.send(PINGRESP, "PINGRESP");
            else ctx.note(`#${session.record.id} PINGREQ left unanswered (server gone silent)`);
          },
        },
      });
      const device = await ctx.startDevice(server, settings);
      const linked = await ctx.until(() => server.packets("subscribe").length > 0, 10_000);
      ctx.check("link up at boot (persistent mode)", linked, linked ? "subscribed" : "no SUBSCRIBE within 10 s");
      if (!linked) return;
      const connect = server.packets("connect")[0]!.packet;
      const k = connect.cmd === "connect" ? connect.keepalive : 0;
      ctx.check(`CONNECT keep-alive is the configured ${keepaliveSec} s`, k === keepaliveSec, `${k} s`);
      await ctx.sleep(3 * keepaliveSec * 1_000);
      const first = server.connections[0]!;
      const times = first.packets.map((p) => p.at);
      const pings = first.packets.filter((p) => p.packet.cmd === "pingreq").length;
      const longest = Math.max(...gapsBetween([...times, ctx.now()]));
      ctx.note(`link 1: ${pings} PINGREQ in ${3 * keepaliveSec} s idle, longest silence from the device ${longest} ms`);
      ctx.check("PINGREQ sent while idle", pings >= 1, `${pings} PINGREQ`);
      ctx.check("keep-alive honoured: never silent for 1.5 × keep-alive", longest <= 1.5 * keepaliveSec * 1_000, `longest ${longest} ms`);
      ctx.check("pings within the keep-alive interval itself", longest <= keepaliveSec * 1_000 + 250, `longest ${longest} ms`, { advisory: true });

      silent = true;
      const silentAt = ctx.now();
      // The device can only notice from the last thing it received: the last PINGRESP (or SUBACK).
      const answers = server.log.filter((l) => l.at <= silentAt && (l.text.startsWith(`#${first.id} → PINGRESP`) || l.text.startsWith(`#${first.id} → SUBACK`)));
      const lastAnswer = answers.at(-1)?.at ?? silentAt;
      const detected = await ctx.until(() => first.closedAt !== undefined, 4 * keepaliveSec * 1_000);
      const detectMs = (first.closedAt ?? ctx.now()) - lastAnswer;
      ctx.check(
        "a silent server detected: the device drops the link within 2.5 × keep-alive",
        detected && first.closedBy === "device" && detectMs <= 2.5 * keepaliveSec * 1_000,
        detected ? `closed by the ${first.closedBy} ${detectMs} ms after the server's last packet` : "the link was never dropped",
      );
      silent = false;
      const relinked = await ctx.until(() => server.packets("subscribe").length > 1, 10_000);
      const delay = reconnectDelays(server)[0];
      ctx.check("reconnected with backoff", relinked && delay !== undefined && delay >= settings.backoffBaseMs - EARLY_MS, relinked ? `after ${delay} ms` : "no new link within 10 s");
      if (!relinked) return;

      // The server side hangs up (a broker restart): the device notices at once and comes back after backoff.
      const dropped = server.connections.filter((c) => c.packets.some((p) => p.packet.cmd === "subscribe")).at(-1)!;
      server.dropAll("broker restart");
      const back = await ctx.until(() => server.packets("subscribe").length > 2, 10_000);
      const next = server.connections.find((c) => c.id > dropped.id);
      const wait = next && dropped.closedAt !== undefined ? next.tcpAt - dropped.closedAt : undefined;
      ctx.check(
        "a server-side drop detected: reconnected with backoff",
        back && wait !== undefined && wait >= settings.backoffBaseMs - EARLY_MS,
        back ? `reconnected ${wait} ms after the drop` : "no new link within 10 s",
      );
      if (!back) return;
      const outcome = await ctx.press(device);
      ctx.check("a press on the new link: LED ok", outcome.outcome === "ok" && outcome.attempts === 1, `outcome ${outcome.outcome}, attempts ${outcome.attempts ?? "?"}`);
      ctx.check("one order row", server.rows.size === 1, `${server.rows.size} row(s)`);
    },
  },
];
