// device/rtc-store where the target has no RTC memory and no deep sleep (the simulator, desktop builds):
// RAM, lost at every restart. The TLS session is then kept for as long as the app runs, as the SDK's own
// cache does.

export const SLOTS = 2;
export const SLOT_BYTES = 128;

const slots: { [slot: number]: Uint8Array } = {}; // the object is mutated, never the binding

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new RangeError(`no RTC slot ${slot}`);
}

export function read(slot: number): ArrayBuffer | undefined {
  checkSlot(slot);
  const bytes = slots[slot];
  return bytes ? (bytes.slice().buffer as ArrayBuffer) : undefined;
}

export function write(slot: number, data: ArrayBuffer): void {
  checkSlot(slot);
  if (data.byteLength > SLOT_BYTES) throw new RangeError(`an RTC slot holds ${SLOT_BYTES} bytes, got ${data.byteLength}`);
  slots[slot] = new Uint8Array(data.slice(0));
}

export function clear(slot: number): void {
  checkSlot(slot);
  const bytes = slots[slot];
  if (bytes) bytes.fill(0);
  delete slots[slot];
}
