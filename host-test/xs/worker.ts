// Runs one script in an XS worker (@agoric/xsnap: Moddable's XS, built from source when the package installs).
// The script reports with `send(text)`; each call reaches `onMessage` here, in order, while the script runs.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

export interface XsRunOptions {
  /** Called for every `send(text)` of the script. */
  onMessage: (text: string) => void;
  /** Where the worker's `print()` goes (default: this process's stdout). */
  stdout?: "inherit" | "ignore";
  /** The worker is stopped, and the run rejected, if the script is still running after this long. */
  timeoutMs: number;
}

const decoder = new TextDecoder();

/** The worker binary xsnap built at install (release build; xsnap names platforms lin and mac). */
function workerBinary(): string {
  const pkg = createRequire(import.meta.url).resolve("@agoric/xsnap/package.json");
  const platform = { Linux: "lin", Darwin: "mac" }[os.type()];
  if (!platform) throw new Error(`xsnap has no XS worker for ${os.type()}`);
  return path.join(path.dirname(pkg), "xsnap-native/xsnap/build/bin", platform, "release/xsnap-worker");
}

/** What the worker binary says of itself, e.g. "xsnap 0.15.0 (XS 13.3.0)". */
export function xsWorkerVersion(): string {
  const bin = workerBinary();
  if (!fs.existsSync(bin))
    throw new Error(`XS worker not built: ${bin} is missing (npm ci builds it; it needs a C compiler and make)`);
  return execFileSync(bin, ["-v"], { encoding: "utf8" }).trim();
}

/**
 * Run in the worker before the script. `send` hands text to the host: `issueCommand` is xsnap's synchronous call
 * into the host, so each result is out before the next test starts, even if the worker then dies. xsnap's own
 * TextEncoder/TextDecoder (an older copy of Moddable's text modules, not part of XS) are removed, so the tests
 * see what the core gets on the device: ECMAScript only.
 */
const PRELUDE = `{
  const encoder = new TextEncoder();
  const issue = issueCommand;
  globalThis.send = (text) => { issue(encoder.encode(text).buffer); };
  delete globalThis.TextEncoder;
  delete globalThis.TextDecoder;
}`;

/**
 * Evaluates `script` in a fresh worker and resolves when the worker is idle again (the script's promise jobs
 * included). Rejects with XS's own message if the script throws or the worker dies (out of memory, say), or
 * when `timeoutMs` passes first (a test that never ends: XS runs it with no computation limit).
 * xsnap's Node API needs SES's hardened globals (`@endo/init`), so the first call locks down this process:
 * call it from a process of its own, after anything that changes built-ins.
 */
export async function runInXs(script: string, options: XsRunOptions): Promise<void> {
  await import("@endo/init");
  const { xsnap } = await import("@agoric/xsnap");
  const worker = await xsnap({
    os: os.type(),
    spawn,
    fs: { ...fs, ...fs.promises },
    name: "xs-tests",
    stdout: options.stdout ?? "inherit",
    stderr: "inherit",
    // No computation limit (xsnap's default caps each evaluation, for blockchain cranks; a test run is one long one).
    meteringLimit: 0,
    handleCommand: async (message: Uint8Array) => {
      options.onMessage(decoder.decode(message));
      return new Uint8Array(0);
    },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`still running after ${options.timeoutMs / 1000} s; the worker was stopped`));
      void worker.terminate();
    }, options.timeoutMs);
  });
  try {
    await worker.evaluate(PRELUDE);
    const evaluation = worker.evaluate(script);
    evaluation.catch(() => {}); // after a timeout it rejects too; the timeout is the error reported
    await Promise.race([evaluation, timedOut]);
  } finally {
    clearTimeout(timer);
    await worker.close().catch(() => worker.terminate());
  }
}
