// export moddable (DER resources for the firmware) and import aws (the files AWS IoT hands out).
import { createPrivateKey } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../../../../tools/pki/crypto";
import { createCsr, Pki } from "../../../../tools/pki/pki";
import { hasOpenssl, openssl, PEM_KEY_HEADER, read, tempDir } from "./helpers";

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));
function dir(prefix: string): string {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  return t.dir;
}
const mode = (p: string) => statSync(p).mode & 0o777;

let pki: Pki;
beforeAll(async () => {
  pki = await Pki.open(dir("export"));
  await pki.initCa({ intermediate: true, keyType: "ec" });
  await pki.createThing("rsa-button"); // RSA-2048 default
  await pki.createThing("ec-client", { keyType: "ec" });
});

describe("export moddable", () => {
  it("writes device.der, an unencrypted PKCS#8 RSA private-key.der (0600) and the broker's CA as ca.der", async () => {
    const out = join(dir("mod"), "res");
    const files = await pki.exportModdable("rsa-button", { outDir: out });
    expect(files).toEqual({ certPath: join(out, "device.der"), keyPath: join(out, "private-key.der"), caPath: join(out, "ca.der") });
    expect(mode(files.keyPath)).toBe(0o600);
    expect(mode(out)).toBe(0o700);
    const device = new x509.X509Certificate(readFileSync(files.certPath));
    expect(device.subject).toBe("CN=rsa-button");
    expect(Buffer.from(readFileSync(files.caPath))).toEqual(Buffer.from(new x509.X509Certificate(read(join(pki.dir, "ca/root.cert.pem"))).rawData));
    const key = createPrivateKey({ key: readFileSync(files.keyPath), format: "der", type: "pkcs8" });
    expect(key.asymmetricKeyType).toBe("rsa");
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it.skipIf(!hasOpenssl)("parses with openssl x509 -inform der and openssl pkey -inform der", async () => {
    const out = dir("mod-ossl");
    const files = await pki.exportModdable("rsa-button", { outDir: out });
    const x = openssl(["x509", "-inform", "der", "-in", files.certPath, "-noout", "-subject", "-modulus"]);
    expect(x.code).toBe(0);
    expect(x.out).toMatch(/subject=CN ?= ?rsa-button/);
    const k = openssl(["pkey", "-inform", "der", "-in", files.keyPath, "-noout", "-text_pub"]);
    expect(k.code).toBe(0);
    expect(k.out).toContain("Public-Key: (2048 bit)");
    // PKCS#8 (PrivateKeyInfo with the rsaEncryption algorithm), not PKCS#1, and no encryption.
    const asn = openssl(["asn1parse", "-inform", "der", "-in", files.keyPath]).out;
    expect(asn).toMatch(/OBJECT\s+:rsaEncryption/);
    expect(asn).not.toMatch(/pbes2|PBES2|encrypted/i);
    // The key matches the certificate.
    const certMod = /Modulus=([0-9A-F]+)/.exec(x.out)![1];
    const keyMod = openssl(["rsa", "-inform", "der", "-in", files.keyPath, "-noout", "-modulus"]).out;
    expect(keyMod).toContain(`Modulus=${certMod}`);
    const ca = openssl(["x509", "-inform", "der", "-in", files.caPath, "-noout", "-subject"]);
    expect(ca.out).toContain("pizza-button Root CA");
  });

  it("refuses an EC key with a clear message", async () => {
    await expect(pki.exportModdable("ec-client", { outDir: dir("mod-ec") })).rejects.toThrow(
      /ec-client has an EC P-256 key: the Moddable TLS stack supports only RSA client keys/,
    );
    await expect(pki.exportModdable("nobody", { outDir: dir("mod-none") })).rejects.toThrow(/unknown thing nobody/);
  });

  it("needs --key for a CSR-issued thing, and checks that it is the right key", async () => {
    const deviceDir = dir("mod-csr");
    const { keyPath, csrPath } = await createCsr("csr-button", { outDir: deviceDir });
    await pki.signCsr(read(csrPath));
    const out = dir("mod-csr-out");
    await expect(pki.exportModdable("csr-button", { outDir: out })).rejects.toThrow(/not in the PKI dir \(issued from a CSR\): pass --key/);
    await expect(pki.exportModdable("csr-button", { outDir: out, keyPath: join(pki.dir, "things/rsa-button/key.pem") })).rejects.toThrow(
      /is not the private key of csr-button's certificate/,
    );
    const files = await pki.exportModdable("csr-button", { outDir: out, keyPath });
    expect(createPrivateKey({ key: readFileSync(files.keyPath), format: "der", type: "pkcs8" }).asymmetricKeyType).toBe("rsa");
  });
});

describe("import aws", () => {
  // Stand-ins for what the AWS IoT console hands out: a device certificate whose CN is not the thing
  // name ("AWS IoT Certificate"), its key as PKCS#1 "RSA PRIVATE KEY", and the endpoint's root CA.
  let aws: { cert: string; key: string; ca: string };
  beforeAll(async () => {
    const amazon = await Pki.open(dir("amazon"));
    await amazon.initCa({ keyType: "ec" });
    const keys = await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    );
    const caKey = createPrivateKey(read(join(amazon.dir, "ca/root.key.pem")));
    const signingKey = await crypto.subtle.importKey("pkcs8", caKey.export({ type: "pkcs8", format: "der" }), { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const caCert = new x509.X509Certificate(read(join(amazon.dir, "ca/root.cert.pem")));
    const cert = await x509.X509CertificateGenerator.create({
      subject: "CN=AWS IoT Certificate",
      issuer: caCert.subjectName,
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } as never,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
    });
    const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    const pkcs1 = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }).export({ type: "pkcs1", format: "pem" }) as string;
    aws = { cert: cert.toString("pem"), key: pkcs1, ca: read(join(amazon.dir, "ca/root.cert.pem")) };
  });

  it("stores the AWS files in the thing layout: PKCS#8 key 0600, the AWS CA as the broker CA", async () => {
    expect(aws.key).toMatch(PEM_KEY_HEADER.pkcs1Rsa);
    const files = await pki.importAws({ name: "kitchen-button", certPem: aws.cert, keyPem: aws.key, caPem: aws.ca });
    expect(read(files.certPath)).toBe(new x509.X509Certificate(aws.cert).toString("pem") + "\n");
    expect(read(files.keyPath)).toMatch(PEM_KEY_HEADER.pkcs8);
    expect(mode(files.keyPath)).toBe(0o600);
    expect(read(files.caPath).trim()).toBe(new x509.X509Certificate(aws.ca).toString("pem"));
    expect(pki.listThings().find((t) => t.name === "kitchen-button")).toMatchObject({ state: "ACTIVE", issuedBy: "aws-import" });
    // And it exports for the firmware like any other RSA thing.
    const out = await pki.exportModdable("kitchen-button", { outDir: dir("aws-mod") });
    expect(Buffer.from(readFileSync(out.caPath))).toEqual(Buffer.from(new x509.X509Certificate(aws.ca).rawData));
  });

  it("refuses a key that does not belong to the certificate, and files that are not what they claim", async () => {
    const otherKey = read(join(pki.dir, "things/rsa-button/key.pem"));
    await expect(pki.importAws({ name: "aws-2", certPem: aws.cert, keyPem: otherKey, caPem: aws.ca })).rejects.toThrow(/--key does not belong to --cert/);
    await expect(pki.importAws({ name: "aws-2", certPem: aws.key, keyPem: aws.key, caPem: aws.ca })).rejects.toThrow(/--cert is not a PEM certificate \(found RSA PRIVATE KEY\)/);
    await expect(pki.importAws({ name: "aws-2", certPem: aws.cert, keyPem: aws.cert, caPem: aws.ca })).rejects.toThrow(/--key is not a private key/);
    await expect(pki.importAws({ name: "aws 2", certPem: aws.cert, keyPem: aws.key, caPem: aws.ca })).rejects.toThrow(/invalid thing name/);
    expect(pki.thingState("aws-2")).toBeUndefined();
  });

  it.skipIf(!hasOpenssl)("accepts a key written by openssl in traditional PKCS#1 form", async () => {
    const d = dir("aws-ossl");
    const keyFile = join(d, "private.pem.key");
    expect(openssl(["genrsa", "-traditional", "-out", keyFile, "2048"]).code).toBe(0);
    const csr = join(d, "req.csr");
    expect(openssl(["req", "-new", "-key", keyFile, "-subj", "/CN=ossl-aws", "-out", csr]).code).toBe(0);
    const signed = await pki.signCsr(read(csr)); // any CA will do for the format check
    await pki.setThingState("ossl-aws", "REVOKED");
    writeFileSync(join(d, "device.pem.crt"), signed.certPem);
    const files = await pki.importAws({ name: "ossl-aws", certPem: signed.certPem, keyPem: read(keyFile), caPem: aws.ca });
    expect(openssl(["pkey", "-in", files.keyPath, "-noout"]).code).toBe(0);
  });
});
