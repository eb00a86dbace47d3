// Identity at the trust boundary, against the real services over TLS on loopback: `npm run broker`
// (in-process, both rule modes) and a real mosquitto with the config host-test/mosquitto writes.
// - Service identities are reserved: only `service create` issues the restaurant, and a certificate
//   merely named "restaurant" gets none of its rights.
// - A certificate is accepted only as the certificate registered for its thing (by fingerprint), as
//   AWS IoT binds certificates to things: a bring-your-own CA cannot mint the restaurant, an existing
//   thing, or a thing the registry does not know.
// - AWS-issued certificates (CN "AWS IoT Certificate") act as the thing `import aws --name` records.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair, privateKeyToPem, signingAlgorithm, x509 } from "../../../tools/pki/crypto";
import { startMosquitto, type RunningMosquitto } from "../../mosquitto/mosquitto";
import { collect, connectClient, orderJson, sleep, tryConnect, type Received } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { runSimulate } from "../support/simulate-process";
import { mosquittoSkipReason } from "../support/test-brokers";
import { foreignCa, pkiCli, signOutsideRegistry, startBrokerServiceOn, type ForeignCa, type TestBrokerService } from "../support/trust-boundary";
import { ALL_ORDERS, ordersOf } from "../support/topics";

const A = "pizza-button-01";
const BYO = "acme-01";

let work: string;
let pki: SecurityPki;
let theirs: ForeignCa;
const id: Record<string, Credentials> = {};

/** A CSR for `cn` made outside the PKI tool (the tool's own `thing csr` refuses reserved names). */
async function csrFile(cn: string): Promise<{ csr: string; key: string }> {
  const keys = await generateKeyPair("ec");
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: signingAlgorithm("ec") as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]["signingAlgorithm"] });
  const file = path.join(work, `${cn}-${Date.now()}.csr.pem`);
  writeFileSync(file, csr.toString("pem"));
  return { csr: file, key: await privateKeyToPem(keys.privateKey) };
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "pizza-identity-"));
  pki = await createSecurityPki("identity");
  id.a = await pki.thing(A);
  id.restaurant = await pki.thing("restaurant");
  theirs = await foreignCa(path.join(work, "their-ca"));
  const registered = await pkiCli(pki.pki.dir, "ca", "register", theirs.rootPath, "--crl", theirs.crlPath);
  expect(registered.code, registered.err).toBe(0);
  id.byo = await theirs.issue(BYO, pki.caPem);
  const certFile = path.join(work, `${BYO}.pem`);
  writeFileSync(certFile, id.byo.cert);
  const recorded = await pkiCli(pki.pki.dir, "thing", "register", BYO, "--cert", certFile);
  expect(recorded.code, recorded.err).toBe(0);
  id.byoRestaurant = await theirs.issue("restaurant", pki.caPem);
  id.byoA = await theirs.issue(A, pki.caPem);
  id.byoUnknown = await theirs.issue("acme-99", pki.caPem);
}, 60_000);

afterAll(() => {
  pki?.remove();
  rmSync(work, { recursive: true, force: true });
});

/** A broker under test: where each kind of certificate connects, and how it is torn down. */
interface Target {
  name: string;
  /** The URL a certificate of our own CA uses. */
  url: string;
  /** The URL a certificate of a registered (bring-your-own) CA uses. */
  byoUrl: string;
  close(): Promise<void>;
}

async function embedded(rules: "policy" | "builtin", pkiDir = pki.pki.dir): Promise<Target & { broker: TestBrokerService }> {
  const broker = await startBrokerServiceOn(pkiDir, { rules });
  return { name: `embedded (${rules})`, url: broker.url, byoUrl: broker.url, broker, close: () => broker.close() };
}

async function mosquitto(pkiDir = pki.pki.dir): Promise<Target & { mosquitto: RunningMosquitto }> {
  const m = await startMosquitto({ pkiDir });
  const byoUrl = (m as RunningMosquitto & { registeredCaUrl?: string }).registeredCaUrl ?? m.url;
  return { name: "mosquitto", url: m.url, byoUrl, mosquitto: m, close: () => m.close() };
}

const TARGETS: Array<{ name: string; start: (pkiDir?: string) => Promise<Target> }> = [
  { name: "embedded (policy)", start: (dir) => embedded("policy", dir) },
  { name: "embedded (builtin)", start: (dir) => embedded("builtin", dir) },
  ...(mosquittoSkipReason ? [] : [{ name: "mosquitto", start: (dir?: string) => mosquitto(dir) }]),
];

/**
 * Connects `credentials` as `clientId`, subscribes to every order, and has the real device `A` place an
 * order: returns what the subscriber received (undefined when the broker refused it outright).
 */
async function ordersSeenBy(target: Target, url: string, credentials: Credentials, clientId: string, device = id.a!): Promise<Received[] | undefined> {
  const attempt = await tryConnect(url, { credentials, clientId });
  if (!attempt.connected) return undefined;
  const spy = attempt.client;
  const seen = collect(spy);
  spy.on("error", () => {});
  spy.subscribe(ALL_ORDERS, { qos: 0 }, () => {});
  await sleep(200);
  const orderer = await connectClient(target.url, { credentials: device, clientId: A });
  await orderer.publishAsync(ordersOf(A), orderJson(A, Date.now()), { qos: 1 });
  await sleep(300);
  await orderer.endAsync();
  await spy.endAsync(true);
  return seen;
}

/** The real restaurant subscribes; `credentials` connects as `clientId` and orders as `thing`: what reached the restaurant. */
async function ordersReachingRestaurant(target: Target, url: string, credentials: Credentials, clientId: string, thing: string): Promise<Received[]> {
  const restaurant = await connectClient(target.url, { credentials: id.restaurant!, clientId: "restaurant" });
  const seen = collect(restaurant);
  await restaurant.subscribeAsync(ALL_ORDERS, { qos: 1 });
  const attempt = await tryConnect(url, { credentials, clientId });
  if (attempt.connected) {
    const client: MqttClient = attempt.client;
    client.on("error", () => {});
    client.publish(ordersOf(thing), orderJson(thing, Date.now()), { qos: 0 });
    await sleep(300);
    await client.endAsync(true);
  }
  await sleep(100);
  await restaurant.endAsync();
  return seen.filter((m) => m.topic === ordersOf(thing));
}

describe("service identities are reserved", () => {
  it("ca sign, thing create, thing csr and thing register refuse the name restaurant; only service create issues it", async () => {
    const fresh = path.join(work, "fresh-pki");
    expect((await pkiCli(fresh, "ca", "init")).code).toBe(0);
    const signed = await pkiCli(fresh, "ca", "sign", (await csrFile("restaurant")).csr);
    expect(signed.code, "ca sign must refuse a CSR named restaurant").toBe(1);
    expect(signed.err).toMatch(/"restaurant" is reserved for a service identity: create it with "npm run pki -- service create restaurant"/);
    expect((await pkiCli(fresh, "thing", "create", "restaurant")).err).toMatch(/reserved for a service identity/);
    expect((await pkiCli(fresh, "thing", "csr", "restaurant", "--out", path.join(work, "csr-out"))).err).toMatch(/reserved for a service identity/);
    const certFile = path.join(work, "byo-restaurant.pem");
    writeFileSync(certFile, id.byoRestaurant!.cert);
    expect((await pkiCli(pki.pki.dir, "thing", "register", "restaurant", "--cert", certFile)).err).toMatch(/reserved for a service identity/);

    const created = await pkiCli(fresh, "service", "create", "restaurant");
    expect(created.code, created.err).toBe(0);
    expect(JSON.parse((await pkiCli(fresh, "thing", "list", "--json")).out)).toEqual([expect.objectContaining({ name: "restaurant", state: "ACTIVE", kind: "service" })]);
    expect((await pkiCli(fresh, "service", "create", "pizza-button-07")).err).toMatch(/not a service this product knows/);
  });

  describe.each(TARGETS)("$name", ({ start }) => {
    it("a certificate with CN restaurant from our CA that is not the recorded service certificate reads no orders", async () => {
      // A PKI where the restaurant service does not exist yet (a fresh `ca init`).
      const fresh = await createSecurityPki("no-service");
      try {
        await fresh.thing(A);
        const { csr, key } = await csrFile("restaurant");
        const out = path.join(work, `signed-restaurant-${Date.now()}.pem`);
        const signed = await pkiCli(fresh.pki.dir, "ca", "sign", csr, "--out", out);
        // ca sign refuses it now (above); a certificate signed outside the registry stands for one issued before.
        const impostor: Credentials =
          signed.code === 0 ? { ca: fresh.caPem, cert: readFileSync(out, "utf8"), key } : await signOutsideRegistry(fresh.pki.dir, "restaurant", fresh.caPem);
        const target = await start(fresh.pki.dir);
        try {
          const seen = await ordersSeenBy(target, target.url, impostor, "restaurant", fresh.credentials(A));
          expect(seen ?? [], `${target.name} let a device-signed restaurant read the orders`).toEqual([]);
        } finally {
          await target.close();
        }
      } finally {
        fresh.remove();
      }
    });
  });
});

describe.each(TARGETS)("bring-your-own CA, $name: a certificate counts only as the one registered for its thing", ({ start }) => {
  let target: Target;
  beforeAll(async () => {
    target = await start();
  });
  afterAll(() => target?.close());

  it("the registered device of the registered CA orders (control)", async () => {
    expect(await ordersReachingRestaurant(target, target.byoUrl, id.byo!, BYO, BYO)).toHaveLength(1);
  });

  it("its certificate with CN restaurant reads no orders", async () => {
    expect((await ordersSeenBy(target, target.byoUrl, id.byoRestaurant!, "restaurant")) ?? []).toEqual([]);
    // mosquitto: the listener of our own CA (where the restaurant connects) refuses it in the handshake.
    if (target.byoUrl !== target.url) expect((await tryConnect(target.url, { credentials: id.byoRestaurant!, clientId: "restaurant" })).connected).toBe(false);
  });

  it("its certificate with the CN of an existing thing (which has its own ACTIVE certificate from our CA) cannot order as that thing", async () => {
    expect(await ordersReachingRestaurant(target, target.byoUrl, id.byoA!, A, A)).toEqual([]);
  });

  it("its certificate for a thing the registry does not know cannot order", async () => {
    expect(await ordersReachingRestaurant(target, target.byoUrl, id.byoUnknown!, "acme-99", "acme-99")).toEqual([]);
  });
});

describe("bring-your-own CA limited to a name pattern", () => {
  it("ca register --names 'acme-*' records only things whose name matches", async () => {
    const limited = await foreignCa(path.join(work, "limited-ca"));
    const registered = await pkiCli(pki.pki.dir, "ca", "register", limited.rootPath, "--crl", limited.crlPath, "--names", "acme-*");
    expect(registered.code, registered.err).toBe(0);
    const outside = path.join(work, "globex-01.pem");
    writeFileSync(outside, (await limited.issue("globex-01", pki.caPem)).cert);
    const refused = await pkiCli(pki.pki.dir, "thing", "register", "globex-01", "--cert", outside);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/may only issue things named "acme-\*", not "globex-01"/);
    const inside = path.join(work, "acme-02.pem");
    writeFileSync(inside, (await limited.issue("acme-02", pki.caPem)).cert);
    expect((await pkiCli(pki.pki.dir, "thing", "register", "acme-02", "--cert", inside)).code).toBe(0);
  });

  it("import aws applies the same name rule: its certificate cannot become pizza-button-09", async () => {
    const limited = await foreignCa(path.join(work, "limited-aws-ca"));
    expect((await pkiCli(pki.pki.dir, "ca", "register", limited.rootPath, "--crl", limited.crlPath, "--names", "acme-*")).code).toBe(0);
    const device = await limited.issue("AWS IoT Certificate", pki.caPem);
    const cert = path.join(work, "limited-aws.pem.crt");
    const key = path.join(work, "limited-aws-private.pem.key");
    writeFileSync(cert, device.cert.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
    writeFileSync(key, device.key, { mode: 0o600 });
    const refused = await pkiCli(pki.pki.dir, "import", "aws", "--cert", cert, "--key", key, "--ca", limited.rootPath, "--name", "pizza-button-09");
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/may only issue things named "acme-\*", not "pizza-button-09"/);
    expect(pki.pki.thingState("pizza-button-09")).toBeUndefined();
    const allowed = await pkiCli(pki.pki.dir, "import", "aws", "--cert", cert, "--key", key, "--ca", limited.rootPath, "--name", "acme-09");
    expect(allowed.code, allowed.err).toBe(0);
  });
});

describe("AWS-issued identities: the thing is the one import aws --name records, not the CN", () => {
  let aws: ForeignCa;
  let awsDevice: Credentials;
  const files = { cert: "", key: "", ca: "" };
  /** Writes a fresh AWS-style certificate (CN "AWS IoT Certificate") and its key; sets awsDevice. */
  const newAwsCertificate = async (label: string) => {
    awsDevice = await aws.issue("AWS IoT Certificate", pki.caPem);
    files.cert = path.join(work, `${label}.pem.crt`);
    files.key = path.join(work, `${label}-private.pem.key`);
    writeFileSync(files.cert, awsDevice.cert.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
    writeFileSync(files.key, awsDevice.key, { mode: 0o600 });
  };
  beforeAll(async () => {
    // A stand-in for AWS IoT's CA (registered here so the local broker trusts it) and a certificate
    // with AWS's CN for every device.
    aws = await foreignCa(path.join(work, "aws-ca"));
    expect((await pkiCli(pki.pki.dir, "ca", "register", aws.rootPath, "--crl", aws.crlPath)).code).toBe(0);
    files.ca = aws.rootPath;
    await newAwsCertificate("device");
  });

  it("import aws --ca refuses a file that is not a CA certificate", async () => {
    const refused = await pkiCli(pki.pki.dir, "import", "aws", "--cert", files.cert, "--key", files.key, "--ca", files.cert, "--name", "pizza-button-wrong-ca");
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--ca: .* is not a CA certificate/);
  });

  it.each(["policy", "builtin"] as const)("embedded broker (%s): the imported certificate connects and orders as the thing named at import", async (rules) => {
    const thing = `pizza-button-aws-${rules}`;
    await newAwsCertificate(thing);
    const imported = await pkiCli(pki.pki.dir, "import", "aws", "--cert", files.cert, "--key", files.key, "--ca", files.ca, "--name", thing);
    expect(imported.code, imported.err).toBe(0);
    const target = await embedded(rules);
    try {
      expect(await ordersReachingRestaurant(target, target.url, awsDevice, thing, thing)).toHaveLength(1);
      // The CN is no identity: as client id it is refused.
      expect((await tryConnect(target.url, { credentials: awsDevice, clientId: "AWS IoT Certificate" })).connected).toBe(false);
      // One certificate, one thing: importing it again under another name is refused.
      const again = await pkiCli(pki.pki.dir, "import", "aws", "--cert", files.cert, "--key", files.key, "--ca", files.ca, "--name", `${thing}-again`);
      expect(again.err).toMatch(new RegExp(`already registered to thing ${thing}`));
    } finally {
      await target.close();
    }
  });

  it("the simulator takes the thing from configuration; without it, the error says how to set it", async () => {
    const run = await runSimulate(["--broker", "mqtts://127.0.0.1:1", "--no-restaurant", "--cert", files.cert, "--key", files.key, "--ca", pki.dir + "/pki/broker/ca.pem", "--clicks", "single", "--json"]);
    expect(run.code).not.toBe(0);
    expect(run.stderr + run.stdout).toMatch(/AWS IoT Certificate.{0,4} is not a thing name.*set the thing with --thing <name>/);
  });
});

