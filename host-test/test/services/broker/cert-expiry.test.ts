// The broker's expiry warning: none outside the 30-day window, one at start inside it, again every day
// while it runs, and a different text once the certificate has expired.
import { afterAll, describe, expect, it, vi } from "vitest";
import { certificateExpiryWarning, watchCertificateExpiry } from "../../../../services/broker/cert-expiry";
import { Pki } from "../../../../tools/pki/pki";
import { tempDir } from "../../tools/pki/helpers";
import { readFileSync } from "node:fs";

const t = tempDir("cert-expiry");
afterAll(t.cleanup);
const DAY = 86_400_000;

async function brokerCert(days: number): Promise<string> {
  const pki = await Pki.open(`${t.dir}/${days}`);
  await pki.initCa({ keyType: "ec" });
  return readFileSync((await pki.createBrokerCert({ hosts: ["localhost"], ips: [], keyType: "ec", validDays: days })).certPath, "utf8");
}

describe("broker certificate expiry warning", () => {
  it("warns inside 30 days, not before, and says when it has expired", async () => {
    const pem = await brokerCert(40);
    expect(certificateExpiryWarning(pem, { pkiDir: "certs" })).toBeUndefined();
    const inside = certificateExpiryWarning(pem, { pkiDir: "certs", now: Date.now() + 15 * DAY })!;
    expect(inside.reason).toMatch(/expires in 24 days/);
    expect(inside.fix).toBe("npm run pki -- --pki-dir certs broker cert --renew (the running broker picks it up)");
    expect(certificateExpiryWarning(pem, { pkiDir: "certs", now: Date.now() + 41 * DAY })!.reason).toMatch(/expired on/);
  });

  it("checks at start and once a day", async () => {
    const pem = await brokerCert(10);
    vi.useFakeTimers();
    try {
      const lines: Array<Record<string, unknown>> = [];
      const watch = watchCertificateExpiry({ read: () => pem, pkiDir: "certs", log: (_e, f) => lines.push(f) });
      expect(lines).toHaveLength(1);
      vi.advanceTimersByTime(DAY);
      expect(lines).toHaveLength(2);
      watch.close();
      vi.advanceTimersByTime(DAY);
      expect(lines).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
