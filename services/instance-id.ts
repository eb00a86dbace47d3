// Several restaurant instances share one service certificate and tell themselves apart by client id:
// `<service>.<n>`. A thing name never contains a dot (device names are A-Z a-z 0-9 _ -, as in AWS IoT), and
// a device's client id must be its thing name, so no button can ever connect under an instance's id.
export const MAX_INSTANCE = 999;

/** `restaurant.3` for instance 3 of the `restaurant` service. */
export function instanceClientId(service: string, instance: number): string {
  if (!Number.isSafeInteger(instance) || instance < 1 || instance > MAX_INSTANCE) throw new Error(`instance must be a whole number 1..${MAX_INSTANCE}`);
  return `${service}.${instance}`;
}

/** True when `clientId` is `<service>.<n>` with n in 1..MAX_INSTANCE (no leading zero). */
export function isInstanceClientId(clientId: string, service: string): boolean {
  if (!clientId.startsWith(`${service}.`)) return false;
  const n = clientId.slice(service.length + 1);
  return /^[1-9][0-9]{0,2}$/.test(n);
}
