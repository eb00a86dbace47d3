// The release key: RSA-2048, whose public half is built into the firmware and whose private half signs every
// image. It is created outside the repository (refused inside it) and never leaves the machine that signs.
//
// Why RSA-2048 and not ECDSA P-256: the firmware verifies with the Moddable SDK's crypt modules. RSA
// verification with e = 65537 is 17 modular squarings/multiplications of 2048-bit numbers in C (modules/
// crypt/arith), while ECDSA P-256 verification (etc/ecdsa.js) is two 256-bit scalar multiplications, each
// hundreds of point operations driven from JavaScript: several times slower on XS. RSA is also already in
// every build (the TLS stack signs with the RSA device key), so verifying adds no code.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const RELEASE_KEY_BITS = 2048;
const REPOSITORY_ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));

export interface ReleaseKeyFiles {
  privateKeyPath: string;
  /** SubjectPublicKeyInfo, PEM: for `publish --public-key` and people. */
  publicPemPath: string;
  /** SubjectPublicKeyInfo, DER: the firmware's built-in release key (release-key.der). */
  publicDerPath: string;
}

export function publicKeyPaths(privateKeyPath: string): { publicPemPath: string; publicDerPath: string } {
  const base = privateKeyPath.replace(/\.pem$/, "");
  return { publicPemPath: `${base}.pub.pem`, publicDerPath: `${base}.pub.der` };
}

/** Why the private key may not be written at `file`, or undefined. */
export function releaseKeyPathProblem(file: string, repositoryRoot = REPOSITORY_ROOT): string | undefined {
  const absolute = path.resolve(file);
  const relative = path.relative(repositoryRoot, absolute);
  if (!relative.startsWith("..") && !path.isAbsolute(relative)) {
    return `${absolute} is inside the repository (${repositoryRoot}): keep the release key outside it, e.g. ~/.pizza-release/release-key.pem`;
  }
  if (fs.existsSync(absolute)) return `${absolute} exists: a release key is never overwritten (buttons in the field trust it)`;
  return undefined;
}

export function createReleaseKey(file: string, opts: { repositoryRoot?: string } = {}): ReleaseKeyFiles {
  const problem = releaseKeyPathProblem(file, opts.repositoryRoot);
  if (problem) throw new Error(problem);
  const privateKeyPath = path.resolve(file);
  const { publicPemPath, publicDerPath } = publicKeyPaths(privateKeyPath);
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: RELEASE_KEY_BITS, publicExponent: 65537 });
  fs.mkdirSync(path.dirname(privateKeyPath), { recursive: true, mode: 0o700 });
  // wx: never replace a file that appeared meanwhile; 0600 from the first byte.
  fs.writeFileSync(privateKeyPath, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  fs.writeFileSync(publicPemPath, publicKey.export({ type: "spki", format: "pem" }));
  fs.writeFileSync(publicDerPath, publicKey.export({ type: "spki", format: "der" }));
  return { privateKeyPath, publicPemPath, publicDerPath };
}

/** A release public key from a PEM or DER (SubjectPublicKeyInfo) file, or the public half of a private key. */
export function readPublicKey(file: string): crypto.KeyObject {
  const bytes = fs.readFileSync(file);
  const text = bytes.toString("latin1");
  const key = text.includes("-----BEGIN")
    ? text.includes("PRIVATE KEY")
      ? crypto.createPublicKey(crypto.createPrivateKey(bytes))
      : crypto.createPublicKey(bytes)
    : crypto.createPublicKey({ key: bytes, format: "der", type: "spki" });
  checkReleaseKey(key, file);
  return key;
}

export function readPrivateKey(file: string): crypto.KeyObject {
  const key = crypto.createPrivateKey(fs.readFileSync(file));
  checkReleaseKey(key, file);
  return key;
}

function checkReleaseKey(key: crypto.KeyObject, file: string): void {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== "rsa" || bits !== RELEASE_KEY_BITS) {
    throw new Error(`${file}: not an RSA-${RELEASE_KEY_BITS} release key (found ${key.asymmetricKeyType}${bits ? `-${bits}` : ""})`);
  }
}
