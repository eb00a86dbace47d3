/*
 * device/wifi-rejoin on the ESP32: what the SDK's Wi-Fi connect cannot do. Its connect (modules/network/wifi)
 * takes a BSSID and a channel but always scans every channel (WIFI_ALL_CHANNEL_SCAN), and it has no static
 * IP. These natives join one access
 * point on one channel (bssid_set + WIFI_FAST_SCAN: a single-channel probe instead of a 13-channel scan),
 * read the joined AP back, and set a static IP with its DNS server. The SDK's WiFi module (device/wifi-station)
 * still initializes Wi-Fi and reports the connection (its event handlers see every join).
 * Checked against ESP-IDF's headers by tools/firmware/esp32-native-check.sh.
 */
#include "xsmc.h"
#include "xsHost.h"
#include "esp_wifi.h"
#include "esp_netif.h"
#include <string.h>

/* connectTo(ssid, password, bssid: ArrayBuffer(6), channel) */
void xs_wifi_rejoin_connect(xsMachine *the)
{
	wifi_config_t config;
	const char *ssid, *password;
	void *bssid;
	xsUnsignedValue bssidLength;
	int channel;
	esp_err_t err;

	memset(&config, 0, sizeof(config));
	ssid = xsmcToString(xsArg(0));
	if (strlen(ssid) > sizeof(config.sta.ssid))
		xsRangeError("ssid too long - 32 bytes max");
	memcpy(config.sta.ssid, ssid, strlen(ssid));
	password = xsmcToString(xsArg(1));
	if (strlen(password) > sizeof(config.sta.password))
		xsRangeError("password too long - 64 bytes max");
	memcpy(config.sta.password, password, strlen(password));
	xsmcGetBufferReadable(xsArg(2), &bssid, &bssidLength);
	if (bssidLength != sizeof(config.sta.bssid))
		xsRangeError("bssid must be 6 bytes");
	memcpy(config.sta.bssid, bssid, sizeof(config.sta.bssid));
	config.sta.bssid_set = true;
	channel = xsmcToInteger(xsArg(3));
	if ((channel < 1) || (channel > 13))
		xsRangeError("invalid channel %d", channel);
	config.sta.channel = (uint8_t)channel;
	config.sta.scan_method = WIFI_FAST_SCAN;

	esp_wifi_disconnect(); /* not connected yet: nothing to undo */
	err = esp_wifi_set_config(WIFI_IF_STA, &config);
	if (err == ESP_OK)
		err = esp_wifi_connect();
	if (err != ESP_OK)
		xsUnknownError("join the remembered access point: %s", esp_err_to_name(err));
}

/* accessPoint(): ArrayBuffer of the joined AP's BSSID (6 bytes) and channel (1 byte), or undefined */
void xs_wifi_rejoin_access_point(xsMachine *the)
{
	wifi_ap_record_t info;
	uint8_t out[7];
	if (esp_wifi_sta_get_ap_info(&info) != ESP_OK)
		return;
	memcpy(out, info.bssid, 6);
	out[6] = info.primary;
	xsmcSetArrayBuffer(xsResult, out, sizeof(out));
}

static esp_netif_t *stationNetif(xsMachine *the)
{
	esp_netif_t *station = esp_netif_get_handle_from_ifkey("WIFI_STA_DEF");
	if (!station)
		xsUnknownError("Wi-Fi is not initialized");
	return station;
}

static void ip4From(xsMachine *the, xsSlot *slot, esp_ip4_addr_t *out, const char *what)
{
	if (esp_netif_str_to_ip4(xsmcToString(*slot), out) != ESP_OK)
		xsRangeError("invalid %s", what);
}

/*
 * useStaticIp(address, netmask, gateway, dns): no DHCP. Before the join: ESP-IDF reports the address
 * (IP_EVENT_STA_GOT_IP) as soon as the station associates, with the DHCP client stopped.
 */
void xs_wifi_rejoin_use_static_ip(xsMachine *the)
{
	esp_netif_t *station = stationNetif(the);
	esp_netif_ip_info_t info;
	esp_netif_dns_info_t dns;
	esp_err_t err;

	memset(&info, 0, sizeof(info));
	memset(&dns, 0, sizeof(dns));
	ip4From(the, &xsArg(0), &info.ip, "address");
	ip4From(the, &xsArg(1), &info.netmask, "netmask");
	ip4From(the, &xsArg(2), &info.gw, "gateway");
	ip4From(the, &xsArg(3), &dns.ip.u_addr.ip4, "DNS address");
	dns.ip.type = ESP_IPADDR_TYPE_V4;

	err = esp_netif_dhcpc_stop(station);
	if ((err != ESP_OK) && (err != ESP_ERR_ESP_NETIF_DHCP_ALREADY_STOPPED))
		xsUnknownError("stop DHCP: %s", esp_err_to_name(err));
	err = esp_netif_set_ip_info(station, &info);
	if (err == ESP_OK)	/* after the address: setting it clears the DNS servers */
		err = esp_netif_set_dns_info(station, ESP_NETIF_DNS_MAIN, &dns);
	if (err != ESP_OK)
		xsUnknownError("static IP: %s", esp_err_to_name(err));
}

/* useDhcp(): the DHCP client on (undoes useStaticIp) */
void xs_wifi_rejoin_use_dhcp(xsMachine *the)
{
	esp_err_t err = esp_netif_dhcpc_start(stationNetif(the));
	if ((err != ESP_OK) && (err != ESP_ERR_ESP_NETIF_DHCP_ALREADY_STARTED))
		xsUnknownError("start DHCP: %s", esp_err_to_name(err));
}
