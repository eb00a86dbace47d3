// Which thing a button acts as: the configured thing, else its certificate's CN (certificates of this PKI
// carry the thing as CN). AWS-issued certificates all carry CN "AWS IoT Certificate", which is no thing
// name: then the thing must be configured. The firmware (main.ts) and the simulator both decide it here.

import { isValidThingName } from "./topics";

export type ThingNameChoice =
  | {
      ok: true;
      thingName: string;
      /** A configured thing that is not the CN: the broker must bind this certificate to it by fingerprint. */
      differsFromCn: boolean;
    }
  | { ok: false; problem: string };

export function chooseThingName(configured: string | undefined, certificateCn: string | undefined): ThingNameChoice {
  const thingName = configured ?? certificateCn;
  if (thingName !== undefined && isValidThingName(thingName)) {
    return { ok: true, thingName, differsFromCn: certificateCn !== undefined && certificateCn !== thingName };
  }
  if (configured !== undefined) return { ok: false, problem: `thing ${JSON.stringify(configured)} is not a thing name` };
  return { ok: false, problem: `certificate CN ${JSON.stringify(certificateCn ?? "")} is not a thing name (AWS IoT certificates all carry "AWS IoT Certificate")` };
}
