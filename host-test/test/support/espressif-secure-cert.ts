// Espressif's esp_secure_cert TLV format, written down a second time for the tests, independently of the
// project's reader (modules/core/secure-cert.ts) and writer (tools/pki/esp-secure-cert.ts), from
// esp_secure_cert_mgr's docs/format.md and its tools/esp_secure_cert/tlv_format.py:
//   header  <I magic 0xBA5EBA11> <B flags> <3 reserved> <B type> <B subtype> <H length>   (little-endian)
//   data, zero padding to a multiple of 16, <I zlib.crc32(header + data + padding, 0xffffffff)>
// The partition is 8 KiB, the unused rest 0xFF. configure_esp_secure_cert.py writes PEM text + NUL, in the
// order device certificate, CA certificate, private key.
import { crc32 } from "node:zlib";

export interface EspressifEntry {
  type: number;
  subtype: number;
  flags: number;
  data: Buffer;
}

/** Reads every entry, checking each CRC; throws on anything esp_secure_cert_mgr would not accept. */
export function readEspressifImage(image: Buffer): EspressifEntry[] {
  const entries: EspressifEntry[] = [];
  let at = 0;
  while (at + 12 <= image.length && image.readUInt32LE(at) === 0xba5eba11) {
    const length = image.readUInt16LE(at + 10);
    const padding = length % 16 === 0 ? 0 : 16 - (length % 16);
    const crcAt = at + 12 + length + padding;
    if (crcAt + 4 > image.length) throw new Error(`entry at ${at} runs past the image`);
    if (image.readUInt32LE(crcAt) !== crc32(image.subarray(at, crcAt), 0xffffffff)) throw new Error(`CRC mismatch at ${at}`);
    if (!image.subarray(at + 12 + length, crcAt).equals(Buffer.alloc(padding))) throw new Error(`padding at ${at} is not zeros`);
    entries.push({ flags: image[at + 4]!, type: image[at + 8]!, subtype: image[at + 9]!, data: image.subarray(at + 12, at + 12 + length) });
    at = crcAt + 4;
  }
  return entries;
}

/** An 8 KiB image laid out as configure_esp_secure_cert.py lays out its PEM inputs. */
export function espressifPemImage(pem: { deviceCert: string; caCert: string; privateKey: string }): Buffer {
  const image = Buffer.alloc(0x2000, 0xff);
  let at = 0;
  for (const [type, text] of [
    [1, pem.deviceCert],
    [0, pem.caCert],
    [2, pem.privateKey],
  ] as const) {
    const data = Buffer.concat([Buffer.from(text, "utf8"), Buffer.from([0])]);
    const padding = data.length % 16 === 0 ? 0 : 16 - (data.length % 16);
    const tlv = Buffer.alloc(12 + data.length + padding);
    tlv.writeUInt32LE(0xba5eba11, 0);
    tlv[8] = type;
    tlv.writeUInt16LE(data.length, 10);
    data.copy(tlv, 12);
    tlv.copy(image, at);
    image.writeUInt32LE(crc32(tlv, 0xffffffff), at + tlv.length);
    at += tlv.length + 4;
  }
  return image;
}
