import { defineConfig } from "vitest/config";

// Two suites. `unit`: pure code (the core, pure device code, the settings schema, the policy engine, the
// restaurant's order desk, the layering rule): no broker, no child process, no browser; `npm run test:unit`
// runs it in seconds. `system`: everything over real parts (TLS on loopback, brokers, SQLite, child
// processes, Chromium, load, bench). `npm test` runs both.
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
  "host-test/test/device/keyboard-button.test.ts",
  "host-test/test/services/net/close-kind.test.ts",
  "host-test/test/services/restaurant/order-desk*.test.ts",
  "host-test/test/services/restaurant/text.test.ts",
  "host-test/test/services/token-bucket.test.ts",
  "host-test/test/services/broker/authorizer.test.ts",
  "host-test/test/services/policies/*.test.ts",
  "host-test/test/services/broker/jobs-rules.test.ts",
  "host-test/test/tools/policy/evaluate.test.ts",
  "host-test/test/tools/policy/parse.test.ts",
  "host-test/test/tools/policy/glob.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites start brokers on loopback ports; keep files in separate processes.
    pool: "forks",
    projects: [
      { extends: true, test: { name: "unit", include: UNIT_TESTS } },
      { extends: true, test: { name: "system", include: ["host-test/test/**/*.test.ts"], exclude: UNIT_TESTS } },
    ],
  },
});
