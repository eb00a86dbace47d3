// The firmware's ESP32 partition table (modules/device/esp32/partitions.csv), read the way ESP-IDF's
// gen_esp32part.py reads a CSV: the one source of the esp_secure_cert offset the PKI prints, and checked
// (alignment, overlaps, flash size, the partitions the product needs) by npm run build:esp32-check.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./sdk";

export const PARTITIONS_CSV = join(REPO_ROOT, "modules", "device", "esp32", "partitions.csv");
export const FLASH_BYTES = 4 * 1024 * 1024;
/** ESP-IDF's default partition table offset (CONFIG_PARTITION_TABLE_OFFSET) and its 4 KiB size. */
const TABLE_OFFSET = 0x8000;
const TABLE_BYTES = 0x1000;

export interface Partition {
  name: string;
  /** "app", "data" or the number of a custom type (esp_secure_cert: 0x3f). */
  type: string | number;
  subtype: string;
  offset: number;
  size: number;
  flags: string[];
}

function number(text: string, what: string): number {
  const m = /^(0x[0-9a-f]+|\d+)([km]?)$/i.exec(text);
  if (!m) throw new Error(`partition table: ${what} "${text}" is not a number`);
  const scale = m[2]!.toLowerCase() === "k" ? 1024 : m[2]!.toLowerCase() === "m" ? 1024 * 1024 : 1;
  return Number(m[1]) * scale;
}

/** Parses a partition CSV; blank offsets follow the previous partition (apps aligned to 64 KiB, data to 4 KiB). */
export function parsePartitions(csv: string): Partition[] {
  const out: Partition[] = [];
  let next = TABLE_OFFSET + TABLE_BYTES;
  for (const raw of csv.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [name = "", typeText = "", subtype = "", offsetText = "", sizeText = "", flagText = ""] = line.split(",").map((s) => s.trim());
    const type = /^(app|data)$/.test(typeText) ? typeText : number(typeText, `type of ${name}`);
    const align = type === "app" ? 0x10000 : 0x1000;
    const offset = offsetText === "" ? Math.ceil(next / align) * align : number(offsetText, `offset of ${name}`);
    const size = number(sizeText, `size of ${name}`);
    out.push({ name, type, subtype, offset, size, flags: flagText === "" ? [] : flagText.split(":").map((f) => f.trim()) });
    next = offset + size;
  }
  return out;
}

/** Everything wrong with a table for this product (empty when it is fine). */
export function checkPartitions(partitions: Partition[], flashBytes = FLASH_BYTES): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  const sorted = [...partitions].sort((a, b) => a.offset - b.offset);
  for (const [i, p] of sorted.entries()) {
    if (names.has(p.name)) problems.push(`${p.name}: duplicate name`);
    names.add(p.name);
    if (p.offset < TABLE_OFFSET + TABLE_BYTES) problems.push(`${p.name}: starts inside the bootloader or partition table (0x${p.offset.toString(16)})`);
    if (p.offset % (p.type === "app" ? 0x10000 : 0x1000) !== 0) problems.push(`${p.name}: offset 0x${p.offset.toString(16)} is not aligned`);
    if (p.offset + p.size > flashBytes) problems.push(`${p.name}: ends past the ${flashBytes / 1048576} MiB flash`);
    const previous = sorted[i - 1];
    if (previous && previous.offset + previous.size > p.offset) problems.push(`${p.name}: overlaps ${previous.name}`);
  }
  const byName = (name: string) => partitions.find((p) => p.name === name);
  const cert = byName("esp_secure_cert");
  if (!cert) problems.push("no esp_secure_cert partition");
  else if (cert.type !== 0x3f || !cert.flags.includes("encrypted")) problems.push("esp_secure_cert: must be type 0x3F and flagged encrypted (Espressif's layout)");
  const keys = partitions.find((p) => p.type === "data" && p.subtype === "nvs_keys");
  if (!keys || !keys.flags.includes("encrypted")) problems.push("no nvs_keys partition flagged encrypted (NVS encryption)");
  if (!partitions.some((p) => p.type === "data" && p.subtype === "ota")) problems.push("no otadata partition");
  const slots = partitions.filter((p) => p.type === "app" && /^ota_\d+$/.test(p.subtype));
  if (slots.length < 2) problems.push("fewer than two OTA app slots");
  if (partitions.some((p) => p.type === "app" && p.subtype === "factory")) problems.push("a factory app: mcconfig would rewrite the table (it carves OTA and mod partitions out of it)");
  return problems;
}

export function readPartitions(path = PARTITIONS_CSV): Partition[] {
  return parsePartitions(readFileSync(path, "utf8"));
}

/** The esp_secure_cert partition of the product's table. */
export function secureCertPartition(path = PARTITIONS_CSV): Partition {
  const p = readPartitions(path).find((q) => q.name === "esp_secure_cert");
  if (!p) throw new Error(`${path} has no esp_secure_cert partition`);
  return p;
}
