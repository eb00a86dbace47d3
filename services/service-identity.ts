// What the MQTT services that run next to the PKI (renewal, jobs) share: the broker setting, and their
// reserved service identity, issued from the PKI on first run with its product policy attached once.
import { Pki, type ThingFiles } from "../tools/pki/pki";
import type { SettingsSchema } from "../modules/core/settings";
import { parseMqttsUrl } from "./net/broker-url";

/** --broker and --servername, as every service names them. */
export const BROKER_SETTINGS: SettingsSchema["settings"] = [
  {
    key: "broker",
    type: "text",
    default: "mqtts://127.0.0.1:8883",
    check: (url) => {
      try {
        parseMqttsUrl(url);
        return undefined;
      } catch (error) {
        return `is not a broker URL: ${(error as Error).message}`;
      }
    },
    help: "mqtts://host:port (default: npm run broker on this computer)",
  },
  { key: "servername", type: "text", help: "broker certificate name, if not the URL's host" },
];

/**
 * The PKI in `pkiDir` and the service's identity in it, issued (EC key) on first run only, with
 * `policyFile` attached the first time the service is seen. An identity that an operator revoked or
 * deactivated stays so: the service refuses to start until `npm run pki -- service create <name>` issues
 * a new one.
 */
export async function ensureServiceIdentity(
  pkiDir: string,
  name: string,
  policyFile: string,
  log: (event: string, fields: Record<string, unknown>) => void,
): Promise<{ pki: Pki; files: ThingFiles & { keyPath: string } }> {
  const pki = await Pki.open(pkiDir);
  if (!pki.hasCa()) throw new Error(`no CA in ${pkiDir}: start "npm run broker" once (it creates the PKI) or run "npm run pki -- ca init"`);
  const files = await serviceIdentity(pki, name, log);
  const attached = await pki.policies.attachDefaultOnce(policyFile, name);
  if (attached) log("policy-attached", { thing: name, policy: attached.name });
  return { pki, files };
}

async function serviceIdentity(pki: Pki, name: string, log: (event: string, fields: Record<string, unknown>) => void): Promise<ThingFiles & { keyPath: string }> {
  const state = pki.thingState(name);
  if (state === undefined) {
    const created = await pki.createService(name, { keyType: "ec" });
    log("identity-created", { thing: name, certificate: created.certPath });
    return created as ThingFiles & { keyPath: string };
  }
  const files = pki.thingFiles(name);
  const renew = `"npm run pki -- --pki-dir ${pki.dir} service create ${name}"`;
  if (state !== "ACTIVE") throw new Error(`the ${name} service's identity is ${state} in ${pki.dir}; to run the service again, issue it a new one: ${renew}`);
  if (!files?.keyPath) throw new Error(`the ${name} service's identity in ${pki.dir} has no private key; issue a new one: ${renew}`);
  return files as ThingFiles & { keyPath: string };
}
