// Registry state: what the broker and the CLI ask of the registry (a thing's or a certificate's state,
// the thing a certificate is bound to, the list of things) and the state changes (deactivate, activate,
// revoke, renewal lifetime).
import { normalizeFingerprint } from "./crypto";
import { fail } from "./errors";
import type { IssuedBy, ThingState } from "./registry";
import { now, type PkiContext } from "./context";
import { writeCrlsIn } from "./crl";

/** The thing a certificate is registered to, as the broker binds a connection to it (by fingerprint). */
export interface CertificateBinding {
  thing: string;
  /** "service" for a reserved service identity (the restaurant), else "device". */
  kind: "device" | "service";
  /** The certificate's own state. */
  state: ThingState;
  /** The thing's state (deactivate/activate act on the thing). */
  thingState: ThingState;
}

export interface ThingSummary {
  name: string;
  state: ThingState;
  kind?: "service";
  issuedBy?: IssuedBy;
  serial?: string;
  fingerprint256?: string;
  keyType?: string;
  notAfter?: string;
  issuer?: string;
  certificates: number;
}

export async function setThingState(ctx: PkiContext, name: string, state: ThingState): Promise<void> {
  return ctx.store.update(async (reg) => {
    const thing = reg.things[name];
    if (!thing) fail(`unknown thing ${name}`);
    if (thing.state === "REVOKED" && state !== "REVOKED") {
      fail(`thing ${name} is revoked; revocation is final: issue a new certificate with "thing create" or "ca sign"`);
    }
    const t = now();
    for (const c of reg.certificates) {
      if (c.thing !== name || c.state === "REVOKED") continue;
      c.state = state;
      if (state === "REVOKED") c.revokedAt = t;
    }
    thing.state = state;
    thing.updatedAt = t;
    // The CRLs are signed from this transaction's rows, so a revocation and its CRL commit together.
    if (state === "REVOKED") await writeCrlsIn(ctx, reg);
  });
}

/** The lifetime of the thing's renewed certificates (`thing lifetime`); undefined: the held one's. */
export async function setRenewalLifetime(ctx: PkiContext, name: string, days: number | undefined): Promise<void> {
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650)) fail(`a renewal lifetime is 1 to 3650 days, not ${days}`);
  await ctx.store.update((reg) => {
    const thing = reg.things[name];
    if (!thing) fail(`unknown thing ${name}`);
    if (days === undefined) delete thing.renewalDays;
    else thing.renewalDays = days;
    thing.updatedAt = now();
  });
}

export function thingState(ctx: PkiContext, name: string): ThingState | undefined {
  return ctx.store.thingState(name)?.state;
}

/** State of one certificate by SHA-256 fingerprint (Node's fingerprint256 format or plain hex). */
export function certificateState(ctx: PkiContext, fp: string): ThingState | undefined {
  return ctx.store.clientCertificate(normalizeFingerprint(fp))?.state;
}

/** The thing a client certificate is registered to (by SHA-256 fingerprint), or undefined if none. */
export function certificateBinding(ctx: PkiContext, fp: string): CertificateBinding | undefined {
  const cert = ctx.store.clientCertificate(normalizeFingerprint(fp));
  const thing = cert && ctx.store.thingState(cert.thing);
  if (!cert || !thing) return undefined;
  return { thing: cert.thing, kind: thing.kind, state: cert.state, thingState: thing.state };
}

export function listThings(ctx: PkiContext): ThingSummary[] {
  const reg = ctx.registry();
  return Object.values(reg.things)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((t) => {
      const certs = reg.certificates.filter((c) => c.thing === t.name);
      const last = certs[certs.length - 1];
      return {
        name: t.name,
        state: t.state,
        ...(t.kind === "service" ? { kind: t.kind } : {}),
        certificates: certs.length,
        ...(last
          ? { issuedBy: last.issuedBy, serial: last.serial, fingerprint256: last.fingerprint256, keyType: last.keyType, notAfter: last.notAfter, issuer: last.issuer }
          : {}),
      };
    });
}
