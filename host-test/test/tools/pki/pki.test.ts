// PKI library: CA and certificate profiles, the three ways to a device identity, registry states,
// CRLs, verify(), file permissions. Cross-checked with the openssl binary where it is installed.
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { x509 } from "../../../../tools/pki/crypto";
import { createCsr, Pki } from "../../../../tools/pki/pki";
import { readRegistry } from "../../../../tools/pki/registry";
import { hasOpenssl, openssl, PEM_KEY_HEADER, read, tempDir } from "./helpers";

const DAY = 86_400_000;
const cleanups: (() => void)[] = [];
function dir(prefix: string): string {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  return t.dir;
}
afterAll(() => cleanups.forEach((c) => c()));

const mode = (p: string) => statSync(p).mode & 0o777;
const cert = (p: string) => new x509.X509Certificate(read(p));

/** Every file under a directory, recursively. */
function walk(root: string): string[] {
  return readdirSync(root, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(root, e.name)) : [join(root, e.name)],
  );
}

describe("CA", () => {
  let pki: Pki;
  let flat: Pki;
  beforeAll(async () => {
    pki = await Pki.open(dir("ca"));
    await pki.initCa({ intermediate: true });
    flat = await Pki.open(dir("flat"));
    await flat.initCa({ keyType: "ec" });
  });

  it("makes a root (pathLen 1) and an intermediate (pathLen 0) with critical CA extensions and key ids", () => {
    const root = cert(join(pki.dir, "ca/root.cert.pem"));
    const inter = cert(join(pki.dir, "ca/intermediate.cert.pem"));
    for (const [c, pathLen] of [[root, 1], [inter, 0]] as const) {
      const bc = c.getExtension(x509.BasicConstraintsExtension)!;
      expect(bc.critical).toBe(true);
      expect(bc.ca).toBe(true);
      expect(bc.pathLength).toBe(pathLen);
      const ku = c.getExtension(x509.KeyUsagesExtension)!;
      expect(ku.critical).toBe(true);
      expect(ku.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
      expect(c.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
      expect(algName(c.signatureAlgorithm)).toBe("RSASSA-PKCS1-v1_5");
      expect(c.signatureAlgorithm.hash.name).toBe("SHA-256");
    }
    expect(inter.issuer).toBe(root.subject);
    expect(inter.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      root.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
  });

  it("gives a root without intermediate pathLen 0 and signs EC CAs with ecdsa-with-SHA256", () => {
    const root = cert(join(flat.dir, "ca/root.cert.pem"));
    expect(root.getExtension(x509.BasicConstraintsExtension)?.pathLength).toBe(0);
    expect(algName(root.signatureAlgorithm)).toBe("ECDSA");
    expect(root.signatureAlgorithm.hash.name).toBe("SHA-256");
  });

  it("writes private keys 0600 and directories 0700, and refuses a second init", async () => {
    expect(mode(join(pki.dir, "ca/root.key.pem"))).toBe(0o600);
    expect(mode(join(pki.dir, "ca/intermediate.key.pem"))).toBe(0o600);
    expect(mode(pki.dir)).toBe(0o700);
    expect(mode(join(pki.dir, "ca"))).toBe(0o700);
    await expect(pki.initCa()).rejects.toThrow(/a CA already exists/);
  });

  it("writes an empty CRL for every CA it owns and hands them to node:tls as an array", () => {
    const tm = pki.trustMaterial();
    expect(tm.ca).toHaveLength(2);
    expect(tm.crl).toHaveLength(2);
    expect(tm.missingCrl).toEqual([]);
    for (const pem of tm.crl) {
      expect(pem).toMatch(/^-----BEGIN X509 CRL-----/); // the label OpenSSL reads
      expect(new x509.X509Crl(pem).entries).toHaveLength(0);
    }
    expect(read(tm.crlFile).match(/BEGIN X509 CRL/g)).toHaveLength(2);
    expect(read(tm.caFile).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it.skipIf(!hasOpenssl)("is accepted by openssl as CA material", () => {
    const r = openssl(["verify", "-CAfile", join(pki.dir, "ca/root.cert.pem"), join(pki.dir, "ca/intermediate.cert.pem")]);
    expect(r.out).toContain(": OK");
    const crl = openssl(["crl", "-in", pki.trustMaterial().crlFile, "-noout", "-text"]);
    expect(crl.code).toBe(0);
    expect(crl.out).toContain("X509v3 CRL Number");
  });
});

describe("option 1: thing create", () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await Pki.open(dir("opt1"));
    await pki.initCa({ intermediate: true });
  });

  it("issues an RSA-2048 client certificate from the intermediate with the device profile", async () => {
    const files = await pki.createThing("button-a");
    const c = cert(files.certPath);
    expect(c.subject).toBe("CN=button-a");
    expect(c.issuer).toBe(cert(join(pki.dir, "ca/intermediate.cert.pem")).subject);
    const bc = c.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.critical]).toEqual([false, true]);
    const ku = c.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    expect(c.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(c.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      cert(join(pki.dir, "ca/intermediate.cert.pem")).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    expect((c.publicKey.algorithm as RsaHashedKeyAlgorithmLike).modulusLength ?? 2048).toBe(2048);
    expect(read(files.keyPath)).toMatch(PEM_KEY_HEADER.pkcs8);
    expect(mode(files.keyPath)).toBe(0o600);
    expect(read(files.chainPath).match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(read(files.caPath)).toBe(read(join(pki.dir, "ca/root.cert.pem")));
    // Random, positive, 16-byte serials.
    const other = cert((await pki.createThing("button-b", { keyType: "ec" })).certPath);
    expect(c.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/);
    expect(other.serialNumber).not.toBe(c.serialNumber);
    expect(other.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
  });

  it("records the thing in the registry as ACTIVE, issued by create", () => {
    const t = pki.listThings().find((x) => x.name === "button-a")!;
    expect(t).toMatchObject({ state: "ACTIVE", issuedBy: "create", keyType: "RSA-2048", certificates: 1 });
    expect(pki.thingState("button-a")).toBe("ACTIVE");
    expect(pki.thingState("nobody")).toBeUndefined();
    expect(pki.certificateState(t.fingerprint256!.replace(/:/g, "").toLowerCase())).toBe("ACTIVE");
  });

  it("refuses invalid thing names and duplicates", async () => {
    await expect(pki.createThing("bad name")).rejects.toThrow(/invalid thing name "bad name"/);
    await expect(pki.createThing("a:b")).rejects.toThrow(/invalid thing name/);
    await expect(pki.createThing("x".repeat(129))).rejects.toThrow(/invalid thing name/);
    await expect(pki.createThing("button-a")).rejects.toThrow(/already exists \(ACTIVE\)/);
  });

  it.skipIf(!hasOpenssl)("verifies with openssl through the intermediate, as a TLS client", () => {
    const files = pki.thingFiles("button-a")!;
    const r = openssl([
      "verify", "-purpose", "sslclient", "-x509_strict",
      "-CAfile", join(pki.dir, "ca/root.cert.pem"),
      "-untrusted", join(pki.dir, "ca/intermediate.cert.pem"),
      files.certPath,
    ]);
    expect(r.out).toContain(": OK");
    // The chain file alone is enough too, and the server purpose is refused.
    const wrong = openssl(["verify", "-purpose", "sslserver", "-CAfile", join(pki.dir, "ca/root.cert.pem"), "-untrusted", files.chainPath, files.certPath]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/unsuitable certificate purpose|unsupported certificate purpose/);
  });

  it.skipIf(!hasOpenssl)("issues a broker certificate from the root with SAN DNS/IP and serverAuth", async () => {
    const b = await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1", "::1"] });
    expect(mode(b.keyPath)).toBe(0o600);
    const c = cert(b.certPath);
    expect(c.issuer).toBe(cert(join(pki.dir, "ca/root.cert.pem")).subject);
    expect(c.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    const r = openssl(["verify", "-purpose", "sslserver", "-x509_strict", "-CAfile", b.caPath, b.certPath]);
    expect(r.out).toContain(": OK");
    const text = openssl(["x509", "-in", b.certPath, "-noout", "-ext", "subjectAltName"]).out;
    expect(text).toContain("DNS:localhost");
    expect(text).toContain("IP Address:127.0.0.1");
    expect(text).toContain("IP Address:0:0:0:0:0:0:0:1");
    await expect(pki.createBrokerCert({ hosts: [], ips: ["not-an-ip"] })).rejects.toThrow(/not an IP address: not-an-ip/);
  });
});

describe("option 2: CSR", () => {
  let pki: Pki;
  let deviceDir: string;
  beforeAll(async () => {
    pki = await Pki.open(dir("opt2"));
    await pki.initCa({ intermediate: true, keyType: "ec" });
    deviceDir = dir("opt2-device");
  });

  it("issues from the CSR alone: the device key never reaches the CA side", async () => {
    const { keyPath, csrPath } = await createCsr("csr-device", { outDir: deviceDir });
    expect(mode(keyPath)).toBe(0o600);
    const keyPem = read(keyPath);
    const csrPem = read(csrPath);
    // Delete the key before signing: the CA cannot have read it.
    rmSync(keyPath);
    const signed = await pki.signCsr(csrPem);
    expect(signed.name).toBe("csr-device");
    const c = new x509.X509Certificate(signed.certPem);
    expect(c.subject).toBe("CN=csr-device");
    expect(Buffer.from(c.publicKey.rawData)).toEqual(Buffer.from(new x509.Pkcs10CertificateRequest(csrPem).publicKey.rawData));
    // No file on the CA side holds the key, and the thing has no key path.
    const keyBody = keyPem.split("\n").slice(1, 3).join("");
    for (const f of walk(pki.dir)) expect(readFileSync(f, "latin1").replace(/\n/g, "")).not.toContain(keyBody);
    expect(pki.thingFiles("csr-device")!.keyPath).toBe("");
    expect(pki.listThings().find((t) => t.name === "csr-device")?.issuedBy).toBe("csr");
  });

  it.skipIf(!hasOpenssl)("signs a CSR made by openssl, and the result verifies with openssl", async () => {
    const key = join(deviceDir, "ossl.key");
    const csr = join(deviceDir, "ossl.csr");
    expect(openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", "/CN=ossl-device", "-out", csr]).code).toBe(0);
    const signed = await pki.signCsr(read(csr));
    const certPath = join(deviceDir, "ossl.crt");
    writeFileSync(certPath, signed.certPem);
    const r = openssl(["verify", "-purpose", "sslclient", "-CAfile", signed.caPath, "-untrusted", signed.chainPath, certPath]);
    expect(r.out).toContain(": OK");
    // The certificate is for the key in the CSR.
    const certMod = openssl(["x509", "-in", certPath, "-noout", "-modulus"]).out;
    expect(openssl(["rsa", "-in", key, "-noout", "-modulus"]).out).toBe(certMod);
  });

  it("refuses a CSR whose signature does not verify", async () => {
    const { csrPath } = await createCsr("tampered", { outDir: deviceDir, keyType: "ec" });
    const der = Buffer.from(new x509.Pkcs10CertificateRequest(read(csrPath)).rawData);
    der[der.length - 5] ^= 0x01; // flip a bit in the signature
    const pem = x509.PemConverter.encode(der, "CERTIFICATE REQUEST");
    await expect(pki.signCsr(pem)).rejects.toThrow(/signature does not verify/);
    expect(pki.thingState("tampered")).toBeUndefined();
  });

  it("refuses a CSR whose CN is not a valid thing name, and a certificate given as a CSR", async () => {
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=not a thing",
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
    });
    await expect(pki.signCsr(csr.toString("pem"))).rejects.toThrow(/invalid thing name "not a thing"/);
    await expect(pki.signCsr(read(join(pki.dir, "ca/root.cert.pem")))).rejects.toThrow(/not a PEM certificate request \(found CERTIFICATE\)/);
  });
});

describe("option 3: bring your own CA", () => {
  let pki: Pki;
  let foreign: Pki;
  let stranger: Pki;
  beforeAll(async () => {
    pki = await Pki.open(dir("opt3"));
    await pki.initCa({ keyType: "ec" });
    foreign = await Pki.open(dir("opt3-foreign")); // the customer's own CA (they hold its key)
    await foreign.initCa({ intermediate: true, keyType: "ec" });
    stranger = await Pki.open(dir("opt3-stranger")); // a CA nobody registered
    await stranger.initCa({ keyType: "ec" });
    await foreign.createThing("byo-1", { keyType: "ec" });
    await stranger.createThing("byo-x", { keyType: "ec" });
  });

  it("trusts a registered CA's certificates and still refuses an unregistered CA's", async () => {
    const byo = read(foreign.thingFiles("byo-1")!.certPath);
    const strange = read(stranger.thingFiles("byo-x")!.certPath);
    expect((await pki.verify(byo)).reason).toBe("unknown-issuer");
    const chainPem = read(join(foreign.dir, "ca/intermediate.cert.pem")) + read(join(foreign.dir, "ca/root.cert.pem"));
    const added = await pki.registerCa(chainPem, { crlPem: read(foreign.trustMaterial().crlFile) });
    expect(added.map((a) => a.hasCrl)).toEqual([true, true]);
    expect((await pki.verify(byo)).ok).toBe(true);
    expect((await pki.verify(strange)).reason).toBe("unknown-issuer");
    const tm = pki.trustMaterial();
    expect(tm.ca).toHaveLength(3);
    expect(tm.crl).toHaveLength(3);
    expect(tm.missingCrl).toEqual([]);
  });

  it.skipIf(!hasOpenssl)("verifies with openssl against the trust bundle, CRLs checked", () => {
    const tm = pki.trustMaterial();
    const ok = openssl(["verify", "-crl_check_all", "-CAfile", tm.caFile, "-CRLfile", tm.crlFile, foreign.thingFiles("byo-1")!.certPath]);
    expect(ok.out).toContain(": OK");
    const no = openssl(["verify", "-CAfile", tm.caFile, stranger.thingFiles("byo-x")!.certPath]);
    expect(no.code).not.toBe(0);
    expect(no.out).toContain("unable to get local issuer certificate");
  });

  it("records a BYO certificate for a thing so it has a registry state", async () => {
    await pki.registerThingCertificate("byo-1", read(foreign.thingFiles("byo-1")!.certPath));
    expect(pki.listThings().find((t) => t.name === "byo-1")).toMatchObject({ state: "ACTIVE", issuedBy: "byo-ca" });
    await expect(pki.registerThingCertificate("other", read(foreign.thingFiles("byo-1")!.certPath))).rejects.toThrow(/CN is "byo-1", not "other"/);
    await expect(pki.registerThingCertificate("byo-x", read(stranger.thingFiles("byo-x")!.certPath))).rejects.toThrow(/unknown-issuer/);
  });

  it("refuses what is not a usable CA, and a CRL its CA did not sign", async () => {
    await expect(pki.registerCa(read(stranger.thingFiles("byo-x")!.certPath))).rejects.toThrow(/is not a CA certificate/);
    await expect(pki.registerCa(read(join(foreign.dir, "ca/root.cert.pem")))).rejects.toThrow(/already trusted/);
    await expect(pki.registerCa(read(join(stranger.dir, "ca/root.cert.pem")), { crlPem: foreign.trustMaterial().crl[0]! }))
      .rejects.toThrow(/is not signed by/);
    await expect(pki.registerCa("hello")).rejects.toThrow(/not a PEM certificate \(no PEM block found\)/);
    // An intermediate without its root cannot be anchored by OpenSSL.
    const other = await Pki.open(dir("opt3-other"));
    await other.initCa({ intermediate: true, keyType: "ec" });
    await expect(pki.registerCa(read(join(other.dir, "ca/intermediate.cert.pem")))).rejects.toThrow(/does not chain to a self-signed root/);
  });

  it("reports a registered CA without CRL, and takes its CRL later", async () => {
    const added = await pki.registerCa(read(join(stranger.dir, "ca/root.cert.pem")));
    expect(added[0]!.hasCrl).toBe(false);
    expect(pki.trustMaterial().missingCrl).toEqual([added[0]!.subject]);
    expect(await pki.importCrl(read(stranger.trustMaterial().crlFile))).toEqual([added[0]!.subject]);
    expect(pki.trustMaterial().missingCrl).toEqual([]);
  });
});

describe("registry states and revocation", () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await Pki.open(dir("states"));
    await pki.initCa({ intermediate: true, keyType: "ec" });
    await pki.createThing("rev-me", { keyType: "ec" });
    await pki.createThing("pause-me", { keyType: "ec" });
  });

  it("deactivates and activates without touching the CRL", async () => {
    const before = pki.trustMaterial().crl;
    await pki.setThingState("pause-me", "INACTIVE");
    expect(pki.thingState("pause-me")).toBe("INACTIVE");
    const fp = pki.listThings().find((t) => t.name === "pause-me")!.fingerprint256!;
    expect(pki.certificateState(fp)).toBe("INACTIVE");
    const v = await pki.verify(read(pki.thingFiles("pause-me")!.certPath));
    expect(v.reason).toBe("inactive");
    expect(pki.trustMaterial().crl).toEqual(before);
    await pki.setThingState("pause-me", "ACTIVE");
    expect((await pki.verify(read(pki.thingFiles("pause-me")!.certPath))).ok).toBe(true);
  });

  it("revokes into the issuing CA's CRL; revocation is final until a new certificate", async () => {
    const oldCert = read(pki.thingFiles("rev-me")!.certPath);
    const serial = new x509.X509Certificate(oldCert).serialNumber;
    await pki.setThingState("rev-me", "REVOKED");
    const [rootCrl, interCrl] = pki.trustMaterial().crl.map((p) => new x509.X509Crl(p));
    expect(rootCrl!.entries).toHaveLength(0);
    expect(interCrl!.findRevoked(serial)).not.toBeNull();
    expect((await pki.verify(oldCert)).reason).toBe("revoked");
    await expect(pki.setThingState("rev-me", "ACTIVE")).rejects.toThrow(/revocation is final/);
    await expect(pki.setThingState("ghost", "INACTIVE")).rejects.toThrow(/unknown thing ghost/);
    // A new certificate makes the thing ACTIVE again; the old one stays revoked.
    const fresh = await pki.createThing("rev-me", { keyType: "ec" });
    expect(pki.thingState("rev-me")).toBe("ACTIVE");
    expect((await pki.verify(read(fresh.certPath))).ok).toBe(true);
    expect((await pki.verify(oldCert)).reason).toBe("revoked");
    expect(pki.listThings().find((t) => t.name === "rev-me")?.certificates).toBe(2);
  });

  it.skipIf(!hasOpenssl)("openssl sees the revocation through the CRL bundle", () => {
    const tm = pki.trustMaterial();
    const dirOut = dir("states-ossl");
    const old = join(dirOut, "old.pem");
    const reg = readRegistry(pki.dir);
    const revoked = reg.certificates.find((c) => c.state === "REVOKED")!;
    writeFileSync(old, read(join(pki.dir, revoked.certFile)));
    const r = openssl(["verify", "-crl_check_all", "-CAfile", tm.caFile, "-CRLfile", tm.crlFile, old]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("certificate revoked");
  });

  it("reads the registry fresh: another process's change is seen at once", async () => {
    const other = await Pki.open(pki.dir);
    await other.setThingState("pause-me", "INACTIVE");
    expect(pki.thingState("pause-me")).toBe("INACTIVE");
    await other.setThingState("pause-me", "ACTIVE");
  });
});

describe("verify", () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await Pki.open(dir("verify"));
    await pki.initCa({ keyType: "ec" });
  });

  it("explains each failure", async () => {
    const now = Date.now();
    const expired = await pki.createThing("old", { keyType: "ec", notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
    const future = await pki.createThing("future", { keyType: "ec", notBefore: new Date(now + DAY), notAfter: new Date(now + 10 * DAY) });
    const broker = await pki.createBrokerCert({ hosts: ["localhost"], ips: [], keyType: "ec" });
    const e = await pki.verify(read(expired.certPath));
    expect(e).toMatchObject({ ok: false, reason: "expired" });
    expect(e.message).toMatch(/^expired: CN=old expired on /);
    expect((await pki.verify(read(future.certPath))).reason).toBe("not-yet-valid");
    expect((await pki.verify(read(broker.certPath), { purpose: "client" })).reason).toBe("wrong-key-usage");
    expect((await pki.verify(read(broker.certPath), { purpose: "server" })).ok).toBe(true);
  });

  it("describes the chain: subjects, validity, key, SHA-256 fingerprint", async () => {
    const t = await pki.createThing("described");
    const v = await pki.verify(read(t.certPath));
    expect(v.ok).toBe(true);
    expect(v.chain).toHaveLength(2);
    expect(v.chain[0]).toMatchObject({ subject: "CN=described", key: "RSA-2048", isCa: false });
    expect(v.chain[1]).toMatchObject({ key: "EC P-256", isCa: true, trust: "root" });
    expect(v.chain[0]!.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    if (hasOpenssl) {
      const fp = openssl(["x509", "-in", t.certPath, "-noout", "-fingerprint", "-sha256"]).out;
      expect(fp).toContain(v.chain[0]!.fingerprint256);
    }
  });
});

describe("registry states asked on every CONNECT", () => {
  it("a long-lived Pki sees a state change committed by another process at once", async () => {
    const d = dir("stamp");
    const broker = await Pki.open(d); // the broker's instance
    await broker.initCa({ keyType: "ec" });
    await broker.createThing("stamp-me", { keyType: "ec" });
    expect(broker.thingState("stamp-me")).toBe("ACTIVE");
    expect(broker.thingState("stamp-me")).toBe("ACTIVE");

    const cli = await Pki.open(d); // `npm run pki -- thing deactivate` in another process
    await cli.setThingState("stamp-me", "INACTIVE");
    expect(broker.thingState("stamp-me")).toBe("INACTIVE");
    const fp = cli.listThings().find((t) => t.name === "stamp-me")!.fingerprint256!;
    expect(broker.certificateState(fp)).toBe("INACTIVE");
  });
});

describe("file hygiene", () => {
  it("never leaves a private key readable by others anywhere in the PKI dir", async () => {
    const pki = await Pki.open(dir("hygiene"));
    await pki.initCa({ intermediate: true, keyType: "ec" });
    await pki.createThing("h1", { keyType: "ec" });
    await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"], keyType: "ec" });
    const files = walk(pki.dir);
    const keys = files.filter((f) => read(f).includes("PRIVATE KEY"));
    expect(keys.length).toBe(4);
    for (const f of keys) expect(mode(f)).toBe(0o600);
    expect(files.some((f) => f.endsWith(".tmp"))).toBe(false);
    expect(mode(join(pki.dir, "registry.db"))).toBe(0o600);
    for (const f of files.filter((f) => f.includes("registry.db"))) expect(mode(f), f).toBe(0o600);
    expect(readFileSync(join(pki.dir, "registry.db")).includes("PRIVATE KEY")).toBe(false);
  });
});

/** The library types Algorithm from the DOM lib, which this project does not load. */
const algName = (a: unknown) => (a as { name: string }).name;
type RsaHashedKeyAlgorithmLike = { modulusLength?: number };
type EcdsaParams = { name: string; hash: string };
