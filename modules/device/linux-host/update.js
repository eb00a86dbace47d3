/*
 * The headless Linux host's update API (device/update, typed in ../update/update.d.ts): image slots and a
 * boot record as files in the working directory (update.c). restart is the host's re-execution (hostio.c).
 */
export const TARGET = "x-cli-lin";

export class UpdateImage @ "xs_update_image_destructor" {
	constructor() @ "xs_update_image";
	write(data) @ "xs_update_image_write";
	cancel() @ "xs_update_image_cancel";
	complete() @ "xs_update_image_complete";
}
export function markValid() @ "xs_update_mark_valid";
export function rollback() @ "xs_update_rollback";
export function restart() @ "xs_hostio_restart";
