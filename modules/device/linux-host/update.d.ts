// Declaration of the headless Linux host's device/update (update.js): the shared API.
export { TARGET, UpdateImage, markValid, rollback, restart } from "../update/update";
