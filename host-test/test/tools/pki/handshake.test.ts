// Real TLS 1.2 mutual-auth handshakes on loopback with the PKI's output: the embedded broker (aedes on
// node:tls, trust = pki.trustMaterial(), registry state via pki.thingState) accepts certificates from all
// three options and refuses unregistered-CA, expired, not-yet-valid, revoked and deactivated ones.
// A plain node:tls server with the broker's settings pins down the TLS-level facts the broker relies on.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type IClientOptions } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBroker, type BrokerEvent, type RunningBroker } from "../../../../services/broker/broker";
import { createCsr, Pki } from "../../../../tools/pki/pki";
import { hasOpenssl, openssl, read, startTlsServer, tempDir, tryClient } from "./helpers";

const DAY = 86_400_000;
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));
function dir(prefix: string): string {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  return t.dir;
}

interface Client {
  name: string;
  cert: string; // chain PEM (leaf + intermediate when there is one)
  key: string;
  certPath: string;
}

let pki: Pki;
let serverKey: string;
let serverCert: string;
let serverCa: string;
const clients: Record<string, Client> = {};

async function fromThing(p: Pki, name: string, keyPath?: string): Promise<Client> {
  const f = p.thingFiles(name)!;
  return { name, cert: read(f.chainPath), key: read(keyPath ?? f.keyPath), certPath: f.certPath };
}

beforeAll(async () => {
  // One installation with an intermediate; RSA where the device default matters, EC elsewhere (fast).
  pki = await Pki.open(dir("hs"));
  await pki.initCa({ intermediate: true });
  const server = await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"], keyType: "ec" });
  serverKey = read(server.keyPath);
  serverCert = read(server.certPath);
  serverCa = read(server.caPath);

  // Option 1: one-click create (RSA-2048, the firmware's default).
  await pki.createThing("opt1-device");
  clients.opt1 = await fromThing(pki, "opt1-device");

  // Option 2: CSR made on the device side, signed by the CA from the CSR alone.
  const deviceDir = dir("hs-device");
  const csr = await createCsr("opt2-device", { outDir: deviceDir, keyType: "ec" });
  await pki.signCsr(read(csr.csrPath));
  clients.opt2 = await fromThing(pki, "opt2-device", csr.keyPath);

  // Option 3: the customer's own CA, registered with its CRL.
  const own = await Pki.open(dir("hs-own-ca"));
  await own.initCa({ keyType: "ec" });
  await own.createThing("opt3-device", { keyType: "ec" });
  await pki.registerCa(read(join(own.dir, "ca/root.cert.pem")), { crlPem: own.trustMaterial().crl.join("") });
  clients.opt3 = await fromThing(own, "opt3-device");

  // Refused cases.
  const stranger = await Pki.open(dir("hs-stranger"));
  await stranger.initCa({ keyType: "ec" });
  await stranger.createThing("stranger-device", { keyType: "ec" });
  clients.unregistered = await fromThing(stranger, "stranger-device");
  const now = Date.now();
  await pki.createThing("expired-device", { keyType: "ec", notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) });
  clients.expired = await fromThing(pki, "expired-device");
  await pki.createThing("future-device", { keyType: "ec", notBefore: new Date(now + DAY), notAfter: new Date(now + 30 * DAY) });
  clients.future = await fromThing(pki, "future-device");
  await pki.createThing("revoked-device", { keyType: "ec" });
  clients.revoked = await fromThing(pki, "revoked-device");
  await pki.setThingState("revoked-device", "REVOKED");
  await pki.createThing("inactive-device", { keyType: "ec" });
  clients.inactive = await fromThing(pki, "inactive-device");
  await pki.setThingState("inactive-device", "INACTIVE");
});

describe("embedded broker (aedes on node:tls, TLS 1.2, client certificates required)", () => {
  let broker: RunningBroker;
  const events: BrokerEvent[] = [];

  beforeAll(async () => {
    const trust = pki.trustMaterial();
    broker = await startBroker({
      key: serverKey,
      cert: serverCert,
      ca: trust.ca,
      crl: trust.crl,
      thingState: (thing) => pki.thingState(thing),
      log: (e) => events.push(e),
    });
  });
  afterAll(() => broker?.close());

  /** MQTT CONNECT over TLS 1.2 with the client's certificate; client id = thing name. */
  function connect(c: Client): Promise<{ accepted: boolean; events: BrokerEvent[] }> {
    const from = events.length;
    const options: IClientOptions = {
      key: c.key,
      cert: c.cert,
      ca: serverCa,
      servername: "localhost",
      clientId: c.name,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
    } as IClientOptions;
    return new Promise((resolve) => {
      const client = mqtt.connect(broker.url, options);
      const done = (accepted: boolean) => {
        client.removeAllListeners();
        client.on("error", () => {});
        client.end(true, () => {
          // Let the broker log the refusal before reading its events.
          setImmediate(() => resolve({ accepted, events: events.slice(from) }));
        });
      };
      client.once("connect", () => done(true));
      client.once("error", () => done(false));
      client.once("close", () => done(false));
    });
  }

  it.each(["opt1", "opt2", "opt3"])("accepts the %s certificate (CONNACK 0)", async (key) => {
    const r = await connect(clients[key]!);
    expect(r.accepted).toBe(true);
    expect(r.events.some((e) => e.event === "connect" && e.cn === clients[key]!.name)).toBe(true);
  });

  /** The broker logs a TLS refusal after the client has seen the close: wait for it. */
  async function waitForEvent(from: number, match: (e: BrokerEvent) => boolean): Promise<BrokerEvent | undefined> {
    for (let i = 0; i < 250; i++) {
      const found = events.slice(from).find(match);
      if (found) return found;
      await new Promise((res) => setTimeout(res, 20));
    }
    return undefined;
  }

  it.each([
    ["unregistered", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
    ["expired", "CERT_HAS_EXPIRED"],
    ["future", "CERT_NOT_YET_VALID"],
    ["revoked", "CERT_REVOKED"],
  ])("refuses the %s certificate in the TLS handshake (%s)", async (key, code) => {
    const from = events.length;
    const r = await connect(clients[key]!);
    expect(r.accepted).toBe(false);
    expect((await waitForEvent(from, (e) => e.event === "tls-refused"))?.code).toBe(code);
  });

  it("refuses the deactivated thing at CONNECT (the registry check; its certificate is still valid)", async () => {
    const from = events.length;
    const r = await connect(clients.inactive!);
    expect(r.accepted).toBe(false);
    expect(events.slice(from).some((e) => e.event === "tls-refused")).toBe(false);
    expect(r.events.some((e) => e.event === "refused" && e.cn === "inactive-device" && /INACTIVE/.test(String(e.reason)))).toBe(true);
    // Reactivated, the same certificate is accepted again without restarting anything.
    await pki.setThingState("inactive-device", "ACTIVE");
    expect((await connect(clients.inactive!)).accepted).toBe(true);
    await pki.setThingState("inactive-device", "INACTIVE");
  });

  it("refuses a certificate revoked while the broker runs, once the broker reloads trust", async () => {
    const t = await pki.createThing("late-revoke", { keyType: "ec" });
    const c = await fromThing(pki, "late-revoke");
    expect((await connect(c)).accepted).toBe(true);
    await pki.setThingState("late-revoke", "REVOKED");
    // Refused at once by the registry check, before any reload...
    expect((await connect(c)).accepted).toBe(false);
    // ...and by the CRL in the TLS handshake once the broker reloads trust.
    const trust = pki.trustMaterial();
    broker.updateTrust({ ca: trust.ca, crl: trust.crl });
    const from = events.length;
    expect((await connect(c)).accepted).toBe(false);
    expect((await waitForEvent(from, (e) => e.event === "tls-refused"))?.code).toBe("CERT_REVOKED");
    const fp = pki.listThings().find((x) => x.name === "late-revoke")!.fingerprint256!;
    expect(pki.certificateState(fp)).toBe("REVOKED");
    expect(read(t.certPath)).toContain("BEGIN CERTIFICATE");
  });
});

describe("node:tls facts the broker relies on (server configured as the broker)", () => {
  it("accepts the three options and refuses the others, with the verification reason", async () => {
    const trust = pki.trustMaterial();
    const server = await startTlsServer({ key: serverKey, cert: serverCert, ca: trust.ca, crl: trust.crl, thingState: (n) => pki.thingState(n) });
    try {
      for (const key of ["opt1", "opt2", "opt3"]) {
        expect([key, await tryClient(server.port, { ...clients[key]!, ca: serverCa })]).toEqual([key, "accepted"]);
      }
      for (const key of ["unregistered", "expired", "future", "revoked", "inactive"]) {
        expect([key, await tryClient(server.port, { ...clients[key]!, ca: serverCa })]).toEqual([key, "refused"]);
      }
      expect(server.refusals).toEqual([
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "CERT_HAS_EXPIRED",
        "CERT_NOT_YET_VALID",
        "CERT_REVOKED",
        "thing INACTIVE",
      ]);
    } finally {
      await server.close();
    }
  });

  it("with crl set, needs a CRL for every CA in the chain (root included), given as an array", async () => {
    const trust = pki.trustMaterial(); // [root, intermediate, registered] CRLs, in the order of trust.ca
    const c = { ...clients.opt1!, ca: serverCa };
    const cases: [string, string[] | string, string][] = [
      ["all CRLs", trust.crl, "accepted"],
      ["root CRL missing", trust.crl.slice(1), "refused"],
      ["intermediate CRL missing", [trust.crl[0]!, trust.crl[2]!], "refused"],
      // One string with several CRLs: node:tls reads only the first of them.
      ["all CRLs in one string", trust.crl.join(""), "refused"],
    ];
    for (const [label, crl, expected] of cases) {
      const server = await startTlsServer({ key: serverKey, cert: serverCert, ca: trust.ca, crl: crl as string[] });
      try {
        expect([label, await tryClient(server.port, c)]).toEqual([label, expected]);
        if (expected === "refused") expect(server.refusals).toEqual(["UNABLE_TO_GET_CRL"]);
      } finally {
        await server.close();
      }
    }
  });

  it("refuses a registered CA's certificates while its CRL is missing (why registerCa takes a CRL)", async () => {
    const own = await Pki.open(dir("hs-nocrl"));
    await own.initCa({ keyType: "ec" });
    await own.createThing("nocrl-device", { keyType: "ec" });
    const other = await Pki.open(dir("hs-nocrl-broker"));
    await other.initCa({ keyType: "ec" });
    const server = await other.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"], keyType: "ec" });
    await other.registerCa(read(join(own.dir, "ca/root.cert.pem")));
    const c = { ...(await fromThing(own, "nocrl-device")), ca: read(server.caPath) };
    const before = other.trustMaterial();
    expect(before.missingCrl).toHaveLength(1);
    const s1 = await startTlsServer({ key: read(server.keyPath), cert: read(server.certPath), ca: before.ca, crl: before.crl });
    expect(await tryClient(s1.port, c)).toBe("refused");
    expect(s1.refusals).toEqual(["UNABLE_TO_GET_CRL"]);
    await s1.close();
    await other.importCrl(own.trustMaterial().crl[0]!);
    const after = other.trustMaterial();
    const s2 = await startTlsServer({ key: read(server.keyPath), cert: read(server.certPath), ca: after.ca, crl: after.crl });
    expect(await tryClient(s2.port, c)).toBe("accepted");
    await s2.close();
  });

  it("accepts a device that sends only its leaf certificate (the intermediate is in the broker's ca)", async () => {
    const trust = pki.trustMaterial();
    const server = await startTlsServer({ key: serverKey, cert: serverCert, ca: trust.ca, crl: trust.crl });
    try {
      const leafOnly = { ...clients.opt1!, cert: read(clients.opt1!.certPath), ca: serverCa };
      expect(await tryClient(server.port, leafOnly)).toBe("accepted");
    } finally {
      await server.close();
    }
  });
});

describe.skipIf(!hasOpenssl)("openssl agrees", () => {
  it("verifies the three options and names the reason for the others", () => {
    const trust = pki.trustMaterial();
    const out = dir("hs-ossl");
    const verify = (c: { certPath: string; cert: string }) => {
      const chain = join(out, "chain.pem");
      writeFileSync(chain, c.cert);
      return openssl(["verify", "-crl_check_all", "-purpose", "sslclient", "-CAfile", trust.caFile, "-CRLfile", trust.crlFile, "-untrusted", chain, c.certPath]);
    };
    for (const key of ["opt1", "opt2", "opt3"]) expect(verify(clients[key]!).out).toContain(": OK");
    expect(verify(clients.unregistered!).out).toContain("unable to get local issuer certificate");
    expect(verify(clients.expired!).out).toContain("certificate has expired");
    expect(verify(clients.future!).out).toContain("certificate is not yet valid");
    expect(verify(clients.revoked!).out).toContain("certificate revoked");
  });
});
