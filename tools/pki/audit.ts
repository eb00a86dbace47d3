// Certificate lifetime audit: every certificate and CRL the installation depends on, by time left.
// A device whose certificate expires shows auth-error until it is renewed or re-flashed; a broker whose
// certificate expires is refused by every button at once; an expired CRL makes node:tls and mosquitto
// refuse every certificate of its CA. The audit says which of these is close, early enough to act.
import { existsSync, readFileSync } from "node:fs";
import { x509, fingerprint256 } from "./crypto";
import { layout } from "./layout";
import { readRegistry } from "./registry";
import { join } from "node:path";

export type AuditKind = "thing" | "broker" | "ca" | "crl";
export type AuditStatus = "ok" | "expiring" | "expired";

export interface AuditEntry {
  kind: AuditKind;
  /** Thing name, "broker", the CA's registry id, or the CA id whose CRL it is. */
  name: string;
  subject: string;
  /** Certificates: notAfter. CRLs: nextUpdate (after it, the CRL is stale and its CA's certificates are refused). */
  expires: string;
  daysLeft: number;
  windowDays: number;
  status: AuditStatus;
  fingerprint256?: string;
  /** What to run about it, when it is inside its window. */
  action?: string;
}

export interface AuditWindows {
  /** Device (and restaurant) certificates: a button renews itself inside this window. */
  thing: number;
  broker: number;
  ca: number;
  crl: number;
}

/** Defaults: devices renew 60 days ahead; the broker's 397-day certificate is renewed 30 days ahead. */
export const DEFAULT_AUDIT_WINDOWS: AuditWindows = { thing: 60, broker: 30, ca: 60, crl: 30 };

const DAY = 86_400_000;

/**
 * Reads the PKI dir (registry, CA files, broker certificate, CRLs) and lists what expires, soonest first.
 * Things: the newest certificate of every thing that is not revoked (older ones are superseded by it).
 */
export function auditPki(dir: string, opts: { now?: Date; windows?: Partial<AuditWindows> } = {}): AuditEntry[] {
  const now = (opts.now ?? new Date()).getTime();
  const windows = { ...DEFAULT_AUDIT_WINDOWS, ...opts.windows };
  const reg = readRegistry(dir);
  const entries: AuditEntry[] = [];
  const add = (e: Omit<AuditEntry, "daysLeft" | "status">) => {
    const left = Date.parse(e.expires) - now;
    const status: AuditStatus = left <= 0 ? "expired" : left <= e.windowDays * DAY ? "expiring" : "ok";
    const entry: AuditEntry = { ...e, daysLeft: Math.trunc(left / DAY), status };
    if (status === "ok") delete entry.action;
    entries.push(entry);
  };

  for (const thing of Object.values(reg.things)) {
    if (thing.state === "REVOKED") continue;
    const certs = reg.certificates.filter((c) => c.thing === thing.name && c.kind === "client" && c.state !== "REVOKED");
    const newest = certs.reduce<(typeof certs)[number] | undefined>((a, c) => (a === undefined || Date.parse(c.notAfter) >= Date.parse(a.notAfter) ? c : a), undefined);
    if (!newest) continue;
    add({
      kind: "thing",
      name: thing.name,
      subject: newest.subject,
      expires: newest.notAfter,
      windowDays: windows.thing,
      fingerprint256: newest.fingerprint256,
      action: "the button renews itself when it next connects (npm run renewal); if it cannot: thing revoke + thing create",
    });
  }

  const brokerPath = join(dir, layout.brokerCert);
  if (existsSync(brokerPath)) {
    const cert = new x509.X509Certificate(readFileSync(brokerPath, "utf8"));
    add({
      kind: "broker",
      name: "broker",
      subject: cert.subject,
      expires: cert.notAfter.toISOString(),
      windowDays: windows.broker,
      fingerprint256: fingerprint256(cert.rawData),
      action: "npm run pki -- broker cert --renew (the running broker picks it up)",
    });
  }

  for (const ca of reg.cas) {
    const cert = new x509.X509Certificate(readFileSync(join(dir, ca.certFile), "utf8"));
    add({
      kind: "ca",
      name: ca.id,
      subject: cert.subject,
      expires: cert.notAfter.toISOString(),
      windowDays: windows.ca,
      fingerprint256: ca.fingerprint256,
      action: "plan a new CA and re-issue what it signed before it expires",
    });
    if (ca.crlFile && existsSync(join(dir, ca.crlFile))) {
      const crl = new x509.X509Crl(readFileSync(join(dir, ca.crlFile), "utf8"));
      if (crl.nextUpdate) {
        add({
          kind: "crl",
          name: ca.id,
          subject: crl.issuer,
          expires: crl.nextUpdate.toISOString(),
          windowDays: windows.crl,
          action: ca.keyFile ? "npm run pki -- crl (re-signs it)" : "ask the CA's owner for a new CRL, then ca import-crl",
        });
      }
    }
  }
  return entries.sort((a, b) => Date.parse(a.expires) - Date.parse(b.expires));
}

/** A table for people: soonest first, flagged rows marked. */
export function auditTable(entries: AuditEntry[]): string[] {
  const rows = entries.map((e) => [
    e.status === "ok" ? "" : e.status === "expired" ? "EXPIRED" : "RENEW",
    e.kind,
    e.name,
    e.expires.slice(0, 16).replace("T", " "),
    String(e.daysLeft),
    String(e.windowDays),
    e.action ?? "",
  ]);
  const head = ["FLAG", "KIND", "NAME", "EXPIRES (UTC)", "DAYS-LEFT", "WINDOW", "ACTION"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
}
