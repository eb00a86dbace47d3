// `npm run pki -- thing setup <name> --out <dir>`: everything a real button needs from this PKI in one
// step, as `mos aws-iot-setup` does for Mongoose OS: the identity (created, or the existing one reused),
// the product's device policy attached, the three files the firmware embeds, and the mcconfig line.
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openPolicyStore } from "./policy-store";
import { fail } from "./errors";
import type { ModdableFiles } from "./moddable";
import type { Pki, ThingFiles } from "./pki";

/** The product's device policy (services/policies), read as a file: tools/ never imports services/. */
export const DEVICE_POLICY_FILE = fileURLToPath(new URL("../../services/policies/device.json", import.meta.url));

/** Where the firmware's manifest takes the identity from when PIZZA_CERTS is not set. */
const MANIFEST_CERTS_DIR = fileURLToPath(new URL("../../certs/device", import.meta.url));

export interface DeviceSetupOptions {
  pki: Pki;
  name: string;
  outDir: string;
  /** The private key when the PKI dir does not hold it (a thing issued from a CSR). */
  keyPath?: string;
  /** Policy to attach when the thing has none (default: the product's device policy). */
  policyFile?: string;
  /** The broker's address for the printed mcconfig line (default: a placeholder to fill in). */
  mqttHost?: string;
}

export interface DeviceSetup {
  name: string;
  /** True when this run created the identity; false when an existing one was reused. */
  created: boolean;
  thing: ThingFiles;
  /** The policies attached to the thing after setup, and whether this run attached one. */
  policies: string[];
  policyAttached: boolean;
  exported: ModdableFiles;
  /** The command that builds and flashes the firmware with this identity. */
  mcconfig: string;
}

export async function setupDevice(opts: DeviceSetupOptions): Promise<DeviceSetup> {
  const { pki, name } = opts;
  if (!pki.hasCa()) fail(`no CA in ${pki.dir}: create one first with "npm run pki -- ca init"`);
  const known = pki.listThings().find((t) => t.name === name);
  if (known && known.state !== "ACTIVE") fail(`thing ${name} is ${known.state}: a new board needs an ACTIVE identity (another name, or "thing activate ${name}")`);
  if (known?.keyType && !/^rsa/i.test(known.keyType)) {
    fail(`thing ${name} has an ${known.keyType} key, which the firmware's TLS can't use: set up a new name (RSA keys are made by default)`);
  }
  const existing = pki.thingFiles(name);
  const thing = existing ?? (await pki.createThing(name, { keyType: "rsa" }));

  const store = openPolicyStore(pki.store);
  const attached = await store.attachIfNone(opts.policyFile ?? DEVICE_POLICY_FILE, name);
  const policies = store.attached(name).map((p) => p.name);

  const exported = await pki.exportModdable(name, { outDir: opts.outDir, ...(opts.keyPath ? { keyPath: opts.keyPath } : {}) });
  const outDir = resolve(opts.outDir);
  const certsEnv = outDir === MANIFEST_CERTS_DIR ? "" : `PIZZA_CERTS=${outDir} `;
  const host = opts.mqttHost ?? "<your broker's address>";
  const mcconfig = `${certsEnv}mcconfig -m -p esp32/nodemcu wifi.ssid="<wifi>" wifi.password="<wifi password>" mqtt.host=${host}`;
  return { name, created: existing === undefined, thing, policies, policyAttached: attached !== undefined, exported, mcconfig };
}

/** A path as short as it reads from the current folder. */
export function shortPath(path: string, cwd = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") ? rel : path;
}
