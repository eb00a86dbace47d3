import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// Three suites. `unit`: pure code (the core, pure device code, the settings schema, the policy engine, the
// restaurant's order desk, the layering rule): no broker, no child process, no browser; `npm run test:unit`
// runs it in seconds. `system`: everything over real parts (TLS on loopback, brokers, SQLite, child
// processes, Chromium, load, bench). `firmware`: the real firmware on the Moddable runtime (needs $MODDABLE).
// `npm test` runs all three; `npm run test:system` the last two.
export const UNIT_TESTS = [
  "host-test/test/core/**/*.test.ts",
  "host-test/test/architecture/**/*.test.ts",
  "host-test/test/interop/**/*.test.ts",
  "host-test/test/firmware/settings.test.ts",
  "host-test/test/firmware/cert-name.test.ts",
  "host-test/test/config.test.ts",
  "host-test/test/device/terminal-led.test.ts",
  "host-test/test/device/live-line.test.ts",
  "host-test/test/services/runtime.test.ts",
  "host-test/test/services/settings-cli.test.ts",
  "host-test/test/device/keyboard-button.test.ts",
  "host-test/test/services/net/close-kind.test.ts",
  "host-test/test/services/restaurant/order-desk*.test.ts",
  "host-test/test/services/restaurant/orders/text.test.ts",
  "host-test/test/services/token-bucket.test.ts",
  "host-test/test/services/broker/authorizer.test.ts",
  "host-test/test/services/policies/*.test.ts",
  "host-test/test/services/broker/jobs-rules.test.ts",
  "host-test/test/tools/policy/evaluate.test.ts",
  "host-test/test/tools/policy/parse.test.ts",
  "host-test/test/tools/policy/glob.test.ts",
  "host-test/test/tools/pki/reserved.test.ts",
];

/**
 * The longest system files (a minute or so each, mostly waiting), started first: with two files at a time, one
 * of them started last would keep the run going alone at the end. vitest orders by the durations it cached
 * on an earlier run, which a fresh clone (CI) does not have.
 */
export const LONGEST_FIRST = [
  "host-test/test/readme.test.ts",
  "host-test/test/load/failover.test.ts",
  "host-test/test/simulate.test.ts",
  "host-test/test/qualify/qualify.test.ts",
  "host-test/test/cli-conventions.test.ts",
  "host-test/test/bench/bench.test.ts",
  "host-test/test/load/load.test.ts",
  "host-test/test/reliability/faults.test.ts",
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const at = LONGEST_FIRST.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
      return at < 0 ? LONGEST_FIRST.length : at;
    };
    const group = (spec: TestSpecification) => spec.project.config.sequence.groupOrder ?? 0;
    return sorted.map((spec, index) => ({ spec, index })).sort((a, b) => group(a.spec) - group(b.spec) || rank(a.spec) - rank(b.spec) || a.index - b.index).map(({ spec }) => spec);
  }
}

/** Suites that build and run the real firmware with the Moddable SDK. */
export const FIRMWARE_TESTS = ["host-test/test/firmware/**/*.test.ts"];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites start brokers on loopback ports; keep files in separate processes.
    pool: "forks",
    // Most system files spend their time waiting (reconnect backoffs, ack timeouts, outages they stage,
    // child processes starting), not computing. Files share no port (every server listens on port 0) and no
    // directory (each makes its own temp dir), so several can run at once: three keep both cores of a 2-core
    // machine busy (two left one idle a third of the time; more only queue for the CPU).
    maxWorkers: 3,
    sequence: { sequencer: LongestFirst },
    projects: [
      // Pure code keeps no state between files: one process runs many of them (a fresh process per file costs
      // more CPU than most of these files' tests).
      { extends: true, test: { name: "unit", include: UNIT_TESTS, isolate: false } },
      // System files too share their worker's module cache (isolate: false): each file otherwise pays the import
      // of the whole product (aedes, mqtt, x509, SQLite) again in a fresh process. They keep no module state
      // (every server, directory and PKI is made per file) and restore fake timers, so nothing leaks between them.
      { extends: true, test: { name: "system", include: ["host-test/test/**/*.test.ts"], exclude: [...UNIT_TESTS, ...FIRMWARE_TESTS], isolate: false } },
      // The real firmware (x-cli-lin builds of minutes each, with $MODDABLE; skipped without it): one file at a
      // time, after the others, so parallel SDK builds do not starve each other or the timing-bound suites.
      { extends: true, test: { name: "firmware", include: FIRMWARE_TESTS, exclude: UNIT_TESTS, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
