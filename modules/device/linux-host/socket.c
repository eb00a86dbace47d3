/*
 * Natives for socket.js: the "socket" module of the headless Linux host (TCP clients, TCP listeners, UDP).
 *
 * Why the host has its own: the SDK's Linux socket module looks at its sockets from a 20 ms GLib timer and
 * posts each event through a further 1 ms timeout, so every network turn of a press (TCP connect, each TLS
 * flight, CONNACK, PUBACK, the restaurant's ack) waited for the next tick: 40-50 ms per press against the
 * broker's own few milliseconds. On the ESP32, lwIP calls the socket back as soon as a segment arrives. Here
 * each socket is a GLib source on its file descriptor, so the main loop (hostmain.c) wakes when the kernel
 * has something for it, and the callback runs in that same iteration.
 *
 * The JavaScript side is the SDK's: the same classes, callback messages and read/write forms, so the SDK's
 * SecureSocket, HTTP client and server and SNTP run on it unchanged. Differences, all on purpose:
 *   - a refused or unreachable connection is reported as an error (the SDK's reported it as connected);
 *   - bytes the callback did not read stay for the next read, as with lwIP (the SDK's dropped them);
 *   - a partial send keeps the rest queued instead of failing the write;
 *   - noDelay turns Nagle's algorithm off, as on lwIP;
 *   - a listener binds the loopback address only: the host stands for one device on this machine, and its
 *     setup page must not be reachable from the network. get("REMOTE_IP") works on accepted sockets.
 * Not here: RAW sockets and UDP multicast (the firmware uses neither); they throw a clear error.
 */
#include "xsmc.h"
#include "mc.xs.h"
#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>

/* Callback messages (socket.js has the same numbers as Socket.connected etc.) */
enum {
	kMsgError = -2,
	kMsgDisconnected = -1,
	kMsgConnected = 1,
	kMsgReadable = 2,
	kMsgWritable = 3
};
enum { kListenerMsgConnection = 1 };

/* read() forms, chosen by socket.js from the first argument */
enum { kReadAvailable = 0, kReadSkip = 1, kReadString = 2, kReadBuffer = 3, kReadByte = 4 };

/* About one TCP segment per readable callback, as lwIP delivers one pbuf at a time: the TLS layer's
   allocations stay the size they are on the board. */
#define kReceiveCapacity 1460
#define kSendCapacity 4096

typedef enum { kTCP, kUDP } SocketKind;
typedef enum {
	kResolving,   /* waiting for the host name */
	kConnecting,  /* connect() in progress */
	kOpen,
	kEnded,       /* the peer closed it or it failed: reported once, file descriptor closed */
	kClosed       /* close() was called */
} SocketState;

typedef struct HostSocketRecord HostSocketRecord;
typedef struct HostListenerRecord HostListenerRecord;

/* A GLib source that watches one file descriptor and calls its owner's handler when it is ready. */
typedef struct {
	GSource base;
	gpointer tag;
	void (*handler)(void *owner, GIOCondition ready);
	void *owner;
} FdSource;

typedef struct {
	HostSocketRecord *socket; /* NULL once the socket is gone: the lookup's answer is then ignored */
} Lookup;

struct HostSocketRecord {
	xsMachine *the;
	xsSlot obj;
	int remembered;
	int fd;
	SocketKind kind;
	SocketState state;
	uint16_t port;
	int noDelay;
	int connectError; /* connect() failed at once: reported from the main loop */
	FdSource *source;
	Lookup *lookup;

	uint8_t received[kReceiveCapacity];
	int receivedStart, receivedEnd; /* unread bytes are received[receivedStart..receivedEnd) */
	char fromAddress[INET_ADDRSTRLEN]; /* UDP: the sender of the datagram being read */
	uint16_t fromPort;

	uint8_t unsent[kSendCapacity];
	int unsentBytes;
	int writableOwed; /* bytes left for the kernel since the last writable callback */
};

struct HostListenerRecord {
	xsMachine *the;
	xsSlot obj;
	int fd;
	FdSource *source;
	HostSocketRecord *pending; /* the accepted connection that new Socket({listener}) takes */
};

/* ---- GLib source on a file descriptor ---- */

static gboolean fdSourceDispatch(GSource *source, GSourceFunc callback, gpointer data)
{
	FdSource *s = (FdSource *)source;
	s->handler(s->owner, g_source_query_unix_fd(source, s->tag));
	return G_SOURCE_CONTINUE; /* the handler destroys the source when it is done with it */
}

static GSourceFuncs gFdSourceFuncs = { NULL, NULL, fdSourceDispatch, NULL, NULL, NULL };

static FdSource *fdSourceNew(int fd, GIOCondition events, void (*handler)(void *, GIOCondition), void *owner)
{
	FdSource *s = (FdSource *)g_source_new(&gFdSourceFuncs, sizeof(FdSource));
	s->handler = handler;
	s->owner = owner;
	s->tag = g_source_add_unix_fd(&s->base, fd, events);
	g_source_attach(&s->base, NULL);
	return s;
}

static void fdSourceFree(FdSource **source)
{
	if (*source) {
		/* safe inside the source's own dispatch: GLib holds a reference until it returns */
		g_source_destroy(&(*source)->base);
		g_source_unref(&(*source)->base);
		*source = NULL;
	}
}

/* ---- sockets ---- */

static void socketReady(void *owner, GIOCondition ready);

static void socketForget(HostSocketRecord *hs)
{
	if (hs->remembered) {
		xsMachine *the = hs->the;
		hs->remembered = 0;
		xsForget(hs->obj);
	}
}

/* Stops watching and closes the file descriptor (the record stays until the object is collected). */
static void socketShut(HostSocketRecord *hs)
{
	fdSourceFree(&hs->source);
	if (hs->lookup) {
		hs->lookup->socket = NULL;
		hs->lookup = NULL;
	}
	if (hs->fd >= 0) {
		close(hs->fd);
		hs->fd = -1;
	}
	hs->unsentBytes = 0;
	hs->writableOwed = 0;
}

/* What the socket waits for now: input while there is room for it, output while bytes wait for the kernel
   or a writable callback is owed, and the end of connect(). */
static void socketWatch(HostSocketRecord *hs)
{
	GIOCondition events = 0;
	if (!hs->source)
		return;
	if (kConnecting == hs->state)
		events = G_IO_OUT;
	else if (kOpen == hs->state) {
		if ((kUDP == hs->kind) ? (hs->receivedEnd == 0) : (hs->receivedEnd < kReceiveCapacity || hs->receivedStart > 0))
			events |= G_IO_IN;
		if (hs->unsentBytes || hs->writableOwed)
			events |= G_IO_OUT;
	}
	g_source_modify_unix_fd(&hs->source->base, hs->source->tag, events);
}

static void socketCallback(HostSocketRecord *hs, int message, int value)
{
	xsBeginHost(hs->the);
	{
		if (kMsgReadable == message && kUDP == hs->kind)
			xsCall4(hs->obj, xsID_callback, xsInteger(message), xsInteger(value), xsString(hs->fromAddress), xsInteger(hs->fromPort));
		else if (kMsgReadable == message || kMsgWritable == message)
			xsCall2(hs->obj, xsID_callback, xsInteger(message), xsInteger(value));
		else
			xsCall1(hs->obj, xsID_callback, xsInteger(message));
	}
	xsEndHost(hs->the);
}

/* The connection is over (peer closed it, or an error): say so once, then let the object be collected
   whenever the application drops it. */
static void socketEnd(HostSocketRecord *hs, int message)
{
	hs->state = kEnded;
	socketShut(hs);
	socketCallback(hs, message, 0);
	socketForget(hs);
}

/* Sends what the kernel takes now; the rest waits for the socket to be writable. */
static int socketFlush(HostSocketRecord *hs)
{
	while (hs->unsentBytes > 0) {
		ssize_t sent = send(hs->fd, hs->unsent, hs->unsentBytes, MSG_NOSIGNAL);
		if (sent < 0) {
			if (EINTR == errno)
				continue;
			if (EAGAIN == errno || EWOULDBLOCK == errno)
				break;
			return -1;
		}
		memmove(hs->unsent, hs->unsent + sent, hs->unsentBytes - sent);
		hs->unsentBytes -= (int)sent;
		hs->writableOwed += (int)sent;
	}
	return 0;
}

static void socketCompact(HostSocketRecord *hs)
{
	if (hs->receivedStart == hs->receivedEnd)
		hs->receivedStart = hs->receivedEnd = 0;
	else if (hs->receivedStart > 0) {
		memmove(hs->received, hs->received + hs->receivedStart, hs->receivedEnd - hs->receivedStart);
		hs->receivedEnd -= hs->receivedStart;
		hs->receivedStart = 0;
	}
}

/* connect() finished (report: say connected), or new Socket({listener}) took an accepted connection (the
   SDK's contract: no message, the application sets its callback after the constructor). */
static void socketOpened(HostSocketRecord *hs, int report)
{
	if (hs->noDelay) {
		int yes = 1;
		setsockopt(hs->fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
	}
	hs->state = kOpen;
	if (hs->unsentBytes && socketFlush(hs)) {
		socketEnd(hs, kMsgError);
		return;
	}
	socketWatch(hs);
	if (report)
		socketCallback(hs, kMsgConnected, 0);
}

static void socketReceiveTCP(HostSocketRecord *hs, GIOCondition ready)
{
	ssize_t count;
	socketCompact(hs);
	if (hs->receivedEnd == kReceiveCapacity) {
		/* full and the application reads nothing: a hang-up can only be reported */
		if (ready & (G_IO_HUP | G_IO_ERR))
			socketEnd(hs, (ready & G_IO_ERR) ? kMsgError : kMsgDisconnected);
		return;
	}
	do
		count = recv(hs->fd, hs->received + hs->receivedEnd, kReceiveCapacity - hs->receivedEnd, 0);
	while (count < 0 && EINTR == errno);
	if (count < 0) {
		if (EAGAIN == errno || EWOULDBLOCK == errno)
			return;
		socketEnd(hs, kMsgError);
		return;
	}
	if (0 == count) {
		socketEnd(hs, kMsgDisconnected);
		return;
	}
	hs->receivedEnd += (int)count;
	socketCallback(hs, kMsgReadable, hs->receivedEnd - hs->receivedStart);
	if (kOpen == hs->state)
		socketCompact(hs);
}

static void socketReceiveUDP(HostSocketRecord *hs)
{
	struct sockaddr_in from;
	socklen_t fromLength = sizeof(from);
	ssize_t count;
	do
		count = recvfrom(hs->fd, hs->received, kReceiveCapacity, 0, (struct sockaddr *)&from, &fromLength);
	while (count < 0 && EINTR == errno);
	if (count <= 0)
		return; /* nothing, or an ICMP error for an earlier datagram: UDP has no connection to end */
	inet_ntop(AF_INET, &from.sin_addr, hs->fromAddress, sizeof(hs->fromAddress));
	hs->fromPort = ntohs(from.sin_port);
	hs->receivedStart = 0;
	hs->receivedEnd = (int)count;
	socketCallback(hs, kMsgReadable, (int)count);
	hs->receivedStart = hs->receivedEnd = 0; /* a datagram is read in its callback or not at all */
}

static void socketReady(void *owner, GIOCondition ready)
{
	HostSocketRecord *hs = owner;

	if (kConnecting == hs->state) {
		int error = 0;
		socklen_t length = sizeof(error);
		if (!(ready & (G_IO_OUT | G_IO_ERR | G_IO_HUP)))
			return;
		if (hs->connectError || getsockopt(hs->fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0 || error)
			socketEnd(hs, kMsgError); /* refused, unreachable, timed out */
		else
			socketOpened(hs, 1);
		return;
	}
	if (kOpen != hs->state)
		return;

	/* Output first: a writable callback owed for bytes already sent comes before the input that arrived
	   with it, the peer's close included, as lwIP reports an acknowledgment before the FIN behind it. (The
	   SDK's HTTP server completes a response on that callback; a close seen first would end it as an error.) */
	if (ready & G_IO_OUT) {
		if (socketFlush(hs)) {
			socketEnd(hs, kMsgError);
			return;
		}
		if (0 == hs->unsentBytes && hs->writableOwed) {
			hs->writableOwed = 0;
			socketCallback(hs, kMsgWritable, kSendCapacity);
			if (kOpen != hs->state)
				return;
		}
	}

	if (kUDP == hs->kind) {
		if (ready & G_IO_IN)
			socketReceiveUDP(hs);
	}
	else if (ready & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		socketReceiveTCP(hs, ready);

	if (kOpen == hs->state)
		socketWatch(hs);
}

static void socketConnect(HostSocketRecord *hs, struct in_addr address)
{
	struct sockaddr_in to;
	int result;
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons(hs->port);
	to.sin_addr = address;
	do
		result = connect(hs->fd, (struct sockaddr *)&to, sizeof(to));
	while (result < 0 && EINTR == errno);
	if (result < 0 && EINPROGRESS != errno)
		hs->connectError = errno; /* reported from the main loop, never from inside the constructor */
	/* Success, failure or an immediate answer: all read when the socket turns writable (or hangs up). */
	hs->state = kConnecting;
	socketWatch(hs);
}

static void lookupDone(GObject *resolver, GAsyncResult *result, gpointer data)
{
	Lookup *lookup = data;
	HostSocketRecord *hs = lookup->socket;
	GList *addresses = g_resolver_lookup_by_name_finish(G_RESOLVER(resolver), result, NULL);
	GList *walker;
	int found = 0;
	struct in_addr address;

	for (walker = addresses; walker && !found; walker = walker->next) {
		GInetAddress *candidate = walker->data;
		if (G_SOCKET_FAMILY_IPV4 == g_inet_address_get_family(candidate)) {
			memcpy(&address, g_inet_address_to_bytes(candidate), sizeof(address));
			found = 1;
		}
	}
	if (addresses)
		g_resolver_free_addresses(addresses);
	g_object_unref(resolver);
	g_free(lookup);
	if (!hs)
		return; /* closed or collected while the name was looked up */
	hs->lookup = NULL;
	if (found)
		socketConnect(hs, address);
	else
		socketEnd(hs, kMsgError); /* no IPv4 address for that name */
}

static int optionNoDelay(xsMachine *the)
{
	if (!xsmcHas(xsArg(0), xsID_noDelay))
		return 0;
	xsmcGet(xsVar(0), xsArg(0), xsID_noDelay);
	return xsmcTest(xsVar(0));
}

/* new Socket({listener, noDelay}): takes the connection the listener is reporting */
static void socketTakeAccepted(xsMachine *the)
{
	HostListenerRecord *hl;
	HostSocketRecord *hs;
	xsmcGet(xsVar(0), xsArg(0), xsID_listener);
	hl = xsmcGetHostData(xsVar(0));
	if (!hl || !hl->pending)
		xsUnknownError("no connection waiting on this listener");
	hs = hl->pending;
	hl->pending = NULL;
	hs->the = the;
	hs->obj = xsThis;
	xsmcSetHostData(xsThis, hs);
	xsRemember(hs->obj);
	hs->remembered = 1;
	hs->noDelay = optionNoDelay(the);
	hs->source = fdSourceNew(hs->fd, 0, socketReady, hs);
	socketOpened(hs, 0);
}

/* new Socket({host | address, port, kind: "TCP" | "UDP", noDelay}) or new Socket({listener}) */
void xs_hostsocket(xsMachine *the)
{
	HostSocketRecord *hs;
	char host[256];
	struct in_addr address;

	xsmcVars(1);
	if (xsmcHas(xsArg(0), xsID_listener)) {
		socketTakeAccepted(the);
		return;
	}

	hs = c_calloc(1, sizeof(HostSocketRecord));
	if (!hs)
		xsUnknownError("no memory");
	hs->fd = -1;
	hs->the = the;
	hs->obj = xsThis;
	xsmcSetHostData(xsThis, hs);

	hs->kind = kTCP;
	if (xsmcHas(xsArg(0), xsID_kind)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_kind);
		const char *kind = xsmcToString(xsVar(0));
		if (0 == strcmp(kind, "UDP"))
			hs->kind = kUDP;
		else if (0 != strcmp(kind, "TCP"))
			xsUnknownError("socket kind %s: the headless host has TCP and UDP only", kind);
	}
	if (xsmcHas(xsArg(0), xsID_multicast))
		xsUnknownError("UDP multicast: not available on the headless host");
	if (xsmcHas(xsArg(0), xsID_port)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_port);
		hs->port = (uint16_t)xsmcToInteger(xsVar(0));
	}
	hs->noDelay = optionNoDelay(the);

	host[0] = 0;
	if (kTCP == hs->kind) {
		if (xsmcHas(xsArg(0), xsID_address))
			xsmcGet(xsVar(0), xsArg(0), xsID_address);
		else if (xsmcHas(xsArg(0), xsID_host))
			xsmcGet(xsVar(0), xsArg(0), xsID_host);
		else
			xsUnknownError("host or address required");
		xsmcToStringBuffer(xsVar(0), host, sizeof(host));
	}

	hs->fd = socket(AF_INET, ((kTCP == hs->kind) ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (hs->fd < 0)
		xsUnknownError("socket: %s", strerror(errno));

	if (kUDP == hs->kind && hs->port) {
		struct sockaddr_in local;
		memset(&local, 0, sizeof(local));
		local.sin_family = AF_INET;
		local.sin_port = htons(hs->port);
		local.sin_addr.s_addr = htonl(INADDR_ANY);
		if (bind(hs->fd, (struct sockaddr *)&local, sizeof(local)) < 0)
			xsUnknownError("bind UDP port %d: %s", hs->port, strerror(errno));
	}

	xsRemember(hs->obj);
	hs->remembered = 1;
	hs->source = fdSourceNew(hs->fd, 0, socketReady, hs);

	if (kUDP == hs->kind) {
		hs->state = kOpen;
		socketWatch(hs);
		return;
	}
	if (1 == inet_pton(AF_INET, host, &address))
		socketConnect(hs, address);
	else {
		GResolver *resolver = g_resolver_get_default();
		hs->state = kResolving;
		hs->lookup = g_new0(Lookup, 1);
		hs->lookup->socket = hs;
		g_resolver_lookup_by_name_async(resolver, host, NULL, lookupDone, hs->lookup);
	}
}

void xs_hostsocket_destructor(void *data)
{
	HostSocketRecord *hs = data;
	if (hs) {
		socketShut(hs);
		c_free(hs);
	}
}

void xs_hostsocket_close(xsMachine *the)
{
	HostSocketRecord *hs = xsmcGetHostData(xsThis);
	if (!hs || kClosed == hs->state)
		xsUnknownError("close on closed socket");
	if (hs->fd >= 0 && kTCP == hs->kind && kOpen == hs->state && hs->unsentBytes)
		socketFlush(hs); /* the last bytes (a TLS close_notify) go if the kernel takes them now */
	hs->state = kClosed;
	socketShut(hs);
	socketForget(hs);
}

/* read(kind, limit): socket.js maps read(), read(null), read(String), read(ArrayBuffer), read(Number) */
void xs_hostsocket_read(xsMachine *the)
{
	HostSocketRecord *hs = xsmcGetHostData(xsThis);
	int form = xsmcToInteger(xsArg(0));
	int available, count;
	uint8_t *data;

	if (!hs || kClosed == hs->state)
		xsUnknownError("read on closed socket");
	available = hs->receivedEnd - hs->receivedStart;
	data = hs->received + hs->receivedStart;
	if (kReadAvailable == form) {
		xsmcSetInteger(xsResult, available);
		return;
	}
	if (0 == available)
		return;

	count = available;
	if (xsmcArgc > 1) {
		xsType limit = xsmcTypeOf(xsArg(1));
		if (xsIntegerType == limit || xsNumberType == limit) {
			int most = xsmcToInteger(xsArg(1));
			if (most < 0)
				most = 0;
			if (most < count)
				count = most;
		}
		else if (xsStringType == limit) {
			const char *terminator = xsmcToString(xsArg(1));
			uint8_t *found = terminator[0] ? memchr(data, (uint8_t)terminator[0], available) : NULL;
			if (found)
				count = (int)(found - data) + 1; /* the terminator is part of the result */
		}
	}

	switch (form) {
		case kReadSkip:
			xsmcSetInteger(xsResult, count);
			break;
		case kReadString:
			xsmcSetStringBuffer(xsResult, (char *)data, count);
			break;
		case kReadBuffer:
			xsmcSetArrayBuffer(xsResult, data, count);
			break;
		case kReadByte:
			count = 1;
			xsmcSetInteger(xsResult, data[0]);
			break;
		default:
			xsUnknownError("unsupported read form");
	}
	hs->receivedStart += count;
	if (kTCP == hs->kind && kOpen == hs->state)
		socketWatch(hs); /* there may be room for input again */
}

static int appendArgument(xsMachine *the, xsSlot *arg, uint8_t *to, int room)
{
	xsType type = xsmcTypeOf(*arg);
	if (xsStringType == type) {
		const char *text = xsmcToString(*arg);
		int length = (int)strlen(text);
		if (to && length <= room)
			memcpy(to, text, length);
		return length;
	}
	if (xsIntegerType == type || xsNumberType == type) {
		if (to && room >= 1)
			*to = (uint8_t)xsmcToInteger(*arg);
		return 1;
	}
	if (xsReferenceType == type) {
		void *bytes;
		xsUnsignedValue length;
		xsmcGetBufferReadable(*arg, &bytes, &length);
		if (to && (int)length <= room)
			memcpy(to, bytes, length);
		return (int)length;
	}
	xsUnknownError("unsupported type for write");
	return 0;
}

/* write(): free bytes. TCP write(...strings, bytes, buffers). UDP write(address, port, buffer). */
void xs_hostsocket_write(xsMachine *the)
{
	HostSocketRecord *hs = xsmcGetHostData(xsThis);
	int argc = xsmcArgc, i, needed = 0, room;

	if (!hs || kClosed == hs->state)
		xsUnknownError("write on closed socket");
	if (kEnded == hs->state)
		xsUnknownError("write on a socket the peer closed");

	if (kUDP == hs->kind) {
		char text[INET_ADDRSTRLEN];
		struct sockaddr_in to;
		void *bytes;
		xsUnsignedValue length;
		if (argc < 3)
			xsUnknownError("UDP write needs address, port and buffer");
		memset(&to, 0, sizeof(to));
		to.sin_family = AF_INET;
		xsmcToStringBuffer(xsArg(0), text, sizeof(text));
		if (1 != inet_pton(AF_INET, text, &to.sin_addr))
			xsUnknownError("UDP write: %s is not an IPv4 address", text);
		to.sin_port = htons((uint16_t)xsmcToInteger(xsArg(1)));
		xsmcGetBufferReadable(xsArg(2), &bytes, &length);
		if (sendto(hs->fd, bytes, length, MSG_NOSIGNAL, (struct sockaddr *)&to, sizeof(to)) < 0)
			xsUnknownError("sendto: %s", strerror(errno));
		return;
	}

	room = kSendCapacity - hs->unsentBytes;
	if (0 == argc) {
		xsmcSetInteger(xsResult, room);
		return;
	}
	for (i = 0; i < argc; i++)
		needed += appendArgument(the, &xsArg(i), NULL, 0);
	if (needed > room)
		xsUnknownError("can't write all data");
	for (i = 0; i < argc; i++)
		hs->unsentBytes += appendArgument(the, &xsArg(i), hs->unsent + hs->unsentBytes, kSendCapacity - hs->unsentBytes);

	if (kOpen == hs->state) {
		if (socketFlush(hs))
			xsUnknownError("write failed: %s", strerror(errno));
		socketWatch(hs); /* the rest, and the writable callback, come from the main loop */
	}
}

void xs_hostsocket_get(xsMachine *the)
{
	HostSocketRecord *hs = xsmcGetHostData(xsThis);
	const char *name = xsmcToString(xsArg(0));
	if (!hs || hs->fd < 0)
		return;
	if (0 == strcmp(name, "REMOTE_IP")) {
		struct sockaddr_in peer;
		socklen_t length = sizeof(peer);
		char text[INET_ADDRSTRLEN];
		if (0 == getpeername(hs->fd, (struct sockaddr *)&peer, &length) && inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text)))
			xsmcSetString(xsResult, text);
	}
}

void xs_hostsocket_suspend(xsMachine *the)
{
	xsUnknownError("suspend: not available on the headless host");
}

/* ---- listeners ---- */

static void listenerReady(void *owner, GIOCondition ready)
{
	HostListenerRecord *hl = owner;
	while (hl->fd >= 0) {
		int fd = accept4(hl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		HostSocketRecord *hs;
		if (fd < 0) {
			if (EINTR == errno)
				continue;
			return; /* EAGAIN: none left; anything else concerns that one connection only */
		}
		hs = c_calloc(1, sizeof(HostSocketRecord));
		if (!hs) {
			close(fd);
			return;
		}
		hs->fd = fd;
		hs->kind = kTCP;
		hs->state = kConnecting; /* until new Socket({listener}) takes it */
		hl->pending = hs;
		xsBeginHost(hl->the);
		{
			xsCall1(hl->obj, xsID_callback, xsInteger(kListenerMsgConnection));
		}
		xsEndHost(hl->the);
		if (hl->pending) {
			/* the application did not take it */
			hl->pending = NULL;
			close(hs->fd);
			c_free(hs);
		}
	}
}

static void listenerShut(HostListenerRecord *hl)
{
	fdSourceFree(&hl->source);
	if (hl->fd >= 0) {
		close(hl->fd);
		hl->fd = -1;
	}
}

/* new Listener({port}) */
void xs_hostlistener(xsMachine *the)
{
	HostListenerRecord *hl;
	struct sockaddr_in local;
	int yes = 1;
	uint16_t port = 0;

	xsmcVars(1);
	if (xsmcHas(xsArg(0), xsID_port)) {
		xsmcGet(xsVar(0), xsArg(0), xsID_port);
		port = (uint16_t)xsmcToInteger(xsVar(0));
	}
	hl = c_calloc(1, sizeof(HostListenerRecord));
	if (!hl)
		xsUnknownError("no memory");
	hl->fd = -1;
	hl->the = the;
	hl->obj = xsThis;
	xsmcSetHostData(xsThis, hl);

	hl->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (hl->fd < 0)
		xsUnknownError("socket: %s", strerror(errno));
	setsockopt(hl->fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_port = htons(port);
	local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(hl->fd, (struct sockaddr *)&local, sizeof(local)) < 0)
		xsUnknownError("listen on 127.0.0.1:%d: %s", port, strerror(errno));
	if (listen(hl->fd, SOMAXCONN) < 0)
		xsUnknownError("listen on 127.0.0.1:%d: %s", port, strerror(errno));

	xsRemember(hl->obj);
	hl->source = fdSourceNew(hl->fd, G_IO_IN, listenerReady, hl);
}

void xs_hostlistener_destructor(void *data)
{
	HostListenerRecord *hl = data;
	if (hl) {
		listenerShut(hl);
		c_free(hl);
	}
}

void xs_hostlistener_close(xsMachine *the)
{
	HostListenerRecord *hl = xsmcGetHostData(xsThis);
	if (!hl || hl->fd < 0)
		xsUnknownError("close on closed listener");
	listenerShut(hl);
	xsForget(hl->obj);
}
