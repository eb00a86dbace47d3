/*
 * device/wifi-rejoin on the ESP32: natives in wifi_rejoin.c (a join to one remembered access point, the
 * joined AP, a static IP). Used by device/wifi-station, after the SDK's WiFi module has started Wi-Fi.
 */
function connectNative(ssid, password, bssid, channel) @ "xs_wifi_rejoin_connect";
function accessPointNative() @ "xs_wifi_rejoin_access_point";
function useStaticIpNative(address, netmask, gateway, dns) @ "xs_wifi_rejoin_use_static_ip";
function useDhcpNative() @ "xs_wifi_rejoin_use_dhcp";

export function connectTo(ssid, password, bssid, channel) {
	connectNative(ssid, password ?? "", bssid.buffer.slice(bssid.byteOffset, bssid.byteOffset + bssid.byteLength), channel);
}

/* The joined access point as { bssid: Uint8Array(6), channel }, or undefined when not joined. */
export function accessPoint() {
	const raw = accessPointNative();
	if (!raw)
		return undefined;
	const bytes = new Uint8Array(raw);
	return { bssid: bytes.slice(0, 6), channel: bytes[6] };
}

export function useStaticIp({ address, netmask, gateway, dns }) {
	useStaticIpNative(address, netmask, gateway, dns);
}

export function useDhcp() {
	useDhcpNative();
}
