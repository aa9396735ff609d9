import Foundation
import FormnetKit
import Testing
import WireGuard

/// The API's JSON bodies come from the network: every decoder the server runs on a request
/// body (and the one a member runs on the server's state) gets valid bodies mutated the ways a
/// parser is most likely to be wrong about, from a fixed seed. Each must decode or throw a
/// DecodingError — nothing else, and no crash. The server reads at most `maxBodyBytes` of a body.
@Suite struct APIDecoderFuzzTests {
    static let mutationsPerType = 20_000

    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    /// Bytes JSON gives meaning to, which random bytes rarely hit.
    static let tokens = Array("{}[]\":,-.0123456789eEtrufalsn\\u00".utf8)

    static func mutate(_ body: [UInt8], _ rng: inout Random) -> [UInt8] {
        var bytes = body
        for _ in 0...rng.below(4) {
            switch rng.below(6) {
            case 0 where !bytes.isEmpty: bytes[rng.below(bytes.count)] = tokens[rng.below(tokens.count)]
            case 1 where !bytes.isEmpty: bytes.remove(at: rng.below(bytes.count))
            case 2: bytes.insert(tokens[rng.below(tokens.count)], at: rng.below(bytes.count + 1))
            case 3: bytes.removeLast(rng.below(bytes.count + 1))
            case 4 where !bytes.isEmpty:
                let start = rng.below(bytes.count)
                let piece = bytes[start..<min(bytes.count, start + rng.below(32) + 1)]
                bytes.insert(contentsOf: Array(piece), at: rng.below(bytes.count + 1))
            default:
                if !bytes.isEmpty { bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
        return bytes
    }

    /// Decodes `mutationsPerType` mutations of `value`'s encoding; returns how many decoded.
    func fuzz<T: Codable>(_ value: T, seed: UInt64) throws -> Int {
        let body = Array(try API.encoder().encode(value))
        var rng = Random(state: seed)
        var decoded = 0
        for _ in 0..<Self.mutationsPerType {
            let input = Data(Self.mutate(body, &rng))
            do {
                _ = try API.decoder().decode(T.self, from: input)
                decoded += 1
            } catch is DecodingError {
            } catch {
                Issue.record("\(T.self): \(error) for \(String(decoding: input, as: UTF8.self))")
            }
        }
        return decoded
    }

    @Test func requestBodiesDecodeOrFailCleanly() throws {
        let key = PrivateKey(bytes: [UInt8](repeating: 0x22, count: 32))!.publicKey
        let endpoint = Endpoint("198.51.100.1:51820")!
        var results: [String: Int] = [:]
        results["redeem"] = try fuzz(API.RedeemRequest(publicKey: key), seed: 1)
        results["endpoint"] = try fuzz(API.EndpointOverride(endpoint: endpoint), seed: 2)
        results["candidates"] = try fuzz(API.Candidates(candidates: [endpoint, Endpoint("[2001:db8::1]:51820")!], relays: [key]), seed: 3)
        results["relay"] = try fuzz(API.RelayAnnouncement(publicKey: key, port: 51821, endpoint: endpoint, location: GeoLocation("48.85,2.35"), capacity: 100, load: 3), seed: 4)
        results["peer"] = try fuzz(API.PeerContents(name: "bob", ip: IPAddress("10.66.1.2")!, cidrId: 2, publicKey: key, endpoint: endpoint), seed: 5)
        results["cidr"] = try fuzz(API.CidrContents(name: "lab", cidr: IPNetwork("10.66.2.0/24")!, parent: 1), seed: 6)
        results["association"] = try fuzz(API.AssociationContents(cidrId1: 1, cidrId2: 2), seed: 7)
        results["state"] = try fuzz(API.State(peers: [], cidrs: []), seed: 8)
        // Some mutations leave a valid body (a digit for a digit, a duplicated space): the
        // decoders were reached past their first byte, not refused at the door every time.
        for (name, decoded) in results {
            #expect(decoded > 0 && decoded < Self.mutationsPerType, "\(name): \(decoded) of \(Self.mutationsPerType) decoded")
        }
    }

    @Test func deepNestingIsRefusedNotFollowed() {
        for depth in [600, 100_000] {
            let body = Data((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
            #expect(throws: DecodingError.self) { try API.decoder().decode(API.Candidates.self, from: body) }
        }
    }
}
