// Export a thing's identity as the DER resources the Moddable firmware loads:
//   device.der       the device certificate
//   private-key.der  unencrypted PKCS#8 RSA private key (0600) — the SDK's TLS parses only RSA here
//   ca.der           the CA that signed the broker's server certificate (what the device trusts)
import { resolve } from "node:path";
import { describePublicKey, loadPrivateKey, parseCertificate } from "./crypto";
import { fail } from "./errors";
import { ensureDir, readUserFile, readUserText, writePublic, writeSecret } from "./files";

export interface ModdableExport {
  outDir: string;
  /** Private key file when the PKI dir does not hold it (things issued from a CSR). */
  keyPath?: string;
}

export interface ModdableFiles {
  certPath: string;
  keyPath: string;
  caPath: string;
}

export function exportModdable(
  thing: { name: string; certPath: string; keyPath: string; caPath: string },
  opts: ModdableExport,
): ModdableFiles {
  const cert = parseCertificate(readUserText(thing.certPath, "certificate"), thing.certPath);
  const ca = parseCertificate(readUserText(thing.caPath, "CA certificate"), thing.caPath);
  const keyFile = opts.keyPath ?? thing.keyPath;
  if (!keyFile) {
    fail(`the private key of ${thing.name} is not in the PKI dir (issued from a CSR): pass --key <path to ${thing.name}.key.pem>`);
  }
  const info = describePublicKey(cert.publicKey.rawData);
  if (info.keyType !== "rsa") {
    fail(`${thing.name} has an ${info.label} key: the Moddable TLS stack supports only RSA client keys; create the thing with --key-type rsa`);
  }
  const key = loadPrivateKey(readUserFile(keyFile, "private key"), keyFile);
  if (!Buffer.from(cert.publicKey.rawData).equals(key.spki)) fail(`${keyFile} is not the private key of ${thing.name}'s certificate`);

  const outDir = resolve(opts.outDir);
  ensureDir(outDir);
  const out: ModdableFiles = {
    certPath: resolve(outDir, "device.der"),
    keyPath: resolve(outDir, "private-key.der"),
    caPath: resolve(outDir, "ca.der"),
  };
  writePublic(out.certPath, new Uint8Array(cert.rawData));
  writeSecret(out.keyPath, new Uint8Array(key.pkcs8));
  writePublic(out.caPath, new Uint8Array(ca.rawData));
  return out;
}
