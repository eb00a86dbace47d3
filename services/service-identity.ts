// What the MQTT services that run next to the PKI (renewal, jobs) share: the broker setting, and their
// reserved service identity, issued from the PKI on first run with its product policy attached once.
import { Pki, type ThingFiles } from "../tools/pki/pki";
import { openPolicyStore } from "../tools/policy/store";
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
 * The PKI in `pkiDir` and the service's identity in it: issued (EC key) when missing or no longer ACTIVE,
 * refused when deactivated on purpose; `policyFile` attached the first time the service is seen.
 */
export async function ensureServiceIdentity(
  pkiDir: string,
  name: string,
  policyFile: string,
  log: (event: string, fields: Record<string, unknown>) => void,
): Promise<{ pki: Pki; files: ThingFiles & { keyPath: string } }> {
  const pki = await Pki.open(pkiDir);
  if (!pki.hasCa()) throw new Error(`no CA in ${pkiDir}: start "npm run broker" once (it creates the PKI) or run "npm run pki -- ca init"`);
  let files = pki.thingFiles(name);
  if (!files?.keyPath || pki.thingState(name) !== "ACTIVE") {
    if (pki.thingState(name) === "INACTIVE") throw new Error(`the ${name} service's identity is deactivated in ${pkiDir}`);
    files = await pki.createService(name, { keyType: "ec" });
    log("identity-created", { thing: name, certificate: files.certPath });
  }
  const attached = openPolicyStore(pkiDir).attachDefaultOnce(policyFile, name);
  if (attached) log("policy-attached", { thing: name, policy: attached.name });
  return { pki, files: files as ThingFiles & { keyPath: string } };
}
