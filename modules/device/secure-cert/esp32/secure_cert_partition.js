/*
 * The esp_secure_cert partition on the ESP32 (natives in secure_cert_partition.c; API in ../secure_cert_partition.d.ts).
 */
export function readSecureCertPartition() @ "xs_secure_cert_partition_read";
