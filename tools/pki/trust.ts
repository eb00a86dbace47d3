// What a TLS server or a verifier trusts: every CA of the PKI dir (own and registered) with its CRL,
// as PEMs for node:tls, as bundle files for mosquitto, and as parsed certificates for verify.ts.
import { existsSync, readFileSync } from "node:fs";
import { parseCertificate, x509 } from "./crypto";
import { layout } from "./layout";
import type { CaRecord } from "./registry";
import { verifyCertificate, type VerifyOptions, type VerifyResult } from "./verify";
import type { PkiContext } from "./context";
import { certificateState } from "./state";

export interface TrustMaterial {
  /** PEMs of every trusted CA: root, intermediate, registered CAs. For node:tls `ca`. */
  ca: string[];
  /** PEMs of every CRL we hold: one per owned CA (always), plus those given for registered CAs. For node:tls `crl`. */
  crl: string[];
  /** The same as files, for mosquitto `cafile` / `crlfile`. */
  caFile: string;
  crlFile: string;
  /**
   * Subjects of trusted CAs without a CRL (registered without --crl). node:tls with `crl` set refuses
   * every certificate from such a CA ("unable to get certificate CRL"): register its CRL.
   */
  missingCrl: string[];
}

export interface TrustedCa {
  rec: CaRecord;
  cert: x509.X509Certificate;
  crl?: x509.X509Crl;
}

export function trustMaterial(ctx: PkiContext): TrustMaterial {
  const reg = ctx.registry();
  ctx.requireCa(reg);
  const crl: string[] = [];
  const missingCrl: string[] = [];
  for (const c of reg.cas) {
    if (c.crlFile && existsSync(ctx.path(c.crlFile))) crl.push(readFileSync(ctx.path(c.crlFile), "utf8"));
    else missingCrl.push(c.subject);
  }
  return {
    ca: reg.cas.map((c) => ctx.caPem(c)),
    crl,
    caFile: ctx.path(layout.trustBundle),
    crlFile: ctx.path(layout.crlBundle),
    missingCrl,
  };
}

/** Trusted CA certificates with their CRLs, for verification. */
export function trustedCas(ctx: PkiContext): TrustedCa[] {
  const reg = ctx.registry();
  return reg.cas.map((rec) => ({
    rec,
    cert: parseCertificate(readFileSync(ctx.path(rec.certFile), "utf8"), rec.certFile),
    ...(rec.crlFile && existsSync(ctx.path(rec.crlFile)) ? { crl: new x509.X509Crl(readFileSync(ctx.path(rec.crlFile), "utf8")) } : {}),
  }));
}

export async function verify(ctx: PkiContext, certPem: string, opts: VerifyOptions): Promise<VerifyResult> {
  return verifyCertificate(certPem, {
    ...opts,
    trusted: trustedCas(ctx),
    certificateState: (fp) => certificateState(ctx, fp),
  });
}
