// The broker's own certificate is the one every button checks: when it expires, every button is refused at
// once. The broker service says so at start and once a day while it runs, from 30 days before (the window
// `npm run pki -- audit` uses for the broker), with the command that renews it without a restart.
import { X509Certificate } from "node:crypto";

export const BROKER_CERT_WARNING_DAYS = 30;
const DAY = 86_400_000;

export interface CertificateExpiryWarning {
  reason: string;
  notAfter: string;
  daysLeft: number;
  fix: string;
}

/** A warning when `certPem` expires within `windowDays` of `now` (or has expired); undefined otherwise. */
export function certificateExpiryWarning(
  certPem: string,
  opts: { pkiDir: string; now?: number; windowDays?: number },
): CertificateExpiryWarning | undefined {
  const cert = new X509Certificate(certPem);
  const notAfter = new Date(cert.validTo);
  const left = notAfter.getTime() - (opts.now ?? Date.now());
  if (left > (opts.windowDays ?? BROKER_CERT_WARNING_DAYS) * DAY) return undefined;
  const daysLeft = Math.trunc(left / DAY);
  return {
    reason: left <= 0 ? `the broker certificate expired on ${notAfter.toISOString()}: every button refuses this broker` : `the broker certificate expires in ${daysLeft} days (${notAfter.toISOString()}): every button will refuse this broker then`,
    notAfter: notAfter.toISOString(),
    daysLeft,
    fix: `npm run pki -- --pki-dir ${opts.pkiDir} broker cert --renew (the running broker picks it up)`,
  };
}

/** Checks now and every `intervalMs` (a day) with the certificate `read` returns at that time. */
export function watchCertificateExpiry(opts: {
  read(): string;
  pkiDir: string;
  log(event: string, fields: Record<string, unknown>): void;
  intervalMs?: number;
}): { close(): void } {
  const check = () => {
    try {
      const warning = certificateExpiryWarning(opts.read(), { pkiDir: opts.pkiDir });
      if (warning) opts.log("warning", { ...warning });
    } catch (error) {
      opts.log("warning", { reason: `cannot read the broker certificate to check its expiry: ${(error as Error).message}` });
    }
  };
  check();
  const timer = setInterval(check, opts.intervalMs ?? DAY);
  timer.unref();
  return { close: () => clearInterval(timer) };
}
