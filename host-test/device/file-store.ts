// The Store port as a JSON file: the harness's stand-in for the ESP32's NVS (Preference).
// Every write replaces the whole file atomically (write a temp file, fsync, rename, fsync the directory),
// so a crash at any instant leaves either the old or the new contents, never a torn file: the pending
// order and the seq counter survive a "power cycle" of the virtual button.
import fs from "node:fs";
import path from "node:path";
import type { Store } from "../../modules/core/ports";

/** NVS limits, enforced here too so a key that works in the harness also works on the board. */
export const MAX_KEY_LENGTH = 15;
export const MAX_VALUE_BYTES = 4000;

export class FileStore implements Store {
  readonly path: string;
  #values: Record<string, string>;

  constructor(options: { path: string }) {
    this.path = path.resolve(options.path);
    fs.mkdirSync(path.dirname(this.path), { recursive: true });
    this.#values = readValues(this.path);
  }

  read(key: string): string | undefined {
    checkKey(key);
    return Object.prototype.hasOwnProperty.call(this.#values, key) ? this.#values[key] : undefined;
  }

  write(key: string, value: string): void {
    checkKey(key);
    if (typeof value !== "string") throw new TypeError(`store value for "${key}" must be a string`);
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > MAX_VALUE_BYTES) {
      throw new RangeError(`store value for "${key}" is ${bytes} bytes; the limit is ${MAX_VALUE_BYTES}`);
    }
    this.#persist({ ...this.#values, [key]: value });
  }

  remove(key: string): void {
    checkKey(key);
    if (!Object.prototype.hasOwnProperty.call(this.#values, key)) return;
    const next = { ...this.#values };
    delete next[key];
    this.#persist(next);
  }

  /** Only after the new file is durable does the in-memory view change: a failed write changes nothing. */
  #persist(next: Record<string, string>): void {
    const temp = `${this.path}.${process.pid}.tmp`;
    const fd = fs.openSync(temp, "w", 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(next));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, this.path);
    syncDirectory(path.dirname(this.path));
    this.#values = next;
  }
}

function checkKey(key: string): void {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new RangeError(`store key "${String(key)}" must be 1-${MAX_KEY_LENGTH} characters (NVS limit)`);
  }
}

function readValues(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`store file ${file} is not valid JSON; refusing to start with a store we cannot read`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`store file ${file} does not hold a JSON object`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === "string") values[key] = value;
  }
  return values;
}

/** The rename is only durable once the directory entry is on disk. Not every platform can fsync a dir. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot open directories; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
