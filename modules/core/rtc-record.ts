// A record kept in memory that survives deep sleep but not a power cut (the ESP32's RTC slow memory; a file
// on the headless build). After a power-on that memory holds whatever the chip woke with, and a record can
// be cut short by a reset in the middle of a write, so every record is framed and checked before use:
//
//   magic (4 bytes) · payload length (2 bytes, big-endian) · payload · CRC-32 of all before it (4 bytes)
//
// Pure ECMAScript: the firmware and the harness frame records with the same code.

const HEADER = 6;
const TRAILER = 4;

/** Bytes a frame adds to its payload. */
export const RTC_FRAME_OVERHEAD = HEADER + TRAILER;

function makeCrcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

// Built when the module loads: the firmware preloads the core, and a preloaded module's bindings are read-only.
const CRC_TABLE = makeCrcTable();

/** CRC-32 (IEEE 802.3, the one of zlib and esp_rom_crc32_le). */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function magicBytes(magic: string): Uint8Array {
  if (magic.length !== 4) throw new RangeError(`an RTC record magic is 4 ASCII characters, got ${JSON.stringify(magic)}`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) out[i] = magic.charCodeAt(i) & 0x7f;
  return out;
}

export function frameRtcRecord(magic: string, payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError(`an RTC record holds at most 65535 bytes, got ${payload.length}`);
  const out = new Uint8Array(HEADER + payload.length + TRAILER);
  out.set(magicBytes(magic), 0);
  out[4] = payload.length >> 8;
  out[5] = payload.length & 0xff;
  out.set(payload, HEADER);
  const crc = crc32(out.subarray(0, HEADER + payload.length));
  const at = HEADER + payload.length;
  out[at] = crc >>> 24;
  out[at + 1] = (crc >>> 16) & 0xff;
  out[at + 2] = (crc >>> 8) & 0xff;
  out[at + 3] = crc & 0xff;
  return out;
}

export type RtcRecordRead = { ok: true; payload: Uint8Array } | { ok: false; reason: string };

/** The payload of a framed record, or why it is not one (power-on garbage, a torn write, another record). */
export function unframeRtcRecord(magic: string, bytes: Uint8Array | undefined): RtcRecordRead {
  if (!bytes || bytes.length === 0) return { ok: false, reason: "empty" };
  if (bytes.length < HEADER + TRAILER) return { ok: false, reason: `too short (${bytes.length} bytes)` };
  const expected = magicBytes(magic);
  for (let i = 0; i < 4; i++) if (bytes[i] !== expected[i]) return { ok: false, reason: "bad magic" };
  const length = (bytes[4]! << 8) | bytes[5]!;
  if (HEADER + length + TRAILER > bytes.length) return { ok: false, reason: `length ${length} exceeds the ${bytes.length} bytes kept` };
  const at = HEADER + length;
  const stored = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
  if (crc32(bytes.subarray(0, at)) !== stored) return { ok: false, reason: "bad CRC" };
  return { ok: true, payload: bytes.slice(HEADER, at) };
}

/** Sequential big-endian writer/reader for record payloads. */
export class ByteWriter {
  private readonly parts: number[] = [];

  u8(value: number): this {
    this.parts.push(value & 0xff);
    return this;
  }

  u16(value: number): this {
    return this.u8(value >> 8).u8(value);
  }

  /** A non-negative integer below 2^53 in 8 bytes (epoch milliseconds). */
  u64(value: number): this {
    const high = Math.floor(value / 0x100000000);
    const low = value >>> 0;
    return this.u16(high >>> 16).u16(high & 0xffff).u16(low >>> 16).u16(low & 0xffff);
  }

  /** Bytes with a one-byte length (at most 255). */
  bytes(value: Uint8Array): this {
    if (value.length > 255) throw new RangeError(`a field holds at most 255 bytes, got ${value.length}`);
    this.u8(value.length);
    for (let i = 0; i < value.length; i++) this.parts.push(value[i]!);
    return this;
  }

  /** Text as UTF-16 code units truncated to bytes: only ASCII is expected (host names, ports). */
  ascii(value: string): this {
    const out = new Uint8Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = value.charCodeAt(i) & 0xff;
    return this.bytes(out);
  }

  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export class ByteReader {
  private at = 0;
  private readonly data: Uint8Array;

  constructor(data: Uint8Array) {
    this.data = data;
  }

  private need(n: number): void {
    if (this.at + n > this.data.length) throw new RangeError("record truncated");
  }

  u8(): number {
    this.need(1);
    return this.data[this.at++]!;
  }

  u16(): number {
    return (this.u8() << 8) | this.u8();
  }

  u64(): number {
    const a = this.u16();
    const b = this.u16();
    const c = this.u16();
    const d = this.u16();
    return (a * 0x10000 + b) * 0x100000000 + (c * 0x10000 + d);
  }

  bytes(): Uint8Array {
    const n = this.u8();
    this.need(n);
    const out = this.data.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }

  ascii(): string {
    const b = this.bytes();
    let s = "";
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
    return s;
  }

  get atEnd(): boolean {
    return this.at === this.data.length;
  }
}

/** One slot of RTC memory (a port: the ESP32's RTC slow memory, a file on the headless build, a test's array). */
export interface RtcSlot {
  read(): Uint8Array | undefined;
  write(bytes: Uint8Array): void;
  clear(): void;
}
