import RelayWire

/// The relay's counters in the Prometheus text exposition format, written by hand.
///
/// swift-prometheus would have each hot-path event increment a shared atomic (through
/// swift-metrics' Counter), one contended cache line per frame across the UDP and TCP threads.
/// The relay already counts in plain integers under the lock it takes once per batch, so
/// rendering those integers at scrape time is cheaper and needs no second registry.
public enum PrometheusText {
    public static func render(_ counters: RelayCounters, sessions: Int, tunnels: Int, channels: Int = 0, uptimeSeconds: Double) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("formnet_relay_frames_received_total", "counter", "Frames received, by frame type.")
        for type in FrameType.allCases {
            out += "formnet_relay_frames_received_total{type=\"\(type.name)\"} \(counters.framesReceived[Int(type.rawValue)])\n"
        }
        family("formnet_relay_bytes_received_total", "counter", "Bytes of all frames received.")
        out += "formnet_relay_bytes_received_total \(counters.bytesReceived)\n"
        family("formnet_relay_frames_forwarded_total", "counter", "Data frames forwarded to their destination.")
        out += "formnet_relay_frames_forwarded_total \(counters.framesForwarded)\n"
        family("formnet_relay_bytes_forwarded_total", "counter", "Bytes of data frames forwarded.")
        out += "formnet_relay_bytes_forwarded_total \(counters.bytesForwarded)\n"
        family("formnet_relay_channel_packets_received_total", "counter", "WireGuard packets received on channel ports.")
        out += "formnet_relay_channel_packets_received_total \(counters.channelPacketsReceived)\n"
        family("formnet_relay_channel_packets_sent_total", "counter", "WireGuard packets sent out of channel ports, without a header.")
        out += "formnet_relay_channel_packets_sent_total \(counters.channelPacketsSent)\n"
        family("formnet_relay_drops_total", "counter", "Frames dropped, by reason.")
        for reason in DropReason.allCases {
            out += "formnet_relay_drops_total{reason=\"\(reason.label)\"} \(counters.drops(reason))\n"
        }
        family("formnet_relay_registrations_total", "counter", "Registrations accepted.")
        out += "formnet_relay_registrations_total \(counters.registrations)\n"
        family("formnet_relay_registration_cookies_total", "counter", "Register frames answered with a cookie: the sender must prove its address first.")
        out += "formnet_relay_registration_cookies_total \(counters.cookiesSent)\n"
        family("formnet_relay_limit_hits_total", "counter", "Frames or registrations refused by a limit.")
        for limit in RelayCounters.Limit.allCases {
            out += "formnet_relay_limit_hits_total{limit=\"\(limit.label)\"} \(counters.limitHits[limit.rawValue])\n"
        }
        family("formnet_relay_tcp_closed_total", "counter", "TCP connections refused or closed by the relay, by reason.")
        for reason in RelayCounters.TCPClose.allCases {
            out += "formnet_relay_tcp_closed_total{reason=\"\(reason.label)\"} \(counters.tcpClosed[reason.rawValue])\n"
        }
        family("formnet_relay_tcp_connections", "gauge", "Current TCP connections.")
        out += "formnet_relay_tcp_connections \(counters.tcpOpen)\n"
        family("formnet_relay_sessions", "gauge", "Current registrations.")
        out += "formnet_relay_sessions \(sessions)\n"
        family("formnet_relay_tunnels", "gauge", "Current tunnels (sender, destination pairs).")
        out += "formnet_relay_tunnels \(tunnels)\n"
        family("formnet_relay_channels", "gauge", "Current channels (open channel ports).")
        out += "formnet_relay_channels \(channels)\n"
        family("formnet_relay_uptime_seconds", "gauge", "Seconds since the relay started.")
        out += "formnet_relay_uptime_seconds \(uptimeSeconds)\n"
        return out
    }
}
