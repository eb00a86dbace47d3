/*
 * The "socket" module of the headless Linux host, in place of the SDK's Linux one: the same API (classes,
 * callback messages, read and write forms), with each socket woken by the main loop as data arrives instead
 * of a 20 ms timer. Natives and the reasons in socket.c.
 */

const READ_AVAILABLE = 0, READ_SKIP = 1, READ_STRING = 2, READ_BUFFER = 3, READ_BYTE = 4;

function take(form, limit) @ "xs_hostsocket_read";

export class Socket @ "xs_hostsocket_destructor" {
	constructor(options) @ "xs_hostsocket"; // {host | address, port, kind: "TCP" | "UDP", noDelay} or {listener}

	// read(): bytes unread. read(null, n): skip. read(String | ArrayBuffer, limit): the bytes, up to a count
	// or through a terminator character. read(Number): one byte.
	read(as, limit) {
		if (arguments.length === 0)
			return take.call(this, READ_AVAILABLE);
		let form;
		if (as === null) form = READ_SKIP;
		else if (as === String) form = READ_STRING;
		else if (as === ArrayBuffer) form = READ_BUFFER;
		else if (as === Number) form = READ_BYTE;
		else throw new Error("unsupported output type");
		return (arguments.length > 1) ? take.call(this, form, limit) : take.call(this, form);
	}
	write() @ "xs_hostsocket_write";
	close() @ "xs_hostsocket_close";
	get(name) @ "xs_hostsocket_get";
	suspend() @ "xs_hostsocket_suspend";
}
Socket.connected = 1;
Socket.readable = 2;
Socket.writable = 3;
Socket.error = -2;
Socket.disconnected = -1;

export class Listener @ "xs_hostlistener_destructor" {
	constructor(options) @ "xs_hostlistener"; // {port}: on 127.0.0.1; callback(1) for each connection
	close() @ "xs_hostlistener_close";
}

Object.freeze(Socket.prototype);
Object.freeze(Listener.prototype);

export default Object.freeze({
	Socket,
	Listener
});
