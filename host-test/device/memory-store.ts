// An in-memory Store: the NVS stand-in for tests and the load driver (a JSON file per button would
// measure thousands of fsyncs of emulated flash, not the system). Holds to the same limits as the
// firmware's store, so the core never gets away with a key or value the board would refuse.
import type { Store } from "../../modules/core/ports";

export class MemoryStore implements Store {
  readonly data = new Map<string, string>();
  /** Every write and remove in order (value undefined for a remove). */
  readonly writes: [string, string | undefined][] = [];
  read(key: string): string | undefined {
    this.check(key);
    return this.data.get(key);
  }
  write(key: string, value: string): void {
    this.check(key);
    if (value.length > 4000) throw new Error(`value for ${key} too long`);
    this.data.set(key, value);
    this.writes.push([key, value]);
  }
  remove(key: string): void {
    this.check(key);
    this.data.delete(key);
    this.writes.push([key, undefined]);
  }
  private check(key: string): void {
    // The NVS limit the firmware store has: fail loudly here so the core never uses a longer key.
    if (key.length === 0 || key.length > 15) throw new Error(`store key ${JSON.stringify(key)} violates 1..15 chars`);
  }
}
