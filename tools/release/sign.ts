// Signing a firmware image: the job document (modules/core/firmware-job.ts) with the image's size and
// SHA-256 and an RSASSA-PKCS1-v1_5 / SHA-256 signature over the signed statement (target, version, size,
// hash). The URL is left out: the jobs service (or AWS IoT Jobs' pre-signed URL placeholder) fills it in.
import crypto from "node:crypto";
import {
  decodeFirmwareJob,
  FIRMWARE_UPDATE_OPERATION,
  type FirmwareJob,
  isValidVersion,
  MAX_IMAGE_BYTES,
  signedStatement,
} from "../../modules/core/firmware-job";

/** A signed release: the job document without its url. */
export type SignedRelease = Omit<FirmwareJob, "url">;

export const TARGETS = ["esp32", "x-cli-lin"] as const;

export function sha256Hex(bytes: Uint8Array): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}

export function signRelease(opts: { image: Uint8Array; version: string; target: string; key: crypto.KeyObject }): SignedRelease {
  if (!isValidVersion(opts.version)) throw new Error(`--version ${JSON.stringify(opts.version)} is not MAJOR.MINOR.PATCH`);
  if (!(TARGETS as readonly string[]).includes(opts.target)) throw new Error(`--target must be one of ${TARGETS.join(", ")}`);
  if (opts.image.length === 0 || opts.image.length > MAX_IMAGE_BYTES) throw new Error(`the image must be 1-${MAX_IMAGE_BYTES} bytes (it is ${opts.image.length})`);
  const unsigned = { target: opts.target, version: opts.version, size: opts.image.length, sha256: sha256Hex(opts.image) };
  const signature = crypto.sign("sha256", signedStatement(unsigned), opts.key).toString("base64");
  return { operation: FIRMWARE_UPDATE_OPERATION, ...unsigned, signature };
}

/**
 * Why `release` is not a valid release of `image` signed by `publicKey`, or undefined. What the button
 * checks, done before a job goes out so a mistake is caught at the desk, not in the kitchens.
 */
export function releaseProblem(release: unknown, opts: { image?: Uint8Array; publicKey?: crypto.KeyObject }): string | undefined {
  const decoded = decodeFirmwareJob({ ...(release as object), url: "https://placeholder.invalid/" });
  if (!decoded.ok) return decoded.reason;
  const job = decoded.value;
  if (opts.image) {
    if (opts.image.length !== job.size) return `the image is ${opts.image.length} bytes, the release says ${job.size}`;
    if (sha256Hex(opts.image) !== job.sha256) return "the image's SHA-256 differs from the release's";
  }
  if (opts.publicKey && !crypto.verify("sha256", signedStatement(job), opts.publicKey, Buffer.from(job.signature, "base64"))) {
    return "the signature does not verify with this public key";
  }
  return undefined;
}
