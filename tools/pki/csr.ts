// Device side of option 2: the key pair and CSR a device makes for itself. Needs no PKI dir: the key never
// goes where the CA is.
import { resolve } from "node:path";
import { generateKeyPair, privateKeyToPem, signingAlgorithm, x509, type KeyType } from "./crypto";
import { ensureDir, writePublic, writeSecret } from "./files";
import { assertDeviceName } from "./names";

/** A key pair and a PKCS#10 CSR with CN = thing name, written to outDir (key 0600). */
export async function createCsr(name: string, opts: { outDir: string; keyType?: KeyType }): Promise<{ keyPath: string; csrPath: string }> {
  assertDeviceName(name);
  const keyType = opts.keyType ?? "rsa";
  const keys = await generateKeyPair(keyType);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${name}`,
    keys,
    signingAlgorithm: signingAlgorithm(keyType),
  });
  const outDir = resolve(opts.outDir);
  ensureDir(outDir);
  const keyPath = resolve(outDir, `${name}.key.pem`);
  const csrPath = resolve(outDir, `${name}.csr.pem`);
  writeSecret(keyPath, await privateKeyToPem(keys.privateKey));
  writePublic(csrPath, csr.toString("pem") + "\n");
  return { keyPath, csrPath };
}
