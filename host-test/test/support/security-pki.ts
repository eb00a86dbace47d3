// A throw-away PKI for the reliability/security suites, made with the project's PKI library in a temp dir:
// a CA, a broker certificate for 127.0.0.1, and things issued on demand (valid, expired, not yet valid,
// revoked), plus identities the PKI would never issue (another CA's, a self-signed one).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateKeyPair, privateKeyToPem, signingAlgorithm, x509 } from "../../../tools/pki/crypto";
import { Pki, type KeyType, type TrustMaterial } from "../../../tools/pki/pki";
import { isServiceName } from "../../../tools/pki/reserved";

/** What an MQTT client presents: the CA it trusts for the broker, its certificate (chain) and key. */
export interface Credentials {
  ca: string;
  cert: string;
  key: string;
}

export interface SecurityPki {
  dir: string;
  pki: Pki;
  /** Root CA PEM: clients verify the broker with it. */
  caPem: string;
  broker: { key: string; cert: string };
  /** Issues a thing (EC P-256 unless keyType says otherwise) and returns its client credentials. */
  thing(name: string, opts?: { keyType?: KeyType; notBefore?: Date; notAfter?: Date }): Promise<Credentials>;
  /** Credentials of a thing issued before. */
  credentials(name: string): Credentials;
  trust(): TrustMaterial;
  remove(): void;
}

export async function createSecurityPki(label: string, opts: { keyType?: KeyType } = {}): Promise<SecurityPki> {
  const keyType = opts.keyType ?? "ec";
  const dir = mkdtempSync(path.join(tmpdir(), `pizza-${label}-`));
  const pki = await Pki.open(path.join(dir, "pki"));
  await pki.initCa({ keyType });
  const server = await pki.createBrokerCert({ hosts: ["localhost"], ips: ["127.0.0.1"], keyType });
  const caPem = readFileSync(server.caPath, "utf8");
  const credentials = (name: string): Credentials => {
    const files = pki.thingFiles(name);
    if (!files?.keyPath) throw new Error(`no thing ${name} with a key in ${dir}`);
    return { ca: caPem, cert: readFileSync(files.chainPath, "utf8"), key: readFileSync(files.keyPath, "utf8") };
  };
  return {
    dir,
    pki,
    caPem,
    broker: { key: readFileSync(server.keyPath, "utf8"), cert: readFileSync(server.certPath, "utf8") },
    async thing(name, thingOpts = {}) {
      // Service names (the restaurant) are reserved: only the service command issues them.
      if (isServiceName(name)) await pki.createService(name, { keyType });
      else await pki.createThing(name, { keyType, ...thingOpts });
      return credentials(name);
    },
    credentials,
    trust: () => pki.trustMaterial(),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A self-signed end-entity certificate with the given CN (nobody issued it), trusting `caPem` for the broker. */
export async function selfSignedCredentials(commonName: string, caPem: string): Promise<Credentials> {
  const keys = await generateKeyPair("ec");
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${commonName}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: signingAlgorithm("ec") as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]["signingAlgorithm"],
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return { ca: caPem, cert: cert.toString("pem"), key: await privateKeyToPem(keys.privateKey) };
}

export const DAY_MS = 86_400_000;
