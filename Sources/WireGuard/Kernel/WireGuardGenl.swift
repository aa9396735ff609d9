import CNetlink

/// The constants of linux/wireguard.h, typed as the netlink fields that carry them.
enum WireGuardGenl {
    static let familyName = WG_GENL_NAME
    static let version = UInt8(WG_GENL_VERSION)

    static let getDevice = UInt8(WG_CMD_GET_DEVICE.rawValue)
    static let setDevice = UInt8(WG_CMD_SET_DEVICE.rawValue)

    enum Device {
        static let ifindex = UInt16(WGDEVICE_A_IFINDEX.rawValue)
        static let ifname = UInt16(WGDEVICE_A_IFNAME.rawValue)
        static let privateKey = UInt16(WGDEVICE_A_PRIVATE_KEY.rawValue)
        static let publicKey = UInt16(WGDEVICE_A_PUBLIC_KEY.rawValue)
        static let flags = UInt16(WGDEVICE_A_FLAGS.rawValue)
        static let listenPort = UInt16(WGDEVICE_A_LISTEN_PORT.rawValue)
        static let fwmark = UInt16(WGDEVICE_A_FWMARK.rawValue)
        static let peers = UInt16(WGDEVICE_A_PEERS.rawValue)

        static let replacePeers = UInt32(WGDEVICE_F_REPLACE_PEERS.rawValue)
    }

    enum Peer {
        static let publicKey = UInt16(WGPEER_A_PUBLIC_KEY.rawValue)
        static let presharedKey = UInt16(WGPEER_A_PRESHARED_KEY.rawValue)
        static let flags = UInt16(WGPEER_A_FLAGS.rawValue)
        static let endpoint = UInt16(WGPEER_A_ENDPOINT.rawValue)
        static let persistentKeepalive = UInt16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL.rawValue)
        static let lastHandshakeTime = UInt16(WGPEER_A_LAST_HANDSHAKE_TIME.rawValue)
        static let rxBytes = UInt16(WGPEER_A_RX_BYTES.rawValue)
        static let txBytes = UInt16(WGPEER_A_TX_BYTES.rawValue)
        static let allowedIPs = UInt16(WGPEER_A_ALLOWEDIPS.rawValue)
        static let protocolVersion = UInt16(WGPEER_A_PROTOCOL_VERSION.rawValue)

        static let removeMe = UInt32(WGPEER_F_REMOVE_ME.rawValue)
        static let replaceAllowedIPs = UInt32(WGPEER_F_REPLACE_ALLOWEDIPS.rawValue)
        static let updateOnly = UInt32(WGPEER_F_UPDATE_ONLY.rawValue)
    }

    enum AllowedIP {
        static let family = UInt16(WGALLOWEDIP_A_FAMILY.rawValue)
        static let ipAddress = UInt16(WGALLOWEDIP_A_IPADDR.rawValue)
        static let cidrMask = UInt16(WGALLOWEDIP_A_CIDR_MASK.rawValue)
    }

    /// A request to the wireguard family: nlmsghdr, then genlmsghdr with `command`.
    static func builder(family: UInt16, command: UInt8, flags: UInt16,
                        capacity: Int = NetlinkMessageBuilder.socketBufferSize) -> NetlinkMessageBuilder {
        let builder = NetlinkMessageBuilder(type: family, flags: flags, capacity: capacity)
        builder.putExtraHeader(genlmsghdr(cmd: command, version: version, reserved: 0))
        return builder
    }

    /// WG_CMD_GET_DEVICE is dump-only in the kernel: the device and its peers may span many
    /// replies, ended by NLMSG_DONE.
    static func getDeviceRequest(family: UInt16, interface: String) throws -> [UInt8] {
        let builder = builder(family: family, command: getDevice, flags: Netlink.request | Netlink.ack | Netlink.dump)
        builder.put(Device.ifname, string: interface)
        return try builder.message()
    }
}
