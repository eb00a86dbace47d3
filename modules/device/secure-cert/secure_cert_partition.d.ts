// The esp_secure_cert partition's bytes. One API, three implementations: the ESP32 natives
// (esp32/secure_cert_partition.js/.c), the headless Linux host (a file: modules/device/linux-host) and
// none for targets without one (none/secure_cert_partition.ts).

/**
 * The whole partition (erased flash reads 0xFF), or undefined when the board has no such partition.
 * Throws an Error saying why when the partition exists but cannot be read.
 */
export function readSecureCertPartition(): ArrayBuffer | undefined;
