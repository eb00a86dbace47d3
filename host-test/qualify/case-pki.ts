// Certificates for the qualification cases, made fresh for each run with the PKI tool's profiles: a root
// the device trusts, its device certificate (RSA-2048, CN = thing name), and one server certificate per
// TLS case (good, wrong name, another CA, expired, not yet valid, behind an intermediate, a large chain).
// Private keys stay in memory, except the device's, written 0600 for the firmware build (DER, as
// `npm run pki -- export moddable` writes it) into the run's temporary folder.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair, privateKeyToPem, subtle, type CryptoKeyPair, type KeyType } from "../../tools/pki/crypto";
import { createEndEntity, createSelfSignedCa, createSubordinateCa, type Issuer } from "../../tools/pki/profiles";

export const SERVER_HOST = "localhost";
/** Extra DNS names on the large chain's leaf: with them, leaf + intermediate are about 8 KB of DER. */
const LARGE_CHAIN_EXTRA_NAMES = 118;
const DAY = 86_400_000;

export interface ServerIdentity {
  /** PEM: the server certificate followed by any intermediates it sends. */
  chain: string;
  key: string;
  /** Bytes of the certificate chain as sent in the TLS Certificate message (DER, all certificates). */
  chainBytes: number;
  describe: string;
}

export interface DeviceIdentityFiles {
  thingName: string;
  /** PEM, for the virtual button. */
  ca: string;
  cert: string;
  key: string;
  /** Folder with device.der, private-key.der, ca.der, for the firmware build. */
  firmwareDir: string;
}

export type ServerCertKind = "good" | "wrong-name" | "other-ca" | "expired" | "not-yet-valid" | "intermediate" | "large-chain";

export interface CasePki {
  device: DeviceIdentityFiles;
  /** The trusted root, to verify the device's client certificate on the case servers. */
  clientCa: string;
  server(kind: ServerCertKind): Promise<ServerIdentity>;
}

async function root(subject: string, keyType: KeyType = "rsa", rsaBits = 2048): Promise<Issuer> {
  const keys = await generateKeyPair(keyType, rsaBits);
  const cert = await createSelfSignedCa({
    keys,
    keyType,
    subject,
    pathLength: 1,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
  });
  return { cert, key: keys.privateKey, keyType };
}

async function intermediate(issuer: Issuer, subject: string, rsaBits: number): Promise<Issuer> {
  const keys = await generateKeyPair("rsa", rsaBits);
  const cert = await createSubordinateCa({
    issuer,
    publicKey: keys.publicKey,
    subject,
    pathLength: 0,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 180 * DAY),
  });
  return { cert, key: keys.privateKey, keyType: "rsa" };
}

async function leaf(
  issuer: Issuer,
  opts: { hosts: string[]; ips?: string[]; notBefore?: Date; notAfter?: Date; rsaBits?: number; keys?: CryptoKeyPair },
): Promise<{ pem: string; der: number; key: string }> {
  const keys = opts.keys ?? (await generateKeyPair("rsa", opts.rsaBits ?? 2048));
  const cert = await createEndEntity({
    issuer,
    publicKey: keys.publicKey,
    subjectKeyType: "rsa",
    commonName: opts.hosts[0]!,
    kind: "server",
    hosts: opts.hosts,
    ips: opts.ips ?? [],
    notBefore: opts.notBefore ?? new Date(Date.now() - DAY),
    notAfter: opts.notAfter ?? new Date(Date.now() + 30 * DAY),
  });
  return { pem: cert.toString("pem") + "\n", der: cert.rawData.byteLength, key: await privateKeyToPem(keys.privateKey) };
}

/** Many plausible DNS names, so the large chain is large the way real multi-tenant endpoints are. */
function manyNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `tenant-${String(i).padStart(3, "0")}.iot-endpoint.pizza-button.example`);
}

export async function createCasePki(options: { dir: string; thingName: string }): Promise<CasePki> {
  const trusted = await root("CN=Pizza Button Qualification Root");
  const deviceKeys = await generateKeyPair("rsa", 2048);
  const deviceCert = await createEndEntity({
    issuer: trusted,
    publicKey: deviceKeys.publicKey,
    subjectKeyType: "rsa",
    commonName: options.thingName,
    kind: "client",
    notBefore: new Date(Date.now() - DAY),
    // Beyond the button's 60-day renewal window: inside it the button would open a renewal connection after
    // each outcome, and the cases count connections.
    notAfter: new Date(Date.now() + 365 * DAY),
  });
  const caPem = trusted.cert.toString("pem") + "\n";
  const firmwareDir = join(options.dir, "device-identity");
  mkdirSync(firmwareDir, { recursive: true });
  writeFileSync(join(firmwareDir, "device.der"), new Uint8Array(deviceCert.rawData));
  writeFileSync(join(firmwareDir, "ca.der"), new Uint8Array(trusted.cert.rawData));
  const keyPath = join(firmwareDir, "private-key.der");
  writeFileSync(keyPath, new Uint8Array(await subtle.exportKey("pkcs8", deviceKeys.privateKey)), { mode: 0o600 });
  chmodSync(keyPath, 0o600);

  const cache = new Map<ServerCertKind, Promise<ServerIdentity>>();
  const make = async (kind: ServerCertKind): Promise<ServerIdentity> => {
    const hosts = [SERVER_HOST];
    const ips = ["127.0.0.1"];
    switch (kind) {
      case "good": {
        const l = await leaf(trusted, { hosts, ips });
        return { chain: l.pem, key: l.key, chainBytes: l.der, describe: "RSA-2048 leaf for localhost/127.0.0.1, issued by the trusted root" };
      }
      case "wrong-name": {
        const l = await leaf(trusted, { hosts: ["broker.other-company.example"], ips: ["10.9.8.7"] });
        return { chain: l.pem, key: l.key, chainBytes: l.der, describe: "trusted root, but the SAN names broker.other-company.example / 10.9.8.7 only" };
      }
      case "other-ca": {
        const l = await leaf(await root("CN=Some Other Root"), { hosts, ips });
        return { chain: l.pem, key: l.key, chainBytes: l.der, describe: "localhost/127.0.0.1, issued by a root the device does not trust" };
      }
      case "expired": {
        const l = await leaf(trusted, { hosts, ips, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
        return { chain: l.pem, key: l.key, chainBytes: l.der, describe: "trusted root, localhost, notAfter yesterday" };
      }
      case "not-yet-valid": {
        const l = await leaf(trusted, { hosts, ips, notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 30 * DAY) });
        return { chain: l.pem, key: l.key, chainBytes: l.der, describe: "trusted root, localhost, notBefore tomorrow" };
      }
      case "intermediate": {
        const ica = await intermediate(trusted, "CN=Pizza Button Qualification Issuing CA", 2048);
        const l = await leaf(ica, { hosts, ips });
        return {
          chain: l.pem + ica.cert.toString("pem") + "\n",
          key: l.key,
          chainBytes: l.der + ica.cert.rawData.byteLength,
          describe: "RSA-2048 leaf ← RSA-2048 intermediate ← trusted root; the server sends leaf + intermediate",
        };
      }
      case "large-chain": {
        const ica = await intermediate(trusted, "CN=Pizza Button Qualification Large Issuing CA RSA-4096", 4096);
        const names = [SERVER_HOST, ...manyNames(LARGE_CHAIN_EXTRA_NAMES)];
        const l = await leaf(ica, { hosts: names, ips, rsaBits: 4096 });
        return {
          chain: l.pem + ica.cert.toString("pem") + "\n",
          key: l.key,
          chainBytes: l.der + ica.cert.rawData.byteLength,
          describe: `RSA-4096 leaf with ${names.length + ips.length} SANs ← RSA-4096 intermediate ← trusted root`,
        };
      }
    }
  };
  return {
    device: { thingName: options.thingName, ca: caPem, cert: deviceCert.toString("pem") + "\n", key: await privateKeyToPem(deviceKeys.privateKey), firmwareDir },
    clientCa: caPem,
    server(kind) {
      let identity = cache.get(kind);
      if (!identity) {
        identity = make(kind);
        cache.set(kind, identity);
      }
      return identity;
    },
  };
}
