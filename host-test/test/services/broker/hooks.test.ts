// The aedes hooks over real parts: identities from certificates the project's PKI issues at test time (read
// from a real TLS handshake), the real CONNECT decision and registry, the product's authorizer and the real
// publish limiter. aedes is not started: the hooks are called as aedes calls them, with its callbacks.
import type { AedesPublishPacket, Client, PublishPacket, Subscription } from "aedes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { thingTopicAuthorizer } from "../../../../services/broker/authorizer";
import type { BrokerEvent, BrokerStats } from "../../../../services/broker/broker";
import { connectDecider } from "../../../../services/broker/connect-decision";
import { AuthorizationRefusal, createHooks } from "../../../../services/broker/hooks";
import type { Peer } from "../../../../services/broker/peer";
import { DEFAULT_PUBLISH_LIMIT, PublishLimiter } from "../../../../services/broker/publish-limit";
import { createTestPki, type TestPki, type ThingTls } from "./fixtures";
import { peerFor } from "./peer-fixture";

const authorizer = thingTopicAuthorizer({ topicPrefix: "pizza" });

function newStats(): BrokerStats {
  return { tlsAccepted: 0, tlsRefused: 0, connects: 0, refused: 0, publishes: 0, publishesDenied: 0, subscribesDenied: 0, receivesDenied: 0, oversized: 0, connectionsRefused: 0, withdrawn: 0 };
}

describe("broker hooks", () => {
  let pki: TestPki;
  let button: ThingTls;
  beforeAll(async () => {
    pki = await createTestPki("hooks");
    button = await pki.thing("pizza-button-01");
  });
  afterAll(() => pki.remove());

  /** A fresh broker context with one client whose connection carries the button's certificate. */
  async function setup(connect: Peer["connect"] = { clientId: "pizza-button-01", will: undefined }) {
    const peers = new WeakMap<Client, Peer>();
    const events: BrokerEvent[] = [];
    const stats = newStats();
    const hooks = createHooks({
      peers,
      authorizer,
      stats,
      emit: (event) => events.push(event),
      decideConnect: connectDecider({ authorizer, identify: (fp) => pki.pki.certificateBinding(fp) }),
      publishLimiter: new PublishLimiter(DEFAULT_PUBLISH_LIMIT),
    });
    // aedes's Client: the hooks read its id, closed flag, will and connackSent.
    const client = { id: connect?.clientId ?? "", closed: false, connackSent: true } as unknown as Client;
    const peer = await peerFor(pki, button);
    peers.set(client, peer);
    hooks.preConnect(client, { clientId: connect!.clientId, ...(connect?.will ? { will: connect.will } : {}) }, () => undefined);
    return { hooks, client, peer, events, stats };
  }

  const authenticate = (ctx: Awaited<ReturnType<typeof setup>>) =>
    new Promise<{ err: (Error & { returnCode?: number }) | null; ok: boolean }>((resolve) => ctx.hooks.authenticate(ctx.client, undefined, undefined, (err, ok) => resolve({ err, ok })));
  const publish = (ctx: Awaited<ReturnType<typeof setup>>, topic: string, extra: Partial<PublishPacket> = {}) =>
    new Promise<Error | null | undefined>((resolve) =>
      ctx.hooks.authorizePublish(ctx.client, { cmd: "publish", topic, payload: Buffer.from("{}"), qos: 1, messageId: 1, retain: false, dup: false, ...extra } as PublishPacket, resolve),
    );
  const subscribe = (ctx: Awaited<ReturnType<typeof setup>>, topic: string) =>
    new Promise<Subscription | null | undefined>((resolve) => ctx.hooks.authorizeSubscribe(ctx.client, { topic, qos: 1 } as Subscription, (_err, granted) => resolve(granted)));

  it("authenticate: a registered certificate connects (CONNACK 0), its fingerprint in the event", async () => {
    const ctx = await setup();
    expect(await authenticate(ctx)).toEqual({ err: null, ok: true });
    expect(ctx.stats.connects).toBe(1);
    expect(ctx.events).toContainEqual(expect.objectContaining({ event: "connect", clientId: "pizza-button-01", cn: "pizza-button-01", fingerprint256: ctx.peer.fingerprint256 }));
  });

  it("authenticate: a refusal answers CONNACK 5 (not authorized) with the reason, logged once", async () => {
    const ctx = await setup({ clientId: "pizza-button-02", will: undefined });
    const { err, ok } = await authenticate(ctx);
    expect(ok).toBe(false);
    expect(err).toBeInstanceOf(AuthorizationRefusal);
    expect(err?.returnCode).toBe(5);
    expect(err?.message).toBe("client id must equal certificate CN");
    expect(ctx.stats.refused).toBe(1);
    expect(ctx.events.filter((e) => e.event === "refused")).toEqual([expect.objectContaining({ clientId: "pizza-button-02", reason: "client id must equal certificate CN" })]);
  });

  it("authorizePublish: the own orders topic passes; another thing's topic disconnects, and so is everything after it", async () => {
    const ctx = await setup();
    await authenticate(ctx);
    expect(await publish(ctx, "pizza/orders/pizza-button-01")).toBeNull();
    expect(ctx.stats.publishes).toBe(1);
    const denied = await publish(ctx, "pizza/orders/pizza-button-02");
    expect(denied).toBeInstanceOf(AuthorizationRefusal);
    expect(ctx.peer).toMatchObject({ closing: true, closeReason: "publish denied" });
    expect(ctx.events).toContainEqual(expect.objectContaining({ event: "publish-denied", topic: "pizza/orders/pizza-button-02", action: "disconnect" }));
    const after = await publish(ctx, "pizza/orders/pizza-button-01");
    expect(after?.message).toMatch(/client is being disconnected$/);
    expect(ctx.stats.publishesDenied).toBe(2);
  });

  it("authorizePublish: the broker's $SYS topics and a retained publish (iot:RetainPublish) are refused", async () => {
    const sys = await setup();
    await authenticate(sys);
    expect((await publish(sys, "$SYS/x/new/clients"))?.message).toMatch(/topic reserved for the broker$/);
    const retained = await setup();
    await authenticate(retained);
    expect((await publish(retained, "pizza/orders/pizza-button-01", { retain: true }))?.message).toMatch(/retained publish \(iot:RetainPublish\): the product never retains messages$/);
  });

  it("authorizePublish: a denied will is only dropped, the client is not marked (it is gone already)", async () => {
    const ctx = await setup();
    await authenticate(ctx);
    const will = { cmd: "publish", topic: "pizza/acks/pizza-button-01", payload: Buffer.from("bye"), qos: 0, retain: false, dup: false } as PublishPacket;
    (ctx.client as Client & { will?: unknown }).will = will;
    const err = await new Promise<Error | null | undefined>((resolve) => ctx.hooks.authorizePublish(ctx.client, will, resolve));
    expect(err).toBeInstanceOf(AuthorizationRefusal);
    expect(ctx.peer.closing).toBe(false);
    expect(ctx.events).toContainEqual(expect.objectContaining({ event: "publish-denied", will: true }));
  });

  it("authorizePublish: nobody without an authenticated identity may publish", async () => {
    const ctx = await setup();
    expect((await publish(ctx, "pizza/orders/pizza-button-01"))?.message).toMatch(/no authenticated client$/);
  });

  it("authorizeSubscribe: the own acks topic is granted; another's gets 0x80 (null) and the client is marked for disconnect", async () => {
    const ctx = await setup();
    await authenticate(ctx);
    expect(await subscribe(ctx, "pizza/acks/pizza-button-01")).toEqual({ topic: "pizza/acks/pizza-button-01", qos: 1 });
    expect(await subscribe(ctx, "pizza/acks/+")).toBeNull();
    expect(ctx.peer).toMatchObject({ closing: true, closeReason: "subscribe denied" });
    expect(ctx.stats.subscribesDenied).toBe(1);
  });

  it("authorizeSubscribe: a refused subscription restored before CONNACK is only dropped", async () => {
    const ctx = await setup();
    await authenticate(ctx);
    (ctx.client as Client & { connackSent: boolean }).connackSent = false;
    expect(await subscribe(ctx, "pizza/orders/+")).toBeNull();
    expect(ctx.peer.closing).toBe(false);
    expect(ctx.events).toContainEqual(expect.objectContaining({ event: "subscribe-denied", restored: true }));
  });

  it("authorizeForward: the own acks are delivered, another thing's are dropped, even while the client is closing", async () => {
    const ctx = await setup();
    await authenticate(ctx);
    const packet = (topic: string) => ({ cmd: "publish", topic, payload: Buffer.from("{}"), qos: 0, retain: false, dup: false }) as unknown as AedesPublishPacket;
    const own = packet("pizza/acks/pizza-button-01");
    ctx.peer.closing = true;
    expect(ctx.hooks.authorizeForward(ctx.client, own)).toBe(own);
    expect(ctx.hooks.authorizeForward(ctx.client, packet("pizza/acks/pizza-button-02"))).toBeNull();
    expect(ctx.stats.receivesDenied).toBe(1);
  });
});
