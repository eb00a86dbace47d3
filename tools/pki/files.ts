// File helpers with the PKI's permissions: directories 0700, private keys 0600, everything else 0644.
// Writes go through a temp file + rename so a crash never leaves half a certificate or registry.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fail } from "./errors";

export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;
export const DIR_MODE = 0o700;

export function ensureDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: DIR_MODE });
}

function writeAtomic(path: string, data: string | Uint8Array, mode: number): void {
  ensureDir(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  // mode on open applies to a new file; chmod again in case the umask took bits away.
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Write a private key (PEM or DER) readable by the owner only. */
export function writeSecret(path: string, data: string | Uint8Array): void {
  writeAtomic(path, data, SECRET_MODE);
}

export function writePublic(path: string, data: string | Uint8Array): void {
  writeAtomic(path, data, PUBLIC_MODE);
}

/** Read a file given by the user, failing with a one-line message instead of an ENOENT stack. */
export function readUserFile(path: string, what = "file"): Buffer {
  let st;
  try {
    st = statSync(path);
  } catch {
    fail(`${what} not found: ${path}`);
  }
  if (!st.isFile()) fail(`${what} is not a regular file: ${path}`);
  try {
    return readFileSync(path);
  } catch (e) {
    fail(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

export function readUserText(path: string, what = "file"): string {
  return readUserFile(path, what).toString("utf8");
}
