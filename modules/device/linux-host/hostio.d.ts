// Natives of the headless Linux host (hostio.js / hostio.c).
declare module "hostio" {
  /** Writes text to stdout and flushes. */
  export function write(text: string): void;
  /** Calls back once per stdin line (without the newline). At end of input the host exits. */
  export function onLine(callback: (line: string) => void): void;
  /** The process arguments after the program name. */
  export function args(): string[];
  /** Leaves the main loop, then the process executes itself again with the same arguments (a reboot). */
  export function restart(): void;
  /** Leaves the main loop; the process exits with this status. */
  export function exit(status: number): void;
  /**
   * XS memory in bytes: chunks and slots in use, and their peaks since the previous call (which resets
   * the peaks to the current values).
   */
  export function mem(): { chunksUsed: number; chunksPeak: number; slotsUsed: number; slotsPeak: number };
}
