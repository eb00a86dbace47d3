// The core's DER reader and renewal check against real certificates from the PKI (RSA and EC, root and
// intermediate): what the button reads must be what OpenSSL (node:crypto) reads.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readCertificate } from "../../../../modules/core/der";
import { renewedCertificateProblem } from "../../../../modules/core/renewal";
import { Pki } from "../../../../tools/pki/pki";
import { renewThingCertificate } from "../../../../tools/pki/renew";
import { tempDir } from "./helpers";

const t = tempDir("renewal-der");
afterAll(t.cleanup);

const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);

describe("core DER reader on PKI certificates", () => {
  it.each([["rsa" as const], ["ec" as const]])("%s: fields match node:crypto; a real renewal passes the device's check, another thing's certificate does not", async (keyType) => {
    const pki = await Pki.open(join(t.dir, keyType));
    await pki.initCa({ intermediate: keyType === "rsa" });
    const files = await pki.createThing("button-1", { keyType, validDays: 10 });
    await pki.createThing("button-2", { keyType, validDays: 10 });
    const pem = readFileSync(files.certPath, "utf8");
    const node = new X509Certificate(pem);
    const fields = readCertificate(der(pem))!;
    expect(fields.serial.replace(/^(00)+/, "")).toBe(node.serialNumber.toLowerCase().replace(/^(00)+/, ""));
    expect(fields.notAfter).toBe(new Date(node.validTo).getTime());
    expect(fields.notBefore).toBe(new Date(node.validFrom).getTime());
    expect(Buffer.from(fields.subjectPublicKeyInfo)).toEqual(node.publicKey.export({ format: "der", type: "spki" }));

    const renewed = await renewThingCertificate(pki, "button-1", { fingerprint: node.fingerprint256 });
    if (!renewed.ok) throw new Error(renewed.reason);
    expect(renewedCertificateProblem(fields, der(renewed.certPem), Date.now())).toBeUndefined();
    const other = readFileSync(pki.thingFiles("button-2")!.certPath, "utf8");
    expect(renewedCertificateProblem(fields, der(other), Date.now())).toMatch(/different public key|different subject/);
  });
});
