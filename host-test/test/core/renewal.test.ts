import { describe, expect, it } from "vitest";
import { createButton, RENEWAL_CHECK_MS } from "../../../modules/core/button";
import { defaultConfig } from "../../../modules/core/config";
import { base64Decode, base64Encode, readCertificate } from "../../../modules/core/der";
import { decodeOrder, encodeAck } from "../../../modules/core/messages";
import {
  CertificateRenewal,
  decodeRenewalAnswer,
  decodeRenewalRequest,
  encodeRenewalAnswer,
  RENEWED_CERT_KEY,
  type RenewalEvent,
} from "../../../modules/core/renewal";
import { utf8Decode } from "../../../modules/core/utf8";
import { certificate, type FakeCert } from "./der-builder";
import { FakeConnector, FakeTimers, MemoryLog, MemoryStore, RecordingLed, type FakeConnection } from "./fakes";
import { acksOf, ordersOf, renewOf, renewedOf } from "../support/topics";

const DAY = 86_400_000;
const NOW = Date.UTC(2027, 2, 1);
const THING = "pizza-button-01";
/** The provisioned certificate: 30 days left, inside the 60-day window. */
const OLD: FakeCert = { serial: [0x11, 0x22], issuer: "Device CA", subject: THING, key: [1, 2, 3, 4], notBefore: NOW - 700 * DAY, notAfter: NOW + 30 * DAY };
const GOOD: FakeCert = { ...OLD, serial: [0x33, 0x44], notBefore: NOW - 5 * 60_000, notAfter: NOW + 730 * DAY };

function setup(opts: { provisioned?: FakeCert; now?: number; windowDays?: number } = {}) {
  const timers = new FakeTimers(opts.now ?? NOW);
  const store = new MemoryStore();
  const connector = new FakeConnector();
  const log = new MemoryLog();
  const events: RenewalEvent[] = [];
  const renewal = new CertificateRenewal({
    thingName: THING,
    topicPrefix: "pizza",
    provisioned: certificate(opts.provisioned ?? OLD),
    timers,
    clock: timers,
    store,
    connector,
    log,
    random: () => 0.5,
    retryBaseMs: 60_000,
    ...(opts.windowDays !== undefined ? { windowDays: opts.windowDays } : {}),
    onEvent: (e) => events.push(e),
  });
  return { timers, store, connector, log, events, renewal };
}

const answer = (cert: FakeCert) => encodeRenewalAnswer({ status: "issued", cert: base64Encode(certificate(cert)) });
const requestOf = (c: FakeConnection) => decodeRenewalRequest(c.published[0]!.payload);

describe("CertificateRenewal", () => {
  it("outside the window it does nothing", () => {
    const s = setup({ provisioned: { ...OLD, notAfter: NOW + 90 * DAY } });
    expect(s.renewal.due()).toBe(false);
    s.renewal.run();
    expect(s.connector.connections).toHaveLength(0);
  });

  it("with the clock unset it does nothing (a 1970 clock would make every certificate look fresh or dead)", () => {
    const s = setup({ now: 1_000 });
    s.renewal.run();
    expect(s.connector.connections).toHaveLength(0);
  });

  it("inside the window: asks on its own topic with its serial, checks and stores the answer, presents it from then on", () => {
    const s = setup();
    expect(s.renewal.due()).toBe(true);
    s.renewal.run();
    const c = s.connector.last!;
    expect(c.subscribe).toBe(renewedOf(THING));
    c.ready();
    expect(c.published[0]!.topic).toBe(renewOf(THING));
    expect(requestOf(c)).toEqual({ ok: true, value: { v: 1, serial: "1122" } });
    c.deliver(renewedOf(THING), answer(GOOD));
    expect(c.closedByCore).toBe(true);
    expect(Array.from(base64Decode(s.store.read(RENEWED_CERT_KEY)!)!)).toEqual(Array.from(certificate(GOOD)));
    expect(Array.from(s.renewal.current())).toEqual(Array.from(certificate(GOOD)));
    expect(s.renewal.due()).toBe(false);
    expect(s.events.map((e) => e.step)).toEqual(["asking", "renewed"]);
    s.renewal.run();
    expect(s.connector.connections).toHaveLength(1);
  });

  it.each([
    ["a different public key (a forged certificate for another key)", { key: [6, 6, 6, 6] }, /different public key/],
    ["a different subject", { subject: "pizza-button-02" }, /different subject/],
    ["a different issuer", { issuer: "Someone Else CA" }, /different issuer/],
    ["an end no later than the old one", { notAfter: OLD.notAfter }, /does not end later/],
    ["an expired certificate", { notBefore: NOW - 10 * DAY, notAfter: NOW - DAY }, /already expired/],
    ["a certificate not valid yet", { notBefore: NOW + DAY }, /not valid yet/],
  ])("refuses %s, keeps the old certificate and retries later with backoff", (_what, change, reason) => {
    const s = setup();
    s.renewal.run();
    s.connector.last!.ready();
    s.connector.last!.deliver(renewedOf(THING), answer({ ...GOOD, ...change }));
    expect(s.store.read(RENEWED_CERT_KEY)).toBeUndefined();
    expect(Array.from(s.renewal.current())).toEqual(Array.from(certificate(OLD)));
    const failed = s.events.find((e) => e.step === "failed") as Extract<RenewalEvent, { step: "failed" }>;
    expect(failed.reason).toMatch(reason);
    expect(failed.retryInMs).toBe(90_000); // in [60 s, 120 s): 60 s + 0.5 × 60 s
    s.renewal.run(); // still inside the retry delay
    expect(s.connector.connections).toHaveLength(1);
    s.timers.advance(90_000);
    s.renewal.run();
    expect(s.connector.connections).toHaveLength(2);
  });

  it("refuses bytes that are not a certificate, and bad answers", () => {
    const s = setup();
    for (const payload of [encodeRenewalAnswer({ status: "issued", cert: "AAAA" }), encodeRenewalAnswer({ status: "issued", cert: "not base64!" }), new Uint8Array([0x7b])]) {
      s.timers.advance(7 * 3_600_000);
      s.renewal.run();
      s.connector.last!.ready();
      s.connector.last!.deliver(renewedOf(THING), payload);
      expect(s.connector.last!.closedByCore).toBe(true);
    }
    expect(s.events.filter((e) => e.step === "failed").map((e) => (e as { reason: string }).reason)).toEqual([
      "the certificate in the answer was refused: not a DER certificate",
      "bad answer: cert is not base64",
      "bad answer: not JSON",
    ]);
    expect(s.store.read(RENEWED_CERT_KEY)).toBeUndefined();
  });

  it("a refusal, no answer, or a dropped connection keep the old certificate; the retry delay grows", () => {
    const s = setup();
    s.renewal.run();
    s.connector.last!.ready();
    s.connector.last!.deliver(renewedOf(THING), encodeRenewalAnswer({ status: "refused", reason: "thing-not-active" }));
    s.timers.advance(90_000);
    s.renewal.run();
    s.connector.last!.ready();
    s.timers.advance(20_000); // no answer
    s.timers.advance(150_000);
    s.renewal.run();
    s.connector.last!.drop("network", "reset");
    const failures = s.events.filter((e): e is Extract<RenewalEvent, { step: "failed" }> => e.step === "failed");
    expect(failures.map((f) => f.reason)).toEqual(["refused: thing-not-active", "no answer from the renewal service", "connection closed before the answer (reset)"]);
    expect(failures.map((f) => f.retryInMs)).toEqual([90_000, 150_000, 270_000]);
    expect(s.store.read(RENEWED_CERT_KEY)).toBeUndefined();
    expect(s.log.has(/keeping the certificate in use/)).toBe(true);
  });

  it("ignores messages on other topics while waiting", () => {
    const s = setup();
    s.renewal.run();
    s.connector.last!.ready();
    s.connector.last!.deliver(renewedOf("pizza-button-02"), answer(GOOD));
    expect(s.connector.last!.open).toBe(true);
  });

  it("a stored certificate that does not match the provisioned key is not used", () => {
    const s = setup();
    s.store.write(RENEWED_CERT_KEY, base64Encode(certificate({ ...GOOD, key: [7, 7, 7, 7] })));
    expect(Array.from(s.renewal.current())).toEqual(Array.from(certificate(OLD)));
    s.store.write(RENEWED_CERT_KEY, "garbage");
    expect(Array.from(s.renewal.current())).toEqual(Array.from(certificate(OLD)));
    expect(s.log.has(/does not match the provisioned one/)).toBe(true);
  });

  it("answers and requests have strict decoders", () => {
    expect(decodeRenewalRequest(new TextEncoderish('{"v":1,"serial":"ZZ"}').bytes).ok).toBe(false);
    expect(decodeRenewalRequest(new TextEncoderish('{"v":2,"serial":"aa"}').bytes).ok).toBe(false);
    expect(decodeRenewalAnswer(new TextEncoderish('{"v":1,"status":"maybe"}').bytes).ok).toBe(false);
    expect(decodeRenewalAnswer(new TextEncoderish("[]").bytes).ok).toBe(false);
  });
});

/** ASCII only, without TextEncoder (absent on XS). */
class TextEncoderish {
  readonly bytes: Uint8Array;
  constructor(text: string) {
    this.bytes = new Uint8Array(Array.from(text, (c) => c.charCodeAt(0)));
  }
}

describe("renewal in createButton", () => {
  function button(mode: "on-demand" | "persistent" | "battery" = "on-demand") {
    const timers = new FakeTimers(NOW);
    const store = new MemoryStore();
    const connector = new FakeConnector();
    const log = new MemoryLog();
    connector.onConnect = (c) => timers.set(() => c.ready(), 5);
    connector.onPublish = (c, topic, payload) => {
      if (topic === ordersOf(THING)) {
        const order = decodeOrder(payload);
        if (order.ok) timers.set(() => c.deliver(acksOf(THING), encodeAck({ v: 1, orderId: order.value.orderId, status: "accepted", etaMin: 20 })), 5);
      }
    };
    const renewal = new CertificateRenewal({ thingName: THING, topicPrefix: "pizza", provisioned: certificate(OLD), timers, clock: timers, store, connector, log });
    const sleeps: number[] = [];
    const b = createButton(
      { ...defaultConfig, thingName: THING, connectionMode: mode },
      { timers, clock: timers, led: new RecordingLed(timers), store, connector, log, renewal, ...(mode === "battery" ? { sleep: () => sleeps.push(timers.now()) } : {}) },
    );
    return { timers, store, connector, b, sleeps, renewal };
  }

  it("renews after the order's outcome, on a connection of its own, once the order's has closed", () => {
    const s = button();
    s.b.start();
    s.b.click("SINGLE");
    s.timers.advance(20);
    const [order, renew] = s.connector.connections;
    expect(order!.subscribe).toBe(acksOf(THING));
    expect(order!.closedByCore).toBe(true);
    expect(renew!.subscribe).toBe(renewedOf(THING));
    expect(renew!.published.map((p) => p.topic)).toEqual([renewOf(THING)]);
    expect(utf8Decode(renew!.published[0]!.payload)).toBe('{"v":1,"serial":"1122"}');
    renew!.deliver(renewedOf(THING), answer(GOOD));
    expect(readCertificate(base64Decode(s.store.read(RENEWED_CERT_KEY)!)!)!.serial).toBe("3344");
  });

  it("a click while renewing: the renewal gives way at once, the order goes through", () => {
    const s = button();
    s.b.start();
    s.b.click("SINGLE");
    s.timers.advance(20);
    const renew = s.connector.connections[1]!;
    s.b.click("DOUBLE");
    expect(renew.closedByCore).toBe(true);
    s.timers.advance(20);
    const third = s.connector.connections[2]!;
    expect(third.subscribe).toBe(acksOf(THING));
    expect(third.published.map((p) => p.topic)).toEqual([ordersOf(THING)]);
    expect(s.store.read(RENEWED_CERT_KEY)).toBeUndefined();
  });

  it("persistent: the link steps aside for the renewal (one connection per client id), then comes back presenting the new certificate", () => {
    const s = button("persistent");
    s.b.start();
    s.timers.advance(5); // the link comes up; idle and due: it is taken down for the renewal
    const [link, renew] = s.connector.connections;
    expect(link!.subscribe).toBe(acksOf(THING));
    expect(link!.closedByCore).toBe(true);
    expect(renew!.subscribe).toBe(renewedOf(THING));
    expect(s.connector.openConnections).toEqual([renew]); // never two at once
    s.timers.advance(5);
    expect(renew!.published.map((p) => p.topic)).toEqual([renewOf(THING)]);
    renew!.deliver(renewedOf(THING), answer(GOOD));
    expect(renew!.closedByCore).toBe(true);
    s.timers.advance(5);
    const back = s.connector.connections[2]!;
    expect(back.subscribe).toBe(acksOf(THING));
    expect(back.isReady).toBe(true);
    expect(Array.from(s.renewal.current())).toEqual(Array.from(certificate(GOOD))); // what the host presents on it
    // Renewed: no further attempt; orders go over the link that came back.
    s.timers.advance(60_000);
    expect(s.connector.connections).toHaveLength(3);
    s.b.click("SINGLE");
    s.timers.advance(20);
    expect(back.published.map((p) => p.topic)).toEqual([ordersOf(THING)]);
    expect(s.b.flow.state).toBe("idle");
  });

  it("persistent: a link that stays up and is never pressed still checks, every RENEWAL_CHECK_MS, whether it is due", () => {
    const timers = new FakeTimers(NOW);
    const connector = new FakeConnector();
    connector.onConnect = (c) => timers.set(() => c.ready(), 5);
    const runs: number[] = [];
    // A renewal that is not due at first and becomes due later (the clock reaching the window).
    const renewal = {
      wanted: false,
      busy: false,
      run(onDone?: () => void): boolean {
        runs.push(timers.now());
        timers.set(() => onDone?.(), 10); // answered: the link comes back
        return true;
      },
      abort(): void {},
    };
    const b = createButton(
      { ...defaultConfig, thingName: THING, connectionMode: "persistent" },
      { timers, clock: timers, led: new RecordingLed(timers), store: new MemoryStore(), connector, log: new MemoryLog(), renewal },
    );
    b.start();
    timers.advance(RENEWAL_CHECK_MS);
    expect(runs).toEqual([]); // not due: nothing happens, the link stays up
    expect(connector.connections).toHaveLength(1);
    renewal.wanted = true;
    timers.advance(RENEWAL_CHECK_MS);
    expect(runs).toEqual([NOW + 2 * RENEWAL_CHECK_MS]); // the next check renews, with no press and no reconnect
    renewal.wanted = false;
    timers.advance(100);
    expect(connector.openConnections).toHaveLength(1); // the link came back after the attempt
    b.stop();
    expect(timers.pendingCount).toBe(0); // stop() clears the periodic check
  });

  it("persistent: a click during the renewal gets the link back at once; a failed renewal brings the link back and waits its backoff", () => {
    const s = button("persistent");
    s.b.start();
    s.timers.advance(10);
    const renew = s.connector.connections[1]!;
    expect(renew.subscribe).toBe(renewedOf(THING));
    s.b.click("SINGLE");
    expect(renew.closedByCore).toBe(true);
    s.timers.advance(20);
    const order = s.connector.connections[2]!;
    expect(order.subscribe).toBe(acksOf(THING));
    expect(order.published.map((p) => p.topic)).toEqual([ordersOf(THING)]);
    expect(s.b.flow.state).toBe("idle");
    expect(order.open).toBe(true); // the persistent link stays up: the renewal waits out its retry delay
    expect(s.connector.connections).toHaveLength(3);

    // After the delay, the next outcome tries again; a refusal brings the link straight back.
    s.timers.advance(10 * 60_000);
    s.b.click("SINGLE");
    s.timers.advance(20);
    const again = s.connector.connections[3]!;
    expect(again.subscribe).toBe(renewedOf(THING));
    expect(order.closedByCore).toBe(true);
    again.deliver(renewedOf(THING), encodeRenewalAnswer({ status: "refused", reason: "thing-not-active" }));
    s.timers.advance(10);
    const back = s.connector.connections[4]!;
    expect(back.subscribe).toBe(acksOf(THING));
    expect(back.isReady).toBe(true);
    expect(s.store.read(RENEWED_CERT_KEY)).toBeUndefined();
    s.timers.advance(30_000); // inside the retry delay: the link stays up, no new attempt
    expect(s.connector.connections).toHaveLength(5);
  });

  it("battery: awake until the renewal has its answer, then deep sleep; the order's outcome came first", () => {
    const s = button("battery");
    s.b.start();
    s.b.click("SINGLE");
    s.timers.advance(20);
    const [order, renew] = s.connector.connections;
    expect(order!.closedByCore).toBe(true);
    expect(s.b.flow.state).toBe("idle"); // the outcome is in before the renewal begins
    expect(renew!.published.map((p) => p.topic)).toEqual([renewOf(THING)]);
    s.timers.advance(15_000); // long after the LED and the idle time: still awake, the answer is awaited
    expect(s.sleeps).toEqual([]);
    const answeredAt = s.timers.now();
    renew!.deliver(renewedOf(THING), answer(GOOD));
    s.timers.advance(5_000);
    expect(s.store.read(RENEWED_CERT_KEY)).toBeDefined();
    expect(s.sleeps).toHaveLength(1);
    expect(s.sleeps[0]!).toBeGreaterThan(answeredAt);
  });

  it("battery: no answer keeps it awake only until the answer timeout, then it sleeps with the old certificate", () => {
    const s = button("battery");
    s.b.start();
    s.b.click("SINGLE");
    s.timers.advance(20);
    const renew = s.connector.connections[1]!;
    expect(renew.subscribe).toBe(renewedOf(THING));
    s.timers.advance(19_000);
    expect(s.sleeps).toEqual([]);
    s.timers.advance(5_000);
    expect(renew.closedByCore).toBe(true);
    expect(s.sleeps).toHaveLength(1);
    expect(s.store.read(RENEWED_CERT_KEY)).toBeUndefined();
  });
});
