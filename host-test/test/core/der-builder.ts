// Builds X.509-shaped DER for the core's tests on both engines (no crypto available on XS): the fields
// the button reads, with a fixed dummy signature. Only the structure matters to readCertificate.

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

export function tlv(tag: number, body: number[]): number[] {
  return [tag, ...len(body.length), ...body];
}

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const seq = (...parts: number[][]) => tlv(0x30, parts.flat());

/** Name with one CN (OID 2.5.4.3), UTF8String. */
export function name(cn: string): number[] {
  return seq(tlv(0x31, seq(tlv(0x06, [0x55, 0x04, 0x03]), tlv(0x0c, ascii(cn)))));
}

function time(ms: number): number[] {
  const d = new Date(ms);
  const two = (n: number) => (n < 10 ? "0" : "") + n;
  const rest = two(d.getUTCMonth() + 1) + two(d.getUTCDate()) + two(d.getUTCHours()) + two(d.getUTCMinutes()) + two(d.getUTCSeconds()) + "Z";
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050 ? tlv(0x17, ascii(two(y % 100) + rest)) : tlv(0x18, ascii(String(y) + rest));
}

export interface FakeCert {
  serial?: number[];
  issuer?: string;
  subject?: string;
  /** Stand-in key bytes inside a subjectPublicKeyInfo. */
  key?: number[];
  notBefore: number;
  notAfter: number;
}

export function certificate(c: FakeCert): Uint8Array {
  const algorithm = seq(tlv(0x06, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]), [0x05, 0x00]);
  const spki = seq(algorithm, tlv(0x03, [0x00, ...(c.key ?? [1, 2, 3, 4])]));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, [0x02])),
    tlv(0x02, c.serial ?? [0x01, 0x23]),
    algorithm,
    name(c.issuer ?? "Device CA"),
    seq(time(c.notBefore), time(c.notAfter)),
    name(c.subject ?? "pizza-button-01"),
    spki,
  );
  return new Uint8Array(seq(tbs, algorithm, tlv(0x03, [0x00, 0xde, 0xad, 0xbe, 0xef])));
}
