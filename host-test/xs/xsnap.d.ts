// The part of @agoric/xsnap's API that worker.ts uses (the package ships JavaScript with JSDoc, no declarations).
declare module "@agoric/xsnap" {
  import type { spawn } from "node:child_process";

  export interface XsnapOptions {
    os: string;
    spawn: typeof spawn;
    fs: object;
    name?: string;
    stdout?: "ignore" | "inherit" | "pipe";
    stderr?: "ignore" | "inherit" | "pipe";
    /** Computation limit per evaluation; 0 for none. */
    meteringLimit?: number;
    /** Answers the worker's synchronous `issueCommand(ArrayBuffer)`. */
    handleCommand?: (request: Uint8Array) => Promise<Uint8Array>;
  }

  export interface XsnapWorker {
    evaluate(code: string): Promise<unknown>;
    close(): Promise<void>;
    terminate(): Promise<void>;
  }

  export function xsnap(options: XsnapOptions): Promise<XsnapWorker>;
}
