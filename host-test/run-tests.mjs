// `npm test`: the type checks, the vitest suites and the core's tests on XS, at the same time.
// The type checker and the XS run are one process each and mostly one core; the vitest suites spend much of
// their time waiting on sockets and child processes. Run one after the other they leave a core idle for
// minutes; run together they finish in the time of the vitest suites. vitest prints live; the other two are
// printed whole when they end (so their lines never interleave), and the run fails if any of the three fails.
// Plain JavaScript: no TypeScript loader to start for the runner itself.
import { spawn } from "node:child_process";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

/** Runs a command; `live` lets it write to this terminal, otherwise its output is kept for later. */
function start(name, command, args, { live }) {
  const began = Date.now();
  const child = spawn(command, args, { stdio: live ? "inherit" : ["ignore", "pipe", "pipe"] });
  let output = "";
  if (!live) {
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
  }
  return new Promise((resolve) => {
    child.on("error", (error) => resolve({ name, code: 127, output: `${output}${error.message}\n`, seconds: 0 }));
    child.on("close", (code, signal) =>
      resolve({ name, code: code ?? 128, signal, output, seconds: Math.round((Date.now() - began) / 1000) }),
    );
  });
}

const passThrough = process.argv.slice(2); // e.g. `npm test -- --project unit`: for vitest
const jobs = [
  start("typecheck", NPM, ["run", "-s", "typecheck"], { live: false }),
  start("vitest", process.execPath, ["node_modules/vitest/vitest.mjs", "run", ...passThrough], { live: true }),
  start("test:xs", NPM, ["run", "-s", "test:xs"], { live: false }),
];
// Ctrl-C reaches the whole process group; wait for the children to end rather than leave them behind.
process.on("SIGINT", () => {});

const results = await Promise.all(jobs);
for (const result of results.filter((r) => r.name !== "vitest")) {
  process.stdout.write(`\n== ${result.name} (${result.seconds} s)\n${result.output}`);
}
process.stdout.write("\n");
for (const result of results) {
  const verdict = result.code === 0 ? "ok" : result.signal ? `stopped by ${result.signal}` : `FAILED (exit ${result.code})`;
  process.stdout.write(`${result.name.padEnd(10)} ${verdict}, ${result.seconds} s\n`);
}
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
