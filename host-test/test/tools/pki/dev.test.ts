// ensureDevPki: the PKI `npm run simulate` creates on first use and reuses afterwards.
import { statSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { x509 } from "../../../../tools/pki/crypto";
import { DEV_DEVICE, ensureDevPki } from "../../../../tools/pki/dev";
import { read, startTlsServer, tempDir, tryClient } from "./helpers";

const t = tempDir("dev");
afterAll(t.cleanup);

describe("ensureDevPki", () => {
  it("creates root CA, broker (localhost/127.0.0.1), restaurant and an RSA-2048 device, then reuses them", async () => {
    const first = await ensureDevPki(t.dir);
    const device = new x509.X509Certificate(read(first.device.certPath));
    expect(device.subject).toBe(`CN=${DEV_DEVICE}`);
    expect(first.device.name).toBe("pizza-button-01");
    expect(first.pki.listThings().find((x) => x.name === DEV_DEVICE)?.keyType).toBe("RSA-2048");
    expect(new x509.X509Certificate(read(first.restaurant.certPath)).subject).toBe("CN=restaurant");
    const san = new x509.X509Certificate(read(first.broker.certPath)).getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.toJSON()).toEqual([{ type: "dns", value: "localhost" }, { type: "ip", value: "127.0.0.1" }]);
    expect(statSync(first.device.keyPath).mode & 0o777).toBe(0o600);
    expect(first.trust.crl).toHaveLength(1);

    const snapshot = [first.device.certPath, first.restaurant.certPath, first.broker.certPath, first.broker.keyPath].map(read);
    const second = await ensureDevPki(t.dir);
    expect([second.device.certPath, second.restaurant.certPath, second.broker.certPath, second.broker.keyPath].map(read)).toEqual(snapshot);
    expect(second.pki.listThings().map((x) => [x.name, x.certificates])).toEqual([[DEV_DEVICE, 1], ["restaurant", 1]]);
  });

  it("re-issues a revoked device and leaves a deactivated one as the user left it", async () => {
    const dev = await ensureDevPki(t.dir);
    const old = read(dev.device.certPath);
    await dev.pki.setThingState(DEV_DEVICE, "INACTIVE");
    expect(read((await ensureDevPki(t.dir)).device.certPath)).toBe(old);
    expect(dev.pki.thingState(DEV_DEVICE)).toBe("INACTIVE");
    await dev.pki.setThingState(DEV_DEVICE, "REVOKED");
    const again = await ensureDevPki(t.dir);
    expect(read(again.device.certPath)).not.toBe(old);
    expect(again.pki.thingState(DEV_DEVICE)).toBe("ACTIVE");
  });

  it("gives material for a working mutual-TLS connection: device and restaurant to the broker", async () => {
    const dev = await ensureDevPki(t.dir);
    const server = await startTlsServer({
      key: read(dev.broker.keyPath),
      cert: read(dev.broker.certPath),
      ca: dev.trust.ca,
      crl: dev.trust.crl,
      thingState: (n) => dev.pki.thingState(n),
    });
    try {
      for (const thing of [dev.device, dev.restaurant]) {
        const r = await tryClient(server.port, { cert: read(thing.chainPath), key: read(thing.keyPath), ca: read(thing.caPath) });
        expect([thing.name, r]).toEqual([thing.name, "accepted"]);
      }
    } finally {
      await server.close();
    }
  });
});
