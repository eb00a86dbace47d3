/*
 * device/wifi-rejoin on the ESP32: what the SDK's Wi-Fi connect cannot do. Its connect (modules/io/wifi,
 * the ECMA-419 WiFi the SDK's network setup uses) takes an SSID, a password and a channel but no BSSID, and
 * always scans every channel; its static IP (configure) sets no DNS server. These natives join one access
 * point on one channel (bssid_set + WIFI_FAST_SCAN: a single-channel probe instead of a 13-channel scan),
 * read the joined AP back, and set the DNS server of a static IP. The SDK's WiFi object still initializes
 * Wi-Fi and reports the connection (its event handlers see every join).
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

/* useDns(address): the DNS server of a static IP (DHCP would have supplied one) */
void xs_wifi_rejoin_use_dns(xsMachine *the)
{
	esp_netif_t *station = esp_netif_get_handle_from_ifkey("WIFI_STA_DEF");
	esp_netif_dns_info_t dns;
	esp_err_t err;

	if (!station)
		xsUnknownError("Wi-Fi is not initialized");
	memset(&dns, 0, sizeof(dns));
	if (esp_netif_str_to_ip4(xsmcToString(xsArg(0)), &dns.ip.u_addr.ip4) != ESP_OK)
		xsRangeError("invalid DNS address");
	dns.ip.type = ESP_IPADDR_TYPE_V4;
	err = esp_netif_set_dns_info(station, ESP_NETIF_DNS_MAIN, &dns);
	if (err != ESP_OK)
		xsUnknownError("set DNS: %s", esp_err_to_name(err));
}
