import Foundation
import Testing
@testable import WireGuard

@Suite struct KeyTests {
    func bytes(_ hex: String) -> [UInt8] { KeyEncoding.decodeHex(hex)! }

    // RFC 7748 §6.1: Alice and Bob's key pairs and their shared secret.
    @Test func rfc7748DiffieHellman() throws {
        let alice = try #require(PrivateKey(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let bob = try #require(PrivateKey(hex: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
        #expect(alice.publicKey.hex == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        #expect(bob.publicKey.hex == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
        #expect(alice.sharedSecret(with: bob.publicKey) == bytes(shared))
        #expect(bob.sharedSecret(with: alice.publicKey) == bytes(shared))
    }

    // RFC 7748 §5.2: scalar multiplication with an unclamped scalar (X25519 clamps it).
    @Test func rfc7748ScalarMultiplication() throws {
        let k = try #require(PrivateKey(hex: "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"))
        let u = try #require(PublicKey(hex: "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"))
        #expect(k.sharedSecret(with: u) == bytes("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"))
    }

    // RFC 7748 §5.2: the iterated test, k = u = 9, after 1 and 1,000 rounds.
    @Test func rfc7748Iterated() throws {
        var k = [UInt8](repeating: 0, count: 32)
        k[0] = 9
        var u = k
        for round in 1...1000 {
            let out = try #require(PrivateKey(bytes: k)!.sharedSecret(with: PublicKey(bytes: u)!))
            u = k
            k = out
            if round == 1 {
                #expect(k == bytes("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"))
            }
        }
        #expect(k == bytes("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"))
    }

    @Test func generatedKeysAreClampedAndDistinct() {
        let a = PrivateKey.generate()
        let b = PrivateKey.generate()
        #expect(a != b)
        for key in [a, b] {
            key.withUnsafeBytes { raw in
                #expect(raw[0] & 7 == 0)
                #expect(raw[31] & 128 == 0)
                #expect(raw[31] & 64 == 64)
            }
        }
    }

    @Test func textEncodingsRoundTrip() throws {
        let key = PrivateKey.generate()
        #expect(key.base64.count == 44)
        #expect(key.hex.count == 64)
        #expect(PrivateKey(base64: key.base64) == key)
        #expect(PrivateKey(hex: key.hex) == key)
        let pub = key.publicKey
        #expect(PublicKey(base64: pub.base64) == pub)
        #expect(PublicKey(hex: pub.hex.uppercased()) == pub)
        #expect(pub.bytes.count == 32)
    }

    @Test func malformedKeysAreRefused() {
        #expect(PublicKey(base64: "") == nil)
        #expect(PublicKey(base64: "AAAA") == nil)
        // 33 bytes of base64, and 32 bytes without the canonical padding.
        #expect(PublicKey(base64: String(repeating: "A", count: 44)) == nil)
        #expect(PublicKey(base64: Data(count: 33).base64EncodedString()) == nil)
        #expect(PublicKey(hex: String(repeating: "0", count: 63)) == nil)
        #expect(PublicKey(hex: String(repeating: "g", count: 64)) == nil)
        #expect(PrivateKey(bytes: [UInt8](repeating: 1, count: 31)) == nil)
    }

    @Test func secretKeysCompareByValue() throws {
        let key = PrivateKey.generate()
        let copy = try #require(PrivateKey(bytes: key.withUnsafeBytes { Array($0) }))
        #expect(copy == key)
        var flipped = key.withUnsafeBytes { Array($0) }
        flipped[17] ^= 1
        #expect(PrivateKey(bytes: flipped) != key)
        let psk = PresharedKey.generate()
        #expect(PresharedKey(base64: psk.base64) == psk)
        #expect(PresharedKey(bytes: [UInt8](repeating: 0, count: 32))!.isZero)
    }

    /// wg(8) is the reference implementation users compare against: for the same private
    /// key it must print the same public key.
    @Test func publicKeyMatchesWgPubkey() throws {
        let wg = try #require(UserspaceBackend.findExecutable("wg"),
                              "wg(8) is needed for this test: apt-get install --no-install-recommends wireguard-tools")
        for _ in 0..<5 {
            let key = PrivateKey.generate()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: wg)
            process.arguments = ["pubkey"]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            input.fileHandleForWriting.write(Data((key.base64 + "\n").utf8))
            try input.fileHandleForWriting.close()
            let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(printed.trimmingCharacters(in: .whitespacesAndNewlines) == key.publicKey.base64)
        }
    }
}
