// `npm run test:xs [files or folders…]`: the core's unit tests (default host-test/test/core) on Moddable's XS
// engine, without the Moddable SDK. The same test files vitest runs on Node, bundled with a vitest shim and
// evaluated in an xsnap worker. Prints each failure (name and message) and a closing line
// "N passed, N failed"; exits 1 if anything failed or no test ran.
import { bundleTests, findTestFiles } from "./bundle";
import type { TestResult } from "./vitest-shim";
import { runInXs, xsWorkerVersion } from "./worker";

type WorkerMessage =
  | { type: "result"; result: TestResult }
  | { type: "done" }
  | { type: "crash"; message: string; stack?: string };

const DEFAULT_TARGETS = ["host-test/test/core"];
/** The whole run's limit: the core's tests take 10–25 s; a test stuck in a loop must not hang CI. */
const DEFAULT_TIMEOUT_S = 300;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const indent = (text: string) => text.replace(/^/gm, "     ");

function parseArgs(argv: string[]): { timeoutS: number; targets: string[] } {
  const targets: string[] = [];
  let timeoutS = DEFAULT_TIMEOUT_S;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== "--timeout-s") {
      targets.push(argv[i]);
      continue;
    }
    timeoutS = Number(argv[++i]);
    if (!(timeoutS > 0)) throw new Error(`--timeout-s needs a number of seconds > 0, got ${argv[i] ?? "nothing"}`);
  }
  return { timeoutS, targets };
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help")) {
    console.log(`usage: npm run test:xs [-- [--timeout-s N] <test file or folder>…]
  default: host-test/test/core; the run is stopped after N seconds (default ${DEFAULT_TIMEOUT_S})`);
    return 0;
  }
  const { timeoutS, targets } = parseArgs(argv);
  const started = Date.now();
  const files = findTestFiles(targets.length ? targets : DEFAULT_TARGETS);
  const version = xsWorkerVersion();
  console.log(`XS tests: ${plural(files.length, "file")} on ${version}`);
  const script = await bundleTests(files);

  const results: TestResult[] = [];
  let finished = false;
  let crash: string | undefined;
  const onMessage = (text: string) => {
    const message = JSON.parse(text) as WorkerMessage;
    if (message.type === "result") {
      results.push(message.result);
      if (message.result.state === "fail") {
        const { name, error } = message.result;
        console.log(`FAIL ${name}\n${indent(`${error?.name}: ${error?.message}`)}`);
      }
    } else if (message.type === "done") finished = true;
    else crash = `${message.message}${message.stack ? `\n${message.stack}` : ""}`;
  };
  try {
    await runInXs(script, { onMessage, timeoutMs: timeoutS * 1000 });
  } catch (error) {
    crash = `the XS worker failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (!finished && !crash) crash = "the XS worker went idle before the tests finished (a test awaits something that never settles)";

  const passed = results.filter((r) => r.state === "pass").length;
  const skipped = results.filter((r) => r.state === "skip").length;
  // A crash counts as one more failure, after the last test that reported.
  const failed = results.filter((r) => r.state === "fail").length + (crash ? 1 : 0);
  if (crash) {
    const last = results.at(-1);
    console.log(`FAIL XS run${last ? ` (after ${last.name})` : ""}\n${indent(crash)}`);
  }
  console.log(`XS: ${plural(files.length, "file")} in ${((Date.now() - started) / 1000).toFixed(1)} s${skipped ? `, ${skipped} skipped` : ""}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 || passed === 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
