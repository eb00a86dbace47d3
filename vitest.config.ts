import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["host-test/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites start brokers on loopback ports; keep files in separate processes.
    pool: "forks",
  },
});
