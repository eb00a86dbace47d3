// The product's AWS IoT policy documents in this folder, by who gets them by default: the device policy
// for buttons, one per service identity. Read as files (the policy store validates and stores them).
import { fileURLToPath } from "node:url";

export const POLICY_FILES = {
  device: fileURLToPath(new URL("./device.json", import.meta.url)),
  restaurant: fileURLToPath(new URL("./restaurant.json", import.meta.url)),
  renewal: fileURLToPath(new URL("./renewal.json", import.meta.url)),
  jobs: fileURLToPath(new URL("./jobs.json", import.meta.url)),
};
