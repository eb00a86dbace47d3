/*
 * Natives of the headless Linux host (hostio.c): line-based stdin and unbuffered stdout, so a test
 * harness can press the button and read LED states. Typed in hostio.d.ts.
 */
export function write(text) @ "xs_hostio_write";
export function onLine(callback) @ "xs_hostio_on_line";
export function args() @ "xs_hostio_args";
export function exit(status) @ "xs_hostio_exit";
export function restart() @ "xs_hostio_restart";
export function mem() @ "xs_hostio_mem";
