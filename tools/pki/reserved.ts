// Service identities (the restaurant, the renewal service) are reserved names: only
// `npm run pki -- service create <name>` issues them, never `thing create`, `ca sign`, `thing csr`,
// `thing register` or `import aws`. The broker grants a service's rights only to the certificate the
// registry recorded for it (by fingerprint), so a device can never become the restaurant by its CN.
// The list is the topic contract's (modules/core/topics.ts).
import { RESERVED_THING_NAMES } from "../../modules/core/topics";

export const SERVICE_NAMES: readonly string[] = RESERVED_THING_NAMES;

export function isServiceName(name: string): boolean {
  return SERVICE_NAMES.includes(name);
}

/** Why `name` may not be a device thing, or undefined. */
export function reservedNameProblem(name: string): string | undefined {
  return isServiceName(name)
    ? `"${name}" is reserved for a service identity: create it with "npm run pki -- service create ${name}"`
    : undefined;
}
