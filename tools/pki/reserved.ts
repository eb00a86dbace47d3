// Service identities (the restaurant, the renewal service) are reserved names: only
// `npm run pki -- service create <name>` issues them, never `thing create`, `ca sign`, `thing csr`,
// `thing register` or `import aws`. The broker grants a service's rights only to the certificate the
// registry recorded for it (by fingerprint), so a device can never become the restaurant by its CN.
// The list is the topic contract's (modules/core/topics.ts).
//
// The restaurant may run as several instances, each with a certificate of its own (`service create restaurant
// --instance N`): its identity, CN and client id is `restaurant.N`, a registry entry of its own (revoked on its
// own) with exactly the restaurant's rights. A thing name never contains a dot (A-Z a-z 0-9 _ -, as in AWS
// IoT), so no device can be issued, registered or named as an instance.
import { isValidThingName, RESERVED_THING_NAMES, RESTAURANT_NAME } from "../../modules/core/topics";

export const SERVICE_NAMES: readonly string[] = RESERVED_THING_NAMES;
/** The services that run as several instances, each with its own certificate. */
export const INSTANCED_SERVICES: readonly string[] = [RESTAURANT_NAME];
export const MAX_INSTANCE = 999;

export function isServiceName(name: string): boolean {
  return SERVICE_NAMES.includes(name);
}

/** Why `name` may not be a device thing, or undefined. */
export function reservedNameProblem(name: string): string | undefined {
  return isServiceName(name)
    ? `"${name}" is reserved for a service identity: create it with "npm run pki -- service create ${name}"`
    : undefined;
}

/** `restaurant.3`: the identity (CN, client id, registry name) of instance 3 of the restaurant. */
export function serviceInstanceName(service: string, instance: number): string {
  if (!INSTANCED_SERVICES.includes(service)) throw new Error(`"${service}" does not run as several instances (only ${INSTANCED_SERVICES.join(", ")})`);
  if (!Number.isSafeInteger(instance) || instance < 1 || instance > MAX_INSTANCE) throw new Error(`instance must be a whole number 1..${MAX_INSTANCE}`);
  return `${service}.${instance}`;
}

/** The service `name` is an instance of (`restaurant.3` → `restaurant`), or undefined. No leading zero. */
export function serviceOfInstance(name: string): string | undefined {
  const match = /^([A-Za-z0-9_-]+)\.([1-9][0-9]{0,2})$/.exec(name);
  return match && INSTANCED_SERVICES.includes(match[1]!) ? match[1] : undefined;
}

/** The service whose rights `name` carries: the service itself, or the service of an instance. */
export function serviceOfIdentity(name: string): string | undefined {
  return isServiceName(name) ? name : serviceOfInstance(name);
}

/** A name the registry may hold: a thing name, or a service instance's. */
export function isIdentityName(name: string): boolean {
  return isValidThingName(name) || serviceOfInstance(name) !== undefined;
}
