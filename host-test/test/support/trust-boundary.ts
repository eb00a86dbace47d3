// Pieces for the trust-boundary suites: the PKI tool run in-process as an operator runs it, the
// `npm run broker` service started in-process on a PKI dir (its events collected), another
// installation's CA (a bring-your-own CA, or a stand-in for AWS IoT's), and certificates a CA signed
// without its registry knowing (a mis-issued or leaked certificate).
import { readFileSync } from "node:fs";
import path from "node:path";
import { startBrokerService, type BrokerService } from "../../../services/broker/service";
import { runCli } from "../../../tools/pki/cli";
import { generateKeyPair, importSigningKey, loadPrivateKey, parseCertificate, privateKeyToPem } from "../../../tools/pki/crypto";
import { layout } from "../../../tools/pki/layout";
import { Pki } from "../../../tools/pki/pki";
import { createEndEntity, validity } from "../../../tools/pki/profiles";
import type { Credentials } from "./security-pki";

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** `npm run pki -- --pki-dir <dir> …`, in-process. */
export async function pkiCli(dir: string, ...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(["--pki-dir", dir, ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/**
 * A client certificate with CN `commonName`, signed by the issuing CA of the PKI in `pkiDir` (the
 * intermediate when there is one), that the PKI's registry does not record. `brokerCa`: what the
 * client trusts for the broker.
 */
export async function signOutsideRegistry(pkiDir: string, commonName: string, brokerCa: string): Promise<Credentials> {
  const file = (rel: string) => path.join(pkiDir, rel);
  let certRel = layout.rootCert;
  let keyRel = layout.rootKey;
  let chainTail = "";
  try {
    chainTail = readFileSync(file(layout.intermediateCert), "utf8").trim() + "\n";
    certRel = layout.intermediateCert;
    keyRel = layout.intermediateKey;
  } catch {
    // no intermediate: the root issues
  }
  const key = loadPrivateKey(readFileSync(file(keyRel)), keyRel);
  const issuer = { cert: parseCertificate(readFileSync(file(certRel), "utf8"), certRel), key: await importSigningKey(key), keyType: key.keyType };
  const keys = await generateKeyPair("ec");
  const cert = await createEndEntity({ issuer, publicKey: keys.publicKey, subjectKeyType: "ec", commonName, kind: "client", ...validity(2) });
  return { ca: brokerCa, cert: cert.toString("pem") + "\n" + chainTail, key: await privateKeyToPem(keys.privateKey) };
}

/** Another installation's CA: its root and CRL as files, and certificates it issues with any CN. */
export interface ForeignCa {
  dir: string;
  rootPath: string;
  crlPath: string;
  issue(commonName: string, brokerCa: string): Promise<Credentials>;
  /** Issues through their own PKI (so they can revoke it); the certificate PEM and its key. */
  issueRevocable(commonName: string, brokerCa: string): Promise<Credentials>;
  /** Revokes a certificate issued with issueRevocable: their CRL (crlPath) then lists it. */
  revoke(commonName: string): Promise<void>;
}

export async function foreignCa(dir: string): Promise<ForeignCa> {
  const pki = await Pki.open(dir);
  await pki.initCa({ keyType: "ec" });
  return {
    dir: pki.dir,
    rootPath: path.join(pki.dir, layout.rootCert),
    crlPath: path.join(pki.dir, layout.rootCrl),
    issue: (commonName, brokerCa) => signOutsideRegistry(pki.dir, commonName, brokerCa),
    async issueRevocable(commonName, brokerCa) {
      const files = await pki.createThing(commonName, { keyType: "ec" });
      return { ca: brokerCa, cert: readFileSync(files.certPath, "utf8"), key: readFileSync(files.keyPath, "utf8") };
    },
    revoke: (commonName) => pki.setThingState(commonName, "REVOKED"),
  };
}

export interface ServiceEvent {
  source: string;
  event: string;
  [field: string]: unknown;
}

export interface TestBrokerService {
  readonly url: string;
  readonly events: ServiceEvent[];
  readonly service: BrokerService;
  /** Resolves with the first event from index `from` matching; rejects after timeoutMs. */
  waitFor(match: (e: ServiceEvent) => boolean, what: string, from?: number, timeoutMs?: number): Promise<ServiceEvent>;
  close(): Promise<void>;
}

/** `npm run broker` on `pkiDir`, in this process, on a free loopback port. */
export async function startBrokerServiceOn(pkiDir: string, config: Record<string, unknown> = {}): Promise<TestBrokerService> {
  const events: ServiceEvent[] = [];
  const service = await startBrokerService(
    {
      host: "127.0.0.1",
      port: 0,
      pkiDir,
      rules: "policy",
      defaultPolicies: true,
      topicPrefix: "pizza",
      region: "*",
      account: "*",
      maxPacketBytes: 64 * 1024,
      ...config,
    } as Parameters<typeof startBrokerService>[0],
    (source, event, fields = {}) => events.push({ source, event, ...fields }),
  );
  return {
    url: service.broker.url,
    events,
    service,
    async waitFor(match, what, from = 0, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.slice(from).find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${JSON.stringify(events.slice(from).map((e) => e.event))}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () => service.close(),
  };
}
