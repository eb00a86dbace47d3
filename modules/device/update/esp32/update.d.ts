// Declaration of the ESP32's device/update (update.js): the shared API.
export { TARGET, UpdateImage, markValid, rollback, restart } from "../update";
