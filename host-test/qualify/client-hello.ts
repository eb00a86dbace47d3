// Reads the cipher suites and protocol versions a TLS ClientHello offers, from the raw bytes of the
// client's first TLS record(s) (RFC 5246 7.4.1.2, RFC 8446 4.1.2 for supported_versions).

export interface ClientHello {
  /** legacy_version of the ClientHello body, e.g. 0x0303 for TLS 1.2. */
  version: number;
  cipherSuites: number[];
  /** supported_versions extension (TLS 1.3 clients), if present. */
  supportedVersions: number[] | undefined;
}

/** ClientHello from the bytes received so far; undefined while incomplete; throws if it is not one. */
export function parseClientHello(bytes: Buffer): ClientHello | undefined {
  // Handshake messages may span records: gather the handshake layer's bytes first.
  const handshake: Buffer[] = [];
  let at = 0;
  while (at + 5 <= bytes.length) {
    if (bytes[at] !== 22) throw new Error(`not a TLS handshake record (content type ${bytes[at]})`);
    const length = bytes.readUInt16BE(at + 3);
    if (at + 5 + length > bytes.length) break;
    handshake.push(bytes.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  const body = Buffer.concat(handshake);
  if (body.length < 4) return undefined;
  if (body[0] !== 1) throw new Error(`first handshake message is type ${body[0]}, not ClientHello`);
  const length = body.readUIntBE(1, 3);
  if (body.length < 4 + length) return undefined;
  const hello = body.subarray(4, 4 + length);
  let p = 0;
  const version = hello.readUInt16BE(p);
  p += 2 + 32; // random
  p += 1 + hello[p]!; // session id
  const suitesLength = hello.readUInt16BE(p);
  p += 2;
  const cipherSuites: number[] = [];
  for (let i = 0; i < suitesLength; i += 2) cipherSuites.push(hello.readUInt16BE(p + i));
  p += suitesLength;
  p += 1 + hello[p]!; // compression methods
  let supportedVersions: number[] | undefined;
  if (p + 2 <= hello.length) {
    const end = p + 2 + hello.readUInt16BE(p);
    p += 2;
    while (p + 4 <= end) {
      const type = hello.readUInt16BE(p);
      const size = hello.readUInt16BE(p + 2);
      if (type === 43) {
        supportedVersions = [];
        for (let i = 0; i + 1 < hello[p + 4]!; i += 2) supportedVersions.push(hello.readUInt16BE(p + 5 + i));
      }
      p += 4 + size;
    }
  }
  return { version, cipherSuites, supportedVersions };
}

/** AWS IoT Core's recommended suites for TLS 1.2 that use an RSA server certificate: ECDHE-RSA with AES-GCM. */
export const ECDHE_RSA_AES_GCM = new Map([
  [0xc02f, "ECDHE-RSA-AES128-GCM-SHA256"],
  [0xc030, "ECDHE-RSA-AES256-GCM-SHA384"],
]);

/** Every TLS_DHE_RSA_* suite in the IANA registry. */
export const DHE_RSA_SUITES = new Set([
  0x0014, 0x0015, 0x0016, 0x0033, 0x0039, 0x0045, 0x0067, 0x006b, 0x0088, 0x009a, 0x009e, 0x009f, 0x00be,
  0x00c4, 0xc044, 0xc045, 0xc052, 0xc053, 0xc07c, 0xc07d, 0xc09e, 0xc09f, 0xc0a2, 0xc0a3, 0xccaa,
]);

const NAMES = new Map([
  ...ECDHE_RSA_AES_GCM,
  [0x002f, "AES128-SHA"],
  [0x0035, "AES256-SHA"],
  [0x003c, "AES128-SHA256"],
  [0x003d, "AES256-SHA256"],
  [0x009c, "AES128-GCM-SHA256"],
  [0x009d, "AES256-GCM-SHA384"],
  [0x0033, "DHE-RSA-AES128-SHA"],
  [0x0039, "DHE-RSA-AES256-SHA"],
  [0x0067, "DHE-RSA-AES128-SHA256"],
  [0x006b, "DHE-RSA-AES256-SHA256"],
  [0x009e, "DHE-RSA-AES128-GCM-SHA256"],
  [0x009f, "DHE-RSA-AES256-GCM-SHA384"],
  [0xccaa, "DHE-RSA-CHACHA20-POLY1305"],
  [0xc013, "ECDHE-RSA-AES128-SHA"],
  [0xc014, "ECDHE-RSA-AES256-SHA"],
  [0xc027, "ECDHE-RSA-AES128-SHA256"],
  [0xc028, "ECDHE-RSA-AES256-SHA384"],
  [0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256"],
  [0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384"],
  [0xcca8, "ECDHE-RSA-CHACHA20-POLY1305"],
  [0xcca9, "ECDHE-ECDSA-CHACHA20-POLY1305"],
  [0x1301, "TLS_AES_128_GCM_SHA256"],
  [0x1302, "TLS_AES_256_GCM_SHA384"],
  [0x1303, "TLS_CHACHA20_POLY1305_SHA256"],
  [0x00ff, "EMPTY_RENEGOTIATION_INFO_SCSV"],
]);

export function suiteName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16).padStart(4, "0")}`;
}
