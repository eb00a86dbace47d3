// One writer of the concurrent-registry test, run as its own process: rounds of ten mixed operations on one PKI dir
// (create, revoke, deactivate through the PKI library; renew through the renewal service over MQTT), each
// reported on stdout as a JSON line only once it said it succeeded.
//   node --import tsx registry-worker.ts <pkiDir> <worker index> <broker url> <renewing thing> <rounds>
import fs from "node:fs";
import path from "node:path";
import { X509Certificate } from "node:crypto";
import mqtt from "mqtt";
import { base64Decode } from "../../../modules/core/der";
import { decodeRenewalAnswer, type RenewalAnswer } from "../../../modules/core/renewal";
import { renewedTopic, renewTopic } from "../../../modules/core/topics";
import { Pki } from "../../../tools/pki/pki";

const [pkiDir, index, brokerUrl, renewer, rounds] = process.argv.slice(2) as [string, string, string, string, string];
let started = Date.now();
const report = (fields: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ ...fields, ms: Date.now() - started })}\n`);
const certOf = (thing: string) => new X509Certificate(fs.readFileSync(path.join(pkiDir, "things", thing, "cert.pem")));

/** Ten operations a round: 5 creates, 2 revokes, 2 deactivations, 1 renewal. */
const CYCLE = ["create", "create", "revoke 0", "create", "deactivate 1", "renew", "create", "revoke 2", "create", "deactivate 4"];

const pki = await Pki.open(pkiDir);
const read = (file: string) => fs.readFileSync(path.join(pkiDir, "things", renewer, file), "utf8");
const client = await mqtt.connectAsync(brokerUrl, { ca: read("ca.pem"), cert: read("chain.pem"), key: read("key.pem"), clientId: renewer, protocolVersion: 4, reconnectPeriod: 0 });
const answers: RenewalAnswer[] = [];
client.on("message", (_topic, payload) => {
  const decoded = decodeRenewalAnswer(new Uint8Array(payload));
  if (decoded.ok) answers.push(decoded.value);
});
await client.subscribeAsync(renewedTopic("pizza", renewer), { qos: 1 });
let held = certOf(renewer).serialNumber.toLowerCase();

async function renew(): Promise<void> {
  const before = answers.length;
  await client.publishAsync(renewTopic("pizza", renewer), JSON.stringify({ v: 1, serial: held }), { qos: 1 });
  for (let i = 0; i < 600 && answers.length === before; i++) await new Promise((r) => setTimeout(r, 50));
  const answer = answers[before];
  if (answer?.status !== "issued") {
    report({ op: "renew", thing: renewer, ok: false, answer: answer ?? "none" });
    return;
  }
  const cert = new X509Certificate(Buffer.from(base64Decode(answer.cert)!));
  held = cert.serialNumber.toLowerCase();
  report({ op: "renew", thing: renewer, ok: true, fingerprint256: cert.fingerprint256 });
}

const created: string[] = [];
for (let round = 0; round < Number(rounds); round++) {
  const names: string[] = [];
  for (const step of CYCLE) {
    const [op, arg] = step.split(" ") as [string, string | undefined];
    started = Date.now();
    try {
      if (op === "create") {
        const name = `w${index}-r${round}-${names.length}`;
        names.push(name);
        await pki.createThing(name, { keyType: "ec", validDays: 30 });
        created.push(name);
        report({ op, thing: name, ok: true, fingerprint256: certOf(name).fingerprint256 });
      } else if (op === "revoke" || op === "deactivate") {
        const name = names[Number(arg)]!;
        await pki.setThingState(name, op === "revoke" ? "REVOKED" : "INACTIVE");
        report({ op, thing: name, ok: true });
      } else await renew();
    } catch (error) {
      report({ op, ok: false, reason: (error as Error).message });
    }
  }
}
await client.endAsync();
report({ op: "done", created: created.length });
