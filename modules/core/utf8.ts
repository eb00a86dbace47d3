// Strict UTF-8 without TextEncoder/TextDecoder (not ECMAScript, and not available under XS everywhere).
// Decoding refuses anything a conforming decoder must refuse instead of substituting U+FFFD: a message
// that is not clean UTF-8 is rejected, never "repaired".

/** Encodes a string as UTF-8. Lone surrogates (not representable in UTF-8) become U+FFFD. */
export function utf8Encode(text: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        code = 0xfffd;
      }
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      code = 0xfffd;
    }
    if (code < 0x80) {
      bytes.push(code);
    } else if (code < 0x800) {
      bytes.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
    } else {
      bytes.push(
        0xf0 | (code >> 18),
        0x80 | ((code >> 12) & 0x3f),
        0x80 | ((code >> 6) & 0x3f),
        0x80 | (code & 0x3f),
      );
    }
  }
  return Uint8Array.from(bytes);
}

/**
 * Decodes strict UTF-8. Returns undefined on truncated or stray continuation bytes, overlong forms,
 * UTF-16 surrogates (U+D800–U+DFFF) and code points above U+10FFFF.
 */
export function utf8Decode(bytes: Uint8Array): string | undefined {
  let out = "";
  let chunk: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    let code: number;
    let length: number;
    let min: number;
    if (b0 < 0x80) {
      code = b0;
      length = 1;
      min = 0;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      code = b0 & 0x1f;
      length = 2;
      min = 0x80;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      code = b0 & 0x0f;
      length = 3;
      min = 0x800;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      code = b0 & 0x07;
      length = 4;
      min = 0x10000;
    } else {
      return undefined; // continuation byte as lead, C0/C1 (always overlong), F5–FF
    }
    if (i + length > bytes.length) return undefined;
    for (let k = 1; k < length; k++) {
      const b = bytes[i + k]!;
      if ((b & 0xc0) !== 0x80) return undefined;
      code = (code << 6) | (b & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
    if (code >= 0x10000) {
      const v = code - 0x10000;
      chunk.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    } else {
      chunk.push(code);
    }
    // Flush in small slices: under XS every spread argument takes a slot of the VM stack, which is only
    // 384–512 slots on ESP32 targets (a 1024-slice overflowed it while decoding a ~250-byte order).
    if (chunk.length >= 64) {
      out += String.fromCharCode(...chunk);
      chunk = [];
    }
    i += length;
  }
  return out + String.fromCharCode(...chunk);
}
