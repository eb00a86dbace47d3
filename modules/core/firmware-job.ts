// A firmware update as a job document (the `jobDocument` of an AWS IoT job execution), the version rule and
// the statement the release key signs. The same document works on AWS IoT Jobs (url: a pre-signed S3 URL)
// and with the local jobs service (url: its HTTPS image route).
//
//   {"operation":"pizza.firmware-update","target":"esp32","version":"1.4.0","size":1183744,
//    "sha256":"<64 hex>","signature":"<base64 RSASSA-PKCS1-v1_5 / SHA-256, 256 bytes>","url":"https://…"}
//
// The signature covers the signed statement (target, version, size, SHA-256 of the image), not only the
// image: a relabelled version or target breaks it, so whoever can create jobs still cannot push an old
// signed image as "newer" or an image built for another board. The URL is not signed: it only says where
// the bytes are, and the bytes must match the signed hash.

import type { Decoded } from "./messages";
import { base64Decode } from "./der";
import { utf8Encode } from "./utf8";

export const FIRMWARE_UPDATE_OPERATION = "pizza.firmware-update";
/** RSA-2048: the signature is the modulus size. */
export const SIGNATURE_BYTES = 256;
/** Larger than any ESP32 app partition (the 4 MB flash layouts give an app at most 1.9 MB; 16 MB boards more). */
export const MAX_IMAGE_BYTES = 16 * 1024 * 1024;
const MAX_URL_CHARS = 2048;

export interface FirmwareJob {
  operation: typeof FIRMWARE_UPDATE_OPERATION;
  /** What the image is for: "esp32" (the board), "x-cli-lin" (the headless build). */
  target: string;
  version: string;
  size: number;
  /** SHA-256 of the image, 64 lower-case hex digits. */
  sha256: string;
  /** base64 RSASSA-PKCS1-v1_5 with SHA-256 over signedStatement(). */
  signature: string;
  url: string;
}

/** MAJOR.MINOR.PATCH, each 0–999999 without leading zeros: compared as numbers, never as text. */
export function parseVersion(version: string): [number, number, number] | undefined {
  const m = /^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function isValidVersion(version: string): boolean {
  return parseVersion(version) !== undefined;
}

/** < 0, 0, > 0 like a sort comparator. Both must be valid versions. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) throw new Error(`compareVersions: not a version: ${JSON.stringify(x ? b : a)}`);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

/** The no-downgrade rule: why `candidate` may not replace `running`, or undefined when it may. */
export function versionProblem(candidate: string, running: string): string | undefined {
  if (!isValidVersion(candidate)) return `version ${JSON.stringify(candidate)} is not MAJOR.MINOR.PATCH`;
  if (compareVersions(candidate, running) <= 0) return `version ${candidate} is not newer than the running ${running} (no downgrade)`;
  return undefined;
}

/** The bytes the release key signs (UTF-8). Line-based so that no field can run into the next. */
export function signedStatement(job: Pick<FirmwareJob, "target" | "version" | "size" | "sha256">): Uint8Array {
  return utf8Encode(`${FIRMWARE_UPDATE_OPERATION}\ntarget ${job.target}\nversion ${job.version}\nsize ${job.size}\nsha256 ${job.sha256}\n`);
}

/** Decodes a job document (already parsed JSON) into a firmware job, or says what is wrong with it. */
export function decodeFirmwareJob(document: unknown): Decoded<FirmwareJob> {
  const fail = (reason: string): Decoded<FirmwareJob> => ({ ok: false, reason });
  if (typeof document !== "object" || document === null || Array.isArray(document)) return fail("job document is not a JSON object");
  const d = document as { [key: string]: unknown };
  if (d.operation !== FIRMWARE_UPDATE_OPERATION) return fail(`operation must be ${FIRMWARE_UPDATE_OPERATION}`);
  const { target, version, size, sha256, signature, url } = d;
  if (typeof target !== "string" || !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(target)) return fail("target must be a platform name such as esp32");
  if (typeof version !== "string" || !isValidVersion(version)) return fail("version must be MAJOR.MINOR.PATCH");
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1 || size > MAX_IMAGE_BYTES) return fail(`size must be an integer of 1-${MAX_IMAGE_BYTES} bytes`);
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) return fail("sha256 must be 64 lower-case hex digits");
  if (typeof signature !== "string") return fail("signature must be base64");
  const sig = base64Decode(signature);
  if (!sig || sig.length !== SIGNATURE_BYTES) return fail(`signature must be base64 of ${SIGNATURE_BYTES} bytes (RSA-2048)`);
  if (typeof url !== "string" || url.length > MAX_URL_CHARS || !/^https:\/\/[^\s/?#]+(?:[/?#][^\s]*)?$/.test(url)) return fail("url must be an https:// URL");
  return { ok: true, value: { operation: FIRMWARE_UPDATE_OPERATION, target, version, size, sha256, signature, url } };
}

/** Why this button must not install `job` (another board's image, or a downgrade), or undefined. */
export function jobProblem(job: FirmwareJob, running: { target: string; version: string }): string | undefined {
  if (job.target !== running.target) return `image is for ${job.target}, this button is ${running.target}`;
  return versionProblem(job.version, running.version);
}

/** Lower-case hex of bytes (the form sha256 takes in the job document). */
export function hexOf(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += (bytes[i]! < 16 ? "0" : "") + bytes[i]!.toString(16);
  return out;
}
