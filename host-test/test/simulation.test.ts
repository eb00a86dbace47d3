// startSimulation in-process: the one-command demo wires the embedded broker (under the product policies),
// the restaurant, its kitchen page and a virtual button; an order placed by the button shows up, accepted,
// in the kitchen page's API.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseSimulateArgs } from "../config";
import { memoryLog } from "../device/log";
import { startSimulation, type Simulation } from "../simulation";

let sim: Simulation | undefined;
let dir: string | undefined;

afterEach(async () => {
  await sim?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  sim = undefined;
  dir = undefined;
});

describe("startSimulation", () => {
  it("serves the kitchen page for the in-process restaurant, showing the button's accepted order", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pizza-simulation-"));
    const config = parseSimulateArgs(["--state-dir", path.join(dir, "state"), "--pki-dir", path.join(dir, "pki")])!;
    sim = await startSimulation(config, { log: () => memoryLog(), ledMode: "silent" });
    expect(sim.kitchenUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/?$/);

    sim.device.start();
    const outcome = await sim.device.click("SINGLE");
    expect(outcome).toMatchObject({ outcome: "ok" });

    const response = await fetch(new URL("/api/orders", sim.kitchenUrl));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { orders: Array<{ orderId: string; status: string; thing: string }> };
    expect(body.orders).toContainEqual(expect.objectContaining({ orderId: outcome.orderId, status: "accepted", thing: "pizza-button-01" }));
  });
});
