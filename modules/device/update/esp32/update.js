/*
 * The ESP32's update API (device/update, typed in ../update.d.ts). The image slot is the SDK's OTA module
 * ("ota": esp_ota_begin on the next OTA partition, esp_ota_write, esp_ota_end + esp_ota_set_boot_partition
 * in complete()). ESP-IDF's app rollback, which the SDK does not expose, is update.c.
 */
import OTA from "ota";

export const TARGET = "esp32";
export { OTA as UpdateImage };
export function markValid() @ "xs_update_mark_valid";
export function rollback() @ "xs_update_rollback";
export function restart() @ "xs_update_restart";
