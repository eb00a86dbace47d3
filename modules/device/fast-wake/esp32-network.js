/*
 * "setup/network" on the ESP32, in place of the SDK's (build/devices/esp32/setup/network.js, which it
 * follows): joins Wi-Fi before the app's main runs, then sets the clock by SNTP if it is not plausible.
 * What it adds is the fast rejoin of a battery wake (core/wifi-rejoin): the access point of the last join
 * (BSSID and channel, kept in RTC memory) is joined directly, without the all-channel scan; if that fails
 * within STORED_AP_TIMEOUT_MS the SDK's scanning connect takes over. A static IP (wifi.address, …) skips DHCP.
 * Plain JS like the SDK module it replaces (the first mapping of "setup/network" wins: fast-wake/manifest.json).
 */
import config from "mc/config";
import Time from "time";
import Timer from "timer";
import WiFi from "embedded:network/interface/wifi";
import SNTP from "sntp";
import { STORED_AP_TIMEOUT_MS, WifiJoin, staticIpFrom } from "core/wifi-rejoin";
import { isWallClockSet } from "core/wall-clock";
import { ACCESS_POINT_SLOT, rtcSlot } from "device/rtc-slots";
import { accessPoint, connectTo, useDns } from "device/wifi-rejoin";

export default function (done) {
	if (!config.ssid) {
		trace("No Wi-Fi SSID\n");
		return done();
	}
	const join = new WifiJoin({ slot: rtcSlot(ACCESS_POINT_SLOT), ssid: config.ssid });
	const state = { step: join.first(), timer: undefined, joined: false };

	const w = new WiFi({
		onChanged() {
			if (state.joined)
				return;
			const connection = this.connection;
			if (connection < 500) {
				if ((connection <= 200) && ("stored" === state.step.kind))
					fallBack("refused");
				return;
			}
			state.joined = true;
			if (state.timer !== undefined)
				Timer.clear(state.timer);
			const ap = accessPoint();
			if (ap)
				join.joined(ap);
			trace(`Wi-Fi joined "${this.SSID}" (${"stored" === state.step.kind ? "remembered access point, no scan" : "after a scan"}), IP address ${this.address}\n`);
			this.close();
			if (!config.sntp || isWallClockSet(Date.now()))
				return done();
			new SNTP({host: config.sntp}, function(message, value) {
				if (SNTP.time === message) {
					trace(`got unix time ${value} from ${config.sntp}\n`);
					Time.set(value);
				}
				else if (SNTP.error === message)
					trace("can't get time\n");
				else
					return;
				done();
			});
		}
	});

	const staticIp = staticIpFrom({
		address: config["wifi.address"] ?? "",
		netmask: config["wifi.netmask"] ?? "",
		gateway: config["wifi.gateway"] ?? "",
		dns: config["wifi.dns"] ?? "",
	});
	if (staticIp.ok && staticIp.value) {
		w.configure({ static: { address: staticIp.value.address, mask: staticIp.value.netmask, gateway: staticIp.value.gateway } });
		useDns(staticIp.value.dns);
	}
	else if (!staticIp.ok)
		trace(`Wi-Fi: static IP ignored (${staticIp.problem}); using DHCP\n`);

	function start(step) {
		state.step = step;
		if ("stored" === step.kind) {
			try {
				connectTo(config.ssid, config.password, step.bssid, step.channel);
				state.timer = Timer.set(() => {
					state.timer = undefined;
					fallBack("no association in time");
				}, STORED_AP_TIMEOUT_MS);
				return;
			}
			catch (e) {
				trace(`Wi-Fi: ${e}\n`);
				state.step = join.failed(step) ?? { kind: "scan" };
			}
		}
		w.connect(config.password ? {SSID: config.ssid, password: config.password, secure: true} : {SSID: config.ssid});
	}

	function fallBack(why) {
		if (state.timer !== undefined) {
			Timer.clear(state.timer);
			state.timer = undefined;
		}
		const next = join.failed(state.step);
		if (!next)
			return;
		trace(`Wi-Fi: the remembered access point failed (${why}); scanning\n`);
		w.disconnect();
		start(next);
	}

	if (join.noStoredReason && ("empty" !== join.noStoredReason))
		trace(`Wi-Fi: no remembered access point (${join.noStoredReason})\n`);
	start(state.step);
}
