// The development PKI `npm run simulate` needs, created on first use and reused afterwards:
// root CA, broker certificate for localhost/127.0.0.1, the restaurant's client certificate
// (the reserved service identity restaurant, EC P-256: it is a host-only client) and device pizza-button-01 (RSA-2048, like
// the firmware). Anything missing or expiring within a day is (re)issued; the rest is left alone.
import { Pki, type ServerFiles, type ThingFiles, type TrustMaterial } from "./pki";
import { parseCertificate } from "./crypto";
import { readFileSync } from "node:fs";
import { RESTAURANT_NAME } from "../../modules/core/topics";

export const DEV_DEVICE = "pizza-button-01";
/** The restaurant's identity is the topic contract's reserved name. */
export const DEV_RESTAURANT = RESTAURANT_NAME;
export const DEV_BROKER_HOSTS = ["localhost"];
export const DEV_BROKER_IPS = ["127.0.0.1"];

export interface DevPki {
  pki: Pki;
  dir: string;
  broker: ServerFiles;
  restaurant: ThingFiles;
  device: ThingFiles;
  trust: TrustMaterial;
}

const DAY = 86_400_000;

function usable(certPath: string | undefined): boolean {
  if (!certPath) return false;
  try {
    const cert = parseCertificate(readFileSync(certPath, "utf8"), certPath);
    return cert.notAfter.getTime() - Date.now() > DAY && cert.notBefore.getTime() <= Date.now();
  } catch {
    return false;
  }
}

async function ensureThing(pki: Pki, name: string, keyType: "rsa" | "ec", kind: "device" | "service" = "device"): Promise<ThingFiles> {
  const files = pki.thingFiles(name);
  const state = pki.thingState(name);
  // A deactivated thing stays as the user left it; the simulation then shows the refusal. A restaurant
  // made before service identities existed (a plain thing) is re-issued as the service.
  const rightKind = kind === "device" || pki.listThings().find((t) => t.name === name)?.kind === "service";
  if (files?.keyPath && usable(files.certPath) && state !== "REVOKED" && rightKind) return files;
  // Missing, expiring, revoked, or without its key: retire the old certificate and issue anew.
  if (state && state !== "REVOKED") await pki.setThingState(name, "REVOKED");
  return kind === "service" ? pki.createService(name, { keyType }) : pki.createThing(name, { keyType });
}

export async function ensureDevPki(dir: string, opts: { deviceName?: string } = {}): Promise<DevPki> {
  const pki = await Pki.open(dir);
  if (!pki.hasCa()) await pki.initCa();
  let broker = pki.brokerFiles();
  if (!broker || !usable(broker.certPath)) broker = await pki.createBrokerCert({ hosts: DEV_BROKER_HOSTS, ips: DEV_BROKER_IPS });
  const restaurant = await ensureThing(pki, DEV_RESTAURANT, "ec", "service");
  const device = await ensureThing(pki, opts.deviceName ?? DEV_DEVICE, "rsa");
  return { pki, dir: pki.dir, broker, restaurant, device, trust: pki.trustMaterial() };
}
