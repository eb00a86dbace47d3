// The names the PKI accepts: thing names, reserved service names, and the name patterns that limit
// what a registered CA may issue.
import { isValidThingName } from "../../modules/core/config";
import { wildcardMatch } from "../policy/glob";
import { fail } from "./errors";
import { reservedNameProblem } from "./reserved";

export function assertThingName(name: string): void {
  if (!isValidThingName(name)) fail(`invalid thing name "${name}": use 1-128 characters from A-Z a-z 0-9 _ -`);
}

/** A device's name: valid and not reserved for a service. */
export function assertDeviceName(name: string): void {
  assertThingName(name);
  const reserved = reservedNameProblem(name);
  if (reserved) fail(reserved);
}

/** A registered CA's name pattern: thing-name characters and the wildcards * and ?. */
export function assertNamePattern(pattern: string): void {
  if (!/^[A-Za-z0-9_*?-]{1,128}$/.test(pattern)) fail(`invalid --names pattern "${pattern}": thing-name characters (A-Z a-z 0-9 _ -) and the wildcards * ?`);
}

/** A CA limited to a name pattern (ca register --names) may only bind things that match it. */
export function assertNameAllowed(limits: { subject: string; names: string }[], name: string, source: string): void {
  for (const ca of limits) {
    if (!wildcardMatch(ca.names, name)) fail(`${source}: ${ca.subject} may only issue things named "${ca.names}", not "${name}"`);
  }
}
