// A fleet of button identities for load tests and benchmarks: one client certificate per button, issued
// in memory by the PKI's own CA with the PKI library's certificate profile (tools/pki/profiles), EC P-256
// keys (host-only clients; the firmware needs RSA). Issuing through Pki.createThing would also write
// each thing's files and rewrite the registry every time (measured: ~14 ms per thing and growing); a
// fleet of 1,000 is issued here in about a second and recorded in the registry with one write (the
// brokers accept only certificates registered for their thing); they expire in 2 days.
import { readFileSync } from "node:fs";
import path from "node:path";
import { generateKeyPair, importSigningKey, loadPrivateKey, parseCertificate, privateKeyToPem } from "../../tools/pki/crypto";
import { layout } from "../../tools/pki/layout";
import { Pki } from "../../tools/pki/pki";
import { createEndEntity, validity, type Issuer } from "../../tools/pki/profiles";

export interface FleetMember {
  name: string;
  /** Leaf (+ intermediate when the PKI has one): what the client presents. */
  cert: string;
  /** PKCS#8 PEM. In memory only. */
  key: string;
}

export interface Fleet {
  members: FleetMember[];
  /** The root CA: what the buttons use to verify the broker. */
  ca: string;
  /** Wall time the issuance took. */
  issueMs: number;
}

export interface FleetOptions {
  /** A PKI dir made by tools/pki (Pki.initCa): its issuing CA signs the fleet. */
  pkiDir: string;
  count: number;
  /** Names are `${prefix}${index}`, zero-padded to 4 digits by default: load-button-0001. */
  prefix?: string;
  /** Certificates issued concurrently. */
  concurrency?: number;
}

/** The CA that issues client certificates: the intermediate when there is one, like Pki.createThing. */
async function issuerOf(pkiDir: string): Promise<{ issuer: Issuer; chainTail: string; root: string }> {
  const file = (rel: string) => path.join(pkiDir, rel);
  const root = readFileSync(file(layout.rootCert), "utf8");
  let certRel = layout.rootCert;
  let keyRel = layout.rootKey;
  let chainTail = "";
  try {
    readFileSync(file(layout.intermediateCert));
    certRel = layout.intermediateCert;
    keyRel = layout.intermediateKey;
    chainTail = readFileSync(file(layout.intermediateCert), "utf8").trim() + "\n";
  } catch {
    // no intermediate: the root issues
  }
  const key = loadPrivateKey(readFileSync(file(keyRel)), keyRel);
  const cert = parseCertificate(readFileSync(file(certRel), "utf8"), certRel);
  return { issuer: { cert, key: await importSigningKey(key), keyType: key.keyType }, chainTail, root };
}

export async function issueFleet(options: FleetOptions): Promise<Fleet> {
  const started = performance.now();
  const prefix = options.prefix ?? "load-button-";
  const concurrency = options.concurrency ?? 32;
  const { issuer, chainTail, root } = await issuerOf(options.pkiDir);
  const window = validity(2); // 2 days from 5 minutes ago
  const members: FleetMember[] = new Array(options.count);
  let next = 0;
  const worker = async () => {
    while (next < options.count) {
      const index = next++;
      const name = `${prefix}${String(index + 1).padStart(4, "0")}`;
      const keys = await generateKeyPair("ec");
      const cert = await createEndEntity({
        issuer,
        publicKey: keys.publicKey,
        subjectKeyType: "ec",
        commonName: name,
        kind: "client",
        ...window,
      });
      members[index] = { name, cert: cert.toString("pem") + "\n" + chainTail, key: await privateKeyToPem(keys.privateKey) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, options.count) }, worker));
  (await Pki.open(options.pkiDir)).recordFleet(
    members.map((m) => ({ name: m.name, certPem: m.cert })),
    `things/fleet-${prefix}certificates.pem`,
  );
  return { members, ca: root, issueMs: performance.now() - started };
}
