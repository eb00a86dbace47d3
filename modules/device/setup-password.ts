// The setup access point's WPA2 password: the board's own, written at the factory into its esp_secure_cert
// partition with its identity (npm run pki -- export esp32 prints it for the board's label). A board without
// that partition (a development build) uses the build-time setting setup.password, a developer default that
// every board built with it shares. Returns undefined when there is neither: main then refuses to open the
// access point rather than open an unprotected one.

const WPA2 = /^[\x20-\x7e]{8,63}$/;

export interface SetupPassword {
  password: string;
  source: "esp_secure_cert partition" | "build setting setup.password";
}

export function setupPassword(fromPartition: string | undefined, buildTime: unknown): SetupPassword | undefined {
  if (fromPartition !== undefined) return WPA2.test(fromPartition) ? { password: fromPartition, source: "esp_secure_cert partition" } : undefined;
  return typeof buildTime === "string" && WPA2.test(buildTime) ? { password: buildTime, source: "build setting setup.password" } : undefined;
}
