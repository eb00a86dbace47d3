// `npm run pki -- export esp32 <thing> --out <dir>`: the thing's identity as an esp_secure_cert partition
// image in Espressif's TLV format (esp_secure_cert_mgr, docs/format.md), written to each board with esptool
// after the one release image. Entries (DER): device certificate (type 1), PKCS#8 RSA key (type 2), the
// broker's CA (type 0), and the board's setup access point password (type 51, user data 1, UTF-8), made
// once per thing and kept next to its certificate so a re-export writes the same one (it is on the label).
import { randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { crc32 as zlibCrc32 } from "node:zlib";
import { secureCertPartition } from "../firmware/partitions";
import { fail, usageFail } from "./errors";
import { ensureDir, readUserText, writeSecret } from "./files";
import type { ModdableExport, ModdableFiles } from "./moddable";

export const SECURE_CERT_FILE = "esp_secure_cert.bin";
export const SETUP_PASSWORD_FILE = "setup-password.txt";
/** Lower-case letters and digits without 0/o, 1/l/i: read off a label without doubt. */
export const SETUP_PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
export const SETUP_PASSWORD_LENGTH = 20; // 31^20 ≈ 2^99

const MAGIC = 0xba5eba11;

export interface TlvInput {
  type: number;
  subtype?: number;
  data: Uint8Array;
}

/** One entry: header, data, zero padding to 16 bytes, CRC-32 (zlib, seed 0xffffffff, as ESP-IDF's esp_crc32_le(UINT32_MAX, …)). */
export function encodeTlv(entry: TlvInput): Buffer {
  if (entry.data.length > 0xffff) throw new Error(`TLV type ${entry.type}: ${entry.data.length} bytes do not fit a 16-bit length`);
  const padding = (16 - (entry.data.length % 16)) % 16;
  const body = Buffer.alloc(12 + entry.data.length + padding);
  body.writeUInt32LE(MAGIC, 0);
  body.writeUInt8(entry.type, 8);
  body.writeUInt8(entry.subtype ?? 0, 9);
  body.writeUInt16LE(entry.data.length, 10);
  body.set(entry.data, 12);
  const footer = Buffer.alloc(4);
  footer.writeUInt32LE(zlibCrc32(body, 0xffffffff) >>> 0, 0);
  return Buffer.concat([body, footer]);
}

/** A whole partition image: the entries in order, then erased flash (0xFF) up to the partition size. */
export function encodeSecureCert(entries: TlvInput[], partitionBytes: number): Buffer {
  const tlvs = Buffer.concat(entries.map(encodeTlv));
  if (tlvs.length > partitionBytes) throw new Error(`the entries take ${tlvs.length} bytes, the esp_secure_cert partition holds ${partitionBytes}`);
  return Buffer.concat([tlvs, Buffer.alloc(partitionBytes - tlvs.length, 0xff)]);
}

export function newSetupPassword(): string {
  let out = "";
  for (let i = 0; i < SETUP_PASSWORD_LENGTH; i++) out += SETUP_PASSWORD_ALPHABET[randomInt(SETUP_PASSWORD_ALPHABET.length)]!;
  return out;
}

/** The thing's setup password, made and stored (0600) with its identity on first use. */
export function setupPasswordFor(thingDir: string): string {
  const file = join(thingDir, SETUP_PASSWORD_FILE);
  if (existsSync(file)) {
    const stored = readUserText(file, "setup password").trim();
    if (!/^[!-~]{8,63}$/.test(stored)) fail(`${file} is not a Wi-Fi password (8–63 printable ASCII characters): fix or delete it`);
    return stored;
  }
  const password = newSetupPassword();
  writeSecret(file, `${password}\n`);
  return password;
}

interface PkiForExport {
  thingFiles(name: string): { certPath: string } | undefined;
  exportModdable(name: string, opts: ModdableExport): Promise<ModdableFiles>;
}

export interface Esp32Export {
  thing: string;
  file: string;
  partition: { name: string; offset: number; size: number };
  setupPassword: string;
  /** The command that writes the image to a board on <PORT>. */
  esptool: string;
}

export async function exportEsp32(pki: PkiForExport, name: string, opts: { outDir: string; keyPath?: string }): Promise<Esp32Export> {
  const thing = pki.thingFiles(name);
  if (!thing) fail(`unknown thing ${name} (no certificate in the PKI dir)`);
  const partition = secureCertPartition();
  // The moddable export checks the key (RSA, matches the certificate) and gives the DER the firmware uses.
  const scratch = mkdtempSync(join(tmpdir(), "pki-esp32-"));
  let der: { cert: Buffer; key: Buffer; ca: Buffer };
  try {
    const files = await pki.exportModdable(name, { outDir: scratch, ...(opts.keyPath ? { keyPath: opts.keyPath } : {}) });
    der = { cert: readFileSync(files.certPath), key: readFileSync(files.keyPath), ca: readFileSync(files.caPath) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const setupPassword = setupPasswordFor(dirname(thing.certPath));
  const image = encodeSecureCert(
    [
      { type: 1, data: der.cert },
      { type: 2, data: der.key },
      { type: 0, data: der.ca },
      { type: 51, data: Buffer.from(setupPassword, "utf8") },
    ],
    partition.size,
  );
  const outDir = resolve(opts.outDir);
  ensureDir(outDir);
  const file = join(outDir, SECURE_CERT_FILE);
  writeSecret(file, image); // it holds the private key
  const offset = `0x${partition.offset.toString(16)}`;
  return {
    thing: name,
    file,
    partition: { name: partition.name, offset: partition.offset, size: partition.size },
    setupPassword,
    esptool: `esptool.py --chip esp32 -p <PORT> write_flash ${offset} ${file}`,
  };
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** The `export esp32` command for tools/pki/cli.ts. */
export const exportEsp32Command = {
  usage: "export esp32 <name> --out <dir> [--key <private-key.pem>] [--json]",
  summary: "write esp_secure_cert.bin (Espressif's TLV partition: certificate, key, CA, setup password) for one board",
  details:
    "Flash one release image to every board, then write each board's partition with the printed esptool line\n" +
    "(the offset comes from modules/device/esp32/partitions.csv). The setup password is made once per thing,\n" +
    "kept in its PKI folder (setup-password.txt) and printed for the board's label.",
  options: { out: { type: "string" as const }, key: { type: "string" as const }, json: { type: "boolean" as const } },
  optionHelp: [
    "--out <dir>    where esp_secure_cert.bin goes (0600: it holds the private key)",
    "--key <file>   the private key, for things issued from a CSR (the key is not in the PKI dir)",
    "--json         the result as JSON",
  ],
  args: [1, 1] as [number, number],
  async run(ctx: { args: string[]; values: Values; io: { out(line: string): void }; open(): Promise<PkiForExport> }): Promise<void> {
    const out = ctx.values.out;
    if (typeof out !== "string" || out === "") usageFail("missing --out");
    const key = ctx.values.key;
    const result = await exportEsp32(await ctx.open(), ctx.args[0]!, { outDir: out, ...(typeof key === "string" ? { keyPath: key } : {}) });
    if (ctx.values.json) {
      ctx.io.out(JSON.stringify(result, null, 2));
      return;
    }
    ctx.io.out(`esp_secure_cert image: ${result.file} (mode 0600; delete it once written)`);
    ctx.io.out(`partition:             ${result.partition.name} at 0x${result.partition.offset.toString(16)}, ${result.partition.size} bytes`);
    ctx.io.out(`write it:              ${result.esptool}`);
    ctx.io.out(`label:                 ${result.thing}  setup Wi-Fi password ${result.setupPassword}`);
  },
};
