// The mosquitto launcher: config and ACL text, a real mosquitto 2.0 started on a free loopback port,
// restarted on the same port, stopped by its PID. Skipped (with the reason printed) where the binary is
// not installed; .ci/run installs it.
import { readFileSync, rmSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mosquittoAcl, mosquittoConfig, startMosquitto, type RunningMosquitto } from "../../mosquitto/mosquitto";
import { connectClient, tryConnect } from "../support/mqtt-probe";
import { createSecurityPki, type Credentials, type SecurityPki } from "../support/security-pki";
import { mosquittoSkipReason } from "../support/test-brokers";

describe("mosquitto config text", () => {
  it("one TLS listener on 127.0.0.1: client certificates required, CN as username and client id, TLS ≥ 1.2, CRL, Nagle off", () => {
    const text = mosquittoConfig({
      port: 18883,
      files: { cafile: "/x/ca.pem", certfile: "/x/cert.pem", keyfile: "/x/key.pem", crlfile: "/x/crl.pem" },
      aclPath: "/x/acl",
    });
    const lines = text.split("\n");
    for (const line of [
      "listener 18883 127.0.0.1",
      "require_certificate true",
      "use_identity_as_username true",
      "use_username_as_clientid true",
      "tls_version tlsv1.2",
      "set_tcp_nodelay true",
      "allow_anonymous false",
      "acl_file /x/acl",
      "cafile /x/ca.pem",
      "certfile /x/cert.pem",
      "keyfile /x/key.pem",
      "crlfile /x/crl.pem",
      "max_packet_size 65536",
      "persistence false",
    ]) {
      expect(lines).toContain(line);
    }
    // Nothing listens anywhere else: exactly one listener line, and no port/bind_address defaults.
    expect(lines.filter((l) => /^(listener|port|bind_address)\b/.test(l))).toEqual(["listener 18883 127.0.0.1"]);
  });

  it("ACL: devices write their orders and renew requests, read their acks and renewal answers; the restaurant reads all orders, writes all acks; the renewal service reads all requests, writes all answers", () => {
    // The ACL's text is the contract as mosquitto reads it: written out, so a change to it shows here.
    const lines = mosquittoAcl({ topicPrefix: "shop/pizza" }).split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines).toEqual([
      "pattern write shop/pizza/orders/%u",
      "pattern read shop/pizza/acks/%u",
      "pattern write shop/pizza/renew/%u",
      "pattern read shop/pizza/renewed/%u",
      "pattern write $aws/things/%u/jobs/$next/get",
      "pattern write $aws/things/%u/jobs/+/update",
      "pattern read $aws/things/%u/jobs/#",
      "user restaurant",
      "topic read shop/pizza/orders/+",
      "topic write shop/pizza/acks/+",
      "user renewal",
      "topic read shop/pizza/renew/+",
      "topic write shop/pizza/renewed/+",
      "user jobs",
      "topic read $aws/things/+/jobs/$next/get",
      "topic read $aws/things/+/jobs/+/update",
      "topic write $aws/things/+/jobs/notify-next",
      "topic write $aws/things/+/jobs/$next/get/+",
      "topic write $aws/things/+/jobs/+/update/+",
    ]);
  });

  it("ACL from the registry: each ACTIVE restaurant instance (restaurant.N) gets the restaurant's block under its own name; a revoked one and a device named like one get none", () => {
    const lines = mosquittoAcl({
      things: [
        { name: "restaurant.1", state: "ACTIVE", kind: "service" },
        { name: "restaurant.2", state: "REVOKED", kind: "service" },
        { name: "restaurant.3", state: "ACTIVE" },
        { name: "renewal.1", state: "ACTIVE", kind: "service" },
      ],
    })
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(lines).toEqual(["user restaurant.1", "topic read pizza/orders/+", "topic write pizza/acks/+"]);
  });

  it("refuses a prefix or restaurant name that would widen the ACL", () => {
    expect(() => mosquittoAcl({ topicPrefix: "pizza/#" })).toThrow(/invalid topicPrefix/);
    expect(() => mosquittoAcl({ topicPrefix: "$SYS" })).toThrow(/invalid topicPrefix/);
    expect(() => mosquittoAcl({ restaurantName: "rest aurant" })).toThrow(/invalid restaurantName/);
  });
});

describe.skipIf(mosquittoSkipReason !== undefined)("a running mosquitto", () => {
  let pki: SecurityPki;
  let device: Credentials;
  let mosquitto: RunningMosquitto;

  beforeAll(async () => {
    pki = await createSecurityPki("mosquitto");
    device = await pki.thing("pizza-button-01");
    mosquitto = await startMosquitto({ pkiDir: pki.pki.dir });
  });
  afterAll(async () => {
    await mosquitto?.close();
    pki?.remove();
  });

  /** Local addresses listening on `port` per /proc/net/tcp{,6} (Linux); undefined elsewhere. */
  const listeningAddresses = (port: number): string[] | undefined => {
    const found: string[] = [];
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        return undefined;
      }
      for (const line of text.split("\n").slice(1)) {
        const [, local, , state] = line.trim().split(/\s+/);
        if (!local || state !== "0A") continue; // 0A = LISTEN
        const [hex, portHex] = local.split(":");
        if (parseInt(portHex!, 16) !== port) continue;
        // IPv4: 8 hex digits, little-endian bytes; IPv6: reported as-is.
        found.push(hex!.length === 8 ? hex!.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join(".") : `[${hex}]`);
      }
    }
    return found;
  };

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("listens on a free port on 127.0.0.1 only and accepts a device over TLS 1.2", async () => {
    expect(mosquitto.port).toBeGreaterThan(0);
    expect(mosquitto.url).toBe(`mqtts://127.0.0.1:${mosquitto.port}`);
    expect(alive(mosquitto.pid!)).toBe(true);
    const client = await connectClient(mosquitto.url, { credentials: device, clientId: "pizza-button-01" });
    await client.endAsync();
    // The kernel's table of listening sockets: the port is bound to 127.0.0.1 and nothing else (no
    // 0.0.0.0, no IPv6), read without connecting anywhere but loopback.
    const listeners = listeningAddresses(mosquitto.port);
    if (listeners !== undefined) expect(listeners).toEqual(["127.0.0.1"]);
  });

  it("gives the broker its own copies of the files: key 0600, owned by the user mosquitto runs as", () => {
    const key = statSync(`${mosquitto.dir}/broker.key.pem`);
    expect(key.mode & 0o777).toBe(0o600);
    const dir = statSync(mosquitto.dir);
    expect(dir.mode & 0o077).toBe(0); // 0700
    if (process.getuid?.() === 0) expect(key.uid).not.toBe(0); // root: handed to the mosquitto user
  });

  it("logs to the test (stderr is unbuffered): the listener and the running line", () => {
    expect(mosquitto.logs.some((l) => l.includes(`Opening ipv4 listen socket on port ${mosquitto.port}.`))).toBe(true);
    expect(mosquitto.logs.some((l) => /mosquitto version 2\.\d+\.\d+ running/.test(l))).toBe(true);
  });

  it("restart: a new process on the same port; stop(): the process is gone and the port closed", async () => {
    const { port } = mosquitto;
    const oldPid = mosquitto.pid!;
    await mosquitto.restart();
    expect(mosquitto.port).toBe(port);
    expect(mosquitto.pid).not.toBe(oldPid);
    expect(alive(oldPid)).toBe(false);
    const attempt = await tryConnect(mosquitto.url, { credentials: device, clientId: "pizza-button-01" });
    expect(attempt.connected).toBe(true);
    if (attempt.connected) await attempt.client.endAsync();

    const pid = mosquitto.pid!;
    await mosquitto.stop();
    expect(mosquitto.pid).toBeUndefined();
    expect(alive(pid)).toBe(false);
    const down = await tryConnect(mosquitto.url, { credentials: device, clientId: "pizza-button-01" });
    expect(down.connected).toBe(false);
    if (!down.connected) expect(down.errors.map((e) => e.code)).toContain("ECONNREFUSED");
    await mosquitto.start();
    expect(mosquitto.port).toBe(port);
  });

  it("two brokers at once get different free ports", async () => {
    const second = await startMosquitto({ pkiDir: pki.pki.dir });
    try {
      expect(second.port).not.toBe(mosquitto.port);
      const client = await connectClient(second.url, { credentials: device, clientId: "pizza-button-01" });
      await client.endAsync();
    } finally {
      await second.close();
    }
  });

  it("fails with mosquitto's own words when it cannot start", async () => {
    await expect(startMosquitto({ pkiDir: pki.pki.dir, extraConfig: ["no_such_option true"] })).rejects.toThrow(/did not start[\s\S]*no_such_option/);
  });

  it("refuses a PKI dir without a broker certificate", async () => {
    const bare = await createSecurityPki("bare");
    try {
      rmSync(`${bare.pki.dir}/broker`, { recursive: true, force: true });
      await expect(startMosquitto({ pkiDir: bare.pki.dir })).rejects.toThrow(/no broker certificate/);
    } finally {
      bare.remove();
    }
  });
});
