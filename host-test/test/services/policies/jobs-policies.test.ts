// The Jobs statements of the product policies: a button works only through its own jobs (device.json), the
// local jobs service answers every thing's (jobs.json). Decided by the AWS IoT policy engine (tools/policy).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type ConnectionContext, evaluate, parsePolicy } from "../../../../tools/policy/evaluate";

const dir = fileURLToPath(new URL("../../../../services/policies/", import.meta.url));
const load = (file: string) => ({ name: file, policy: parsePolicy(readFileSync(dir + file, "utf8"), file) });
const device = load("device.json");
const jobs = load("jobs.json");
const CFG = { region: "eu-central-1", account: "111122223333" };
const attached = (name: string): ConnectionContext => ({ clientId: name, thing: { name }, commonName: name });
const a = attached("button-a");
const service = attached("jobs");

type Row = [string, ConnectionContext, string, string, boolean];
const rows: Row[] = [
  ["button asks for its next job", a, "iot:Publish", "$aws/things/button-a/jobs/$next/get", true],
  ["button updates its own job", a, "iot:Publish", "$aws/things/button-a/jobs/fw-2/update", true],
  ["button updates another thing's job", a, "iot:Publish", "$aws/things/button-b/jobs/fw-2/update", false],
  ["button asks for another thing's next job", a, "iot:Publish", "$aws/things/button-b/jobs/$next/get", false],
  ["button forges its own notify-next", a, "iot:Publish", "$aws/things/button-a/jobs/notify-next", false],
  ["button subscribes to its own jobs", a, "iot:Subscribe", "$aws/things/button-a/jobs/#", true],
  ["button subscribes to another thing's jobs", a, "iot:Subscribe", "$aws/things/button-b/jobs/#", false],
  ["button subscribes to every thing's jobs", a, "iot:Subscribe", "$aws/things/+/jobs/#", false],
  ["button subscribes to a longer name's jobs", a, "iot:Subscribe", "$aws/things/button-a2/jobs/#", false],
  ["button receives its own job", a, "iot:Receive", "$aws/things/button-a/jobs/notify-next", true],
  ["button receives another thing's job", a, "iot:Receive", "$aws/things/button-b/jobs/notify-next", false],
  ["jobs connects as itself", service, "iot:Connect", "jobs", true],
  ["jobs subscribes to every get-next", service, "iot:Subscribe", "$aws/things/+/jobs/$next/get", true],
  ["jobs subscribes to every update", service, "iot:Subscribe", "$aws/things/+/jobs/+/update", true],
  ["jobs subscribes to everything", service, "iot:Subscribe", "#", false],
  ["jobs receives an update", service, "iot:Receive", "$aws/things/button-a/jobs/fw-2/update", true],
  ["jobs answers an update", service, "iot:Publish", "$aws/things/button-a/jobs/fw-2/update/accepted", true],
  ["jobs notifies", service, "iot:Publish", "$aws/things/button-a/jobs/notify-next", true],
  ["jobs forges a button's update", service, "iot:Publish", "$aws/things/button-a/jobs/fw-2/update", false],
  ["jobs publishes an order", service, "iot:Publish", "pizza/orders/button-a", false],
];

describe("jobs statements of the product policies", () => {
  it("parse without warnings", () => {
    expect(device.policy.warnings).toEqual([]);
    expect(jobs.policy.warnings).toEqual([]);
  });
  it.each(rows)("%s", (_name, ctx, action, resource, allow) => {
    const d = evaluate([ctx === service ? jobs : device], { action, resource }, ctx, CFG);
    expect(d.allow, d.reason).toBe(allow);
  });
});
