// The broker's own certificate close to its end: `npm run broker` warns at start, `npm run pki -- broker cert
// --renew` (another process) issues a new one for the same names, and the same broker process serves it to
// the next connection without a restart; an MQTT session opened before stays up.
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pki } from "../../../../tools/pki/pki";
import { removeDir, tempDir } from "../../integration/fixtures";
import { pkiTool, startBrokerProcess, stopAll, thingCredentials, type BrokerProcess } from "../processes";

let dir: string;
let pkiDir: string;
let broker: BrokerProcess;

beforeAll(async () => {
  dir = tempDir("broker-cert-renewal");
  pkiDir = path.join(dir, "pki");
  const pki = await Pki.open(pkiDir);
  await pki.initCa();
  await pki.createBrokerCert({ hosts: ["localhost", "broker.example"], ips: ["127.0.0.1"], validDays: 10 });
  await pki.createThing("pizza-button-01");
  broker = await startBrokerProcess(pkiDir);
});

afterAll(async () => {
  await stopAll();
  removeDir(dir);
});

/** A mutual-TLS connection as pizza-button-01; resolves with the certificate the broker presented. */
function handshake(): Promise<{ socket: tls.TLSSocket; served: X509Certificate }> {
  const creds = thingCredentials(pkiDir, "pizza-button-01");
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port: broker.port, servername: "localhost", ...creds, minVersion: "TLSv1.2" }, () => {
      resolve({ socket, served: socket.getPeerX509Certificate()! });
    });
    socket.once("error", reject);
  });
}

/**
 * An MQTT session as pizza-button-01 (CONNECT answered: a bare TLS connection would be closed by the broker's
 * CONNECT timeout, whatever the renewal does); with the certificate the broker presented.
 */
async function session(): Promise<{ client: mqtt.MqttClient; served: X509Certificate }> {
  const creds = thingCredentials(pkiDir, "pizza-button-01");
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${broker.port}`, {
    servername: "localhost",
    ...creds,
    clientId: "pizza-button-01",
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  return { client, served: (client.stream as tls.TLSSocket).getPeerX509Certificate()! };
}

const fileCert = () => new X509Certificate(fs.readFileSync(path.join(pkiDir, "broker/cert.pem")));

describe("broker certificate lifetime", () => {
  it("warns at start when its certificate expires within 30 days, with the command that renews it", () => {
    const warning = broker.lines.find((l) => l.event === "warning" && /broker certificate expires in/.test(String(l.reason)));
    expect(warning).toMatchObject({ daysLeft: 9 });
    expect(warning!.fix).toContain(`--pki-dir ${pkiDir} broker cert --renew`);
  });

  it("broker cert --renew: same names, new certificate, served to a new connection by the running broker", async () => {
    const before = await session();
    expect(before.served.fingerprint256).toBe(fileCert().fingerprint256);
    const pid = broker.child.pid;

    const out = await pkiTool(pkiDir, "broker", "cert", "--renew");
    expect(out).toContain("broker certificate for localhost, broker.example, 127.0.0.1 (renewed)");
    const renewed = fileCert();
    expect(renewed.fingerprint256).not.toBe(before.served.fingerprint256);
    expect(renewed.subjectAltName).toBe(before.served.subjectAltName);
    expect(new Date(renewed.validTo).getTime() - Date.now()).toBeGreaterThan(390 * 86_400_000);

    await broker.waitFor((l) => l.event === "broker-certificate-reloaded" && l.fingerprint256 === renewed.fingerprint256, "the reload");
    const after = await handshake();
    expect(after.served.fingerprint256).toBe(renewed.fingerprint256);
    expect(broker.child.pid).toBe(pid);
    expect(broker.child.exitCode).toBeNull();
    // The session from before the renewal is untouched.
    expect(before.client.connected).toBe(true);
    expect(before.client.stream.destroyed).toBe(false);
    await before.client.endAsync();
    after.socket.destroy();
  });

  it("--renew with nothing to renew, or with names, is refused with one line", async () => {
    await expect(pkiTool(pkiDir, "broker", "cert", "--renew", "--host", "other")).rejects.toThrow(/--renew keeps the current names/);
    const empty = path.join(dir, "empty");
    const pki = await Pki.open(empty);
    await pki.initCa();
    await expect(pkiTool(empty, "broker", "cert", "--renew")).rejects.toThrow(/no broker certificate in .* to renew/);
  });
});
