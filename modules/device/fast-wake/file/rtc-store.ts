// device/rtc-store on the headless Linux build: RTC memory stands as one file in the working folder. The
// battery runner (tools/firmware/battery.ts) keeps it across the process restarts that stand for deep
// sleep and deletes it for a power cut, as RTC slow memory is kept and lost on the board. Layout: per slot
// a 2-byte big-endian length and SLOT_BYTES bytes, zero-filled (the file has a fixed size, so a rewrite
// never leaves old bytes past its end).
import { File } from "file";

export const SLOTS = 2;
export const SLOT_BYTES = 128;
/** The stand-in's file name (the runner and the tests know it by this name). */
export const RTC_FILE = "rtc-memory.bin";

const STRIDE = 2 + SLOT_BYTES;

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new RangeError(`no RTC slot ${slot}`);
}

function load(): Uint8Array {
  const image = new Uint8Array(SLOTS * STRIDE);
  if (!File.exists(RTC_FILE)) return image;
  const file = new File(RTC_FILE);
  try {
    const length = Math.min(file.length, image.length);
    if (length > 0) image.set(new Uint8Array(file.read(ArrayBuffer, length)), 0);
  } finally {
    file.close();
  }
  return image;
}

function save(image: Uint8Array): void {
  const file = new File(RTC_FILE, true);
  try {
    file.position = 0;
    file.write(image.buffer as ArrayBuffer);
  } finally {
    file.close();
  }
}

export function read(slot: number): ArrayBuffer | undefined {
  checkSlot(slot);
  const image = load();
  const at = slot * STRIDE;
  const length = (image[at]! << 8) | image[at + 1]!;
  if (length === 0 || length > SLOT_BYTES) return undefined;
  return image.slice(at + 2, at + 2 + length).buffer as ArrayBuffer;
}

export function write(slot: number, data: ArrayBuffer): void {
  checkSlot(slot);
  if (data.byteLength > SLOT_BYTES) throw new RangeError(`an RTC slot holds ${SLOT_BYTES} bytes, got ${data.byteLength}`);
  const image = load();
  const at = slot * STRIDE;
  image.fill(0, at, at + STRIDE);
  image[at] = data.byteLength >> 8;
  image[at + 1] = data.byteLength & 0xff;
  image.set(new Uint8Array(data), at + 2);
  save(image);
}

export function clear(slot: number): void {
  checkSlot(slot);
  if (!File.exists(RTC_FILE)) return;
  const image = load();
  image.fill(0, slot * STRIDE, (slot + 1) * STRIDE);
  save(image);
}
