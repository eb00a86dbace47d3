// Open connections are checked again when the registry or the CRLs change: a certificate that became
// REVOKED (registry or CRL) or whose thing became INACTIVE must not keep acting on a connection it opened
// before. The CRL check matches the certificate's issuer name (DER) and serial against every CRL entry.
import type { Client } from "aedes";
import { normalizeSerial, x509 } from "../../tools/pki/crypto";
import type { CertificateBinding, ThingState } from "./broker-types";
import { bindingRefusal } from "./connect-decision";
import type { Peer } from "./peer";

/** Issuer name (DER, hex) → revoked serials (normalized), from PEM CRLs. A CRL that does not parse is skipped. */
export function revokedSerials(crls: readonly string[]): Map<string, Set<string>> {
  const index = new Map<string, Set<string>>();
  for (const pem of crls) {
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(pem);
    } catch {
      continue; // node:tls refused it already in updateTrust; nothing to match against
    }
    const issuer = Buffer.from(crl.issuerName.toArrayBuffer()).toString("hex");
    const serials = index.get(issuer) ?? new Set<string>();
    for (const entry of crl.entries) serials.add(normalizeSerial(entry.serialNumber));
    index.set(issuer, serials);
  }
  return index;
}

/** Is this DER certificate on one of the indexed CRLs? */
export function isOnCrl(certificateDer: Buffer | undefined, revoked: Map<string, Set<string>>): boolean {
  if (!certificateDer || revoked.size === 0) return false;
  try {
    const cert = new x509.X509Certificate(certificateDer);
    const issuer = Buffer.from(cert.issuerName.toArrayBuffer()).toString("hex");
    return revoked.get(issuer)?.has(normalizeSerial(cert.serialNumber)) ?? false;
  } catch {
    return false;
  }
}

type Lookup<K, V> = (key: K) => V | undefined | Promise<V | undefined>;

export interface RevalidatorOptions {
  /** The clients past CONNACK, with what the broker knows about them. */
  clients(): Array<{ client: Client; peer: Peer | undefined }>;
  /** The current CRL index (revokedSerials of the trusted CRLs). */
  crls(): Map<string, Set<string>>;
  identify?: Lookup<string, CertificateBinding>;
  thingState?: Lookup<string, ThingState>;
  certificateState?: Lookup<string, ThingState>;
  /** Ends one client's access: mark it, log it, close it. */
  withdraw(client: Client, peer: Peer, reason: string, trigger: string): void;
  onError(reason: string): void;
}

/**
 * Checks every open client again and withdraws those whose certificate or thing became REVOKED or
 * INACTIVE (registry) or whose certificate is on a CRL. Resolves to how many it closed.
 */
export function revalidator(opts: RevalidatorOptions): (trigger: string) => Promise<number> {
  /** Why an open client may no longer act, or undefined. */
  async function withdrawal(peer: Peer): Promise<string | undefined> {
    const identity = peer.identity!;
    try {
      if (opts.identify) {
        const refusal = bindingRefusal(await opts.identify(identity.fingerprint256));
        if (refusal) return refusal;
      }
      for (const [subject, lookup, key] of [
        ["thing", opts.thingState, identity.thingName],
        ["certificate", opts.certificateState, identity.fingerprint256],
      ] as const) {
        const state = lookup ? await lookup(key) : undefined;
        if (state === "REVOKED" || state === "INACTIVE") return `${subject} is ${state}`;
      }
    } catch (err) {
      // The registry could not be read: keep the connection (it was checked at CONNECT); say so.
      opts.onError(`revalidation: thing registry unavailable: ${(err as Error).message}`);
      return undefined;
    }
    return isOnCrl(peer.certificateDer, opts.crls()) ? "certificate is on a CRL" : undefined;
  }

  return async function revalidate(trigger) {
    let closed = 0;
    for (const { client, peer } of opts.clients()) {
      if (!peer?.identity || peer.closing) continue;
      const reason = await withdrawal(peer);
      if (reason === undefined || peer.closing) continue;
      opts.withdraw(client, peer, reason, trigger);
      closed++;
    }
    return closed;
  };
}
