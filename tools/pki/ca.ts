// This PKI's own CA: a root, optionally an intermediate that issues the devices, made once per PKI dir.
import { fingerprint256, generateKeyPair, privateKeyToPem, x509, type KeyType } from "./crypto";
import { fail } from "./errors";
import { writePublic, writeSecret } from "./files";
import { layout } from "./layout";
import { createSelfSignedCa, createSubordinateCa, validity } from "./profiles";
import type { CaRecord, RegistryData } from "./registry";
import { DEFAULT_VALID_DAYS, now, type PkiContext } from "./context";
import { writeCrlsIn } from "./crl";

export interface CaOptions {
  intermediate?: boolean;
  validDays?: number;
  keyType?: KeyType;
}

/** A short random tag in the CA names, so two installations' CAs are told apart. */
function installationTag(): string {
  return Math.random().toString(16).slice(2, 8);
}

export async function initCa(ctx: PkiContext, opts: CaOptions): Promise<void> {
  await ctx.store.update((reg) => initCaIn(ctx, reg, opts));
}

async function initCaIn(ctx: PkiContext, reg: RegistryData, opts: CaOptions): Promise<void> {
  if (reg.cas.some((c) => c.role === "root")) {
    const kind = reg.cas.some((c) => c.role === "intermediate") ? "a root and an intermediate that issues devices" : "a root that issues devices";
    fail(
      `a CA already exists in ${ctx.dir} (${kind}; npm run simulate and npm run broker create one on first use): keep using it, ` +
        `every command works with it. To start over, e.g. with --intermediate, move ${ctx.dir} away first ` +
        `(it holds every device's key; devices it issued are no longer trusted), or pass --pki-dir <another dir>`,
    );
  }
  const keyType = opts.keyType ?? "rsa";
  const tag = installationTag();
  const rootKeys = await generateKeyPair(keyType);
  const rootValid = validity(opts.validDays ?? DEFAULT_VALID_DAYS.root);
  const rootCert = await createSelfSignedCa({
    keys: rootKeys,
    keyType,
    subject: `CN=pizza-button Root CA ${tag}, O=pizza-button local PKI`,
    pathLength: opts.intermediate ? 1 : 0,
    ...rootValid,
  });
  writeSecret(ctx.path(layout.rootKey), await privateKeyToPem(rootKeys.privateKey));
  writePublic(ctx.path(layout.rootCert), rootCert.toString("pem") + "\n");
  reg.cas.push(caRecord("root", "root", rootCert, layout.rootCert, layout.rootKey, layout.rootCrl));
  const root = { cert: rootCert, key: rootKeys.privateKey, keyType };
  ctx.rememberIssuer("root", root);

  if (opts.intermediate) {
    const keys = await generateKeyPair(keyType);
    const days = Math.min(opts.validDays ?? DEFAULT_VALID_DAYS.intermediate, DEFAULT_VALID_DAYS.intermediate);
    const cert = await createSubordinateCa({
      issuer: root,
      publicKey: keys.publicKey,
      subject: `CN=pizza-button Device CA ${tag}, O=pizza-button local PKI`,
      pathLength: 0,
      notBefore: rootValid.notBefore,
      notAfter: new Date(Math.min(rootValid.notAfter.getTime(), rootValid.notBefore.getTime() + days * 86_400_000)),
    });
    writeSecret(ctx.path(layout.intermediateKey), await privateKeyToPem(keys.privateKey));
    writePublic(ctx.path(layout.intermediateCert), cert.toString("pem") + "\n");
    reg.cas.push(caRecord("intermediate", "intermediate", cert, layout.intermediateCert, layout.intermediateKey, layout.intermediateCrl));
    ctx.rememberIssuer("intermediate", { cert, key: keys.privateKey, keyType });
  }
  await writeCrlsIn(ctx, reg);
}

export function caRecord(
  id: string,
  role: CaRecord["role"],
  cert: x509.X509Certificate,
  certFile: string,
  keyFile?: string,
  crlFile?: string,
): CaRecord {
  return {
    id,
    role,
    subject: cert.subject,
    fingerprint256: fingerprint256(cert.rawData),
    certFile,
    ...(keyFile ? { keyFile } : {}),
    ...(crlFile ? { crlFile, crlNumber: 0 } : {}),
    addedAt: now(),
  };
}
