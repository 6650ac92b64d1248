import Bus
import BusTesting
import Foundation
import Processes
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// SHA-256 and HMAC-SHA256 against published vectors, the signed-envelope format, and a real
/// worker on a signing bus dead-lettering unsigned and forged envelopes.
@Suite("Signed envelopes")
struct SignatureTests {
    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    @Test("SHA-256 of the FIPS 180-2 examples, the empty message and a million a's")
    func sha256Vectors() {
        #expect(
            HMACSHA256.hex(SHA256.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            HMACSHA256.hex(SHA256.hash([UInt8]()))
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            HMACSHA256.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            HMACSHA256.hex(SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Fed in uneven pieces, contiguous or not, the digest is the same.
        var pieces = SHA256()
        var offset = 0
        for (n, size) in [1, 63, 64, 65, 127, 3, 1_000].enumerated() {
            let chunk = [UInt8](repeating: 0x61, count: size)
            if n % 2 == 0 { pieces.update(chunk) } else { pieces.update(chunk.lazy.map { $0 }) }
            offset += size
        }
        #expect(pieces.finalize() == SHA256.hash([UInt8](repeating: 0x61, count: offset)))
    }

    /// RFC 4231, section 4: test cases 1 to 7 (case 5's output is truncated to 128 bits).
    static let rfc4231: [(key: String, data: String, mac: String)] = [
        (
            String(repeating: "0b", count: 20), "4869205468657265",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        ),
        (
            "4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        ),
        (
            String(repeating: "aa", count: 20), String(repeating: "dd", count: 50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        ),
        (
            "0102030405060708090a0b0c0d0e0f10111213141516171819", String(repeating: "cd", count: 50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        ),
        (
            String(repeating: "0c", count: 20), "546573742057697468205472756e636174696f6e",
            "a3b6167473100ee06e0c796c2955552b"
        ),
        (
            String(repeating: "aa", count: 131),
            "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        ),
        (
            String(repeating: "aa", count: 131),
            "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        ),
    ]

    @Test("HMAC-SHA256 matches every RFC 4231 test case", arguments: 0..<7)
    func rfc4231Vectors(_ index: Int) {
        let vector = Self.rfc4231[index]
        let mac = HMACSHA256.hex(
            HMACSHA256.authenticationCode(key: Self.bytes(hex: vector.key), message: Self.bytes(hex: vector.data)))
        // Test case 5 gives the MAC truncated to 128 bits; every other case the whole MAC.
        #expect(index == 4 ? String(mac.prefix(32)) == vector.mac : mac == vector.mac, "test case \(index + 1)")
    }

    static let key = Array("0123456789abcdef0123456789abcdef".utf8)

    static func envelope(body: [String: JSONValue] = ["n": 1]) throws -> Envelope {
        Envelope(
            run: "r1", kind: "item", from: try WorkerID(role: "test", host: "h", pid: 1, incarnation: "abcd"),
            to: "work", body: body)
    }

    @Test("a signed file is the unsigned file with a last sig member; tampering, another key, or none is named")
    func format() throws {
        let signer = try EnvelopeSigner(keyID: "k1", key: Self.key)
        let unsigned = try Self.envelope(body: ["text": "a \"sig\":\"x\" inside"]).encoded()
        let signed = try signer.sign(unsigned)
        let text = String(decoding: signed, as: UTF8.self)
        let mac = HMACSHA256.hex(HMACSHA256.authenticationCode(key: Self.key, message: unsigned))
        #expect(text == String(decoding: unsigned.dropLast(2), as: UTF8.self) + ",\"sig\":\"hmac-sha256:k1:\(mac)\"}\n")
        #expect(signer.problem(in: signed) == nil)
        // The signed file is still a valid envelope, equal to the unsigned one.
        #expect(try Envelope(decoding: signed) == Envelope(decoding: unsigned))

        #expect(signer.problem(in: unsigned)?.hasPrefix("unsigned") == true)
        var tampered = signed
        let at = try #require(
            text.utf8.firstIndex(of: UInt8(ascii: "i")).map { text.utf8.distance(from: text.utf8.startIndex, to: $0) })
        tampered[at] = UInt8(ascii: "j")
        #expect(signer.problem(in: tampered)?.hasPrefix("bad signature") == true)
        let other = try EnvelopeSigner(keyID: "k1", key: Array("fedcba9876543210fedcba9876543210".utf8))
        #expect(other.problem(in: signed)?.hasPrefix("bad signature") == true)
        let renamed = try EnvelopeSigner(keyID: "k2", key: Self.key)
        #expect(renamed.problem(in: signed)?.contains("signed with key \"k1\"") == true)
        // A sig member that is not last, or a malformed value, is a bad signature, not "unsigned".
        let moved = "{\"sig\":\"hmac-sha256:k1:\(mac)\"," + String(decoding: unsigned.dropFirst(), as: UTF8.self)
        #expect(signer.problem(in: Array(moved.utf8))?.hasPrefix("bad signature") == true)
        let short = String(decoding: unsigned.dropLast(2), as: UTF8.self) + ",\"sig\":\"hmac-sha256:k1:abc\"}\n"
        #expect(signer.problem(in: Array(short.utf8))?.hasPrefix("bad signature") == true)
        #expect(throws: BusError.self) { try EnvelopeSigner(keyID: "k1", key: Array("short".utf8)) }
        #expect(throws: BusError.self) { try EnvelopeSigner(keyID: "no spaces", key: Self.key) }
    }

    /// A folder outside any bus holding a key file with `mode`.
    static func keyFile(mode: mode_t = 0o600, key: [UInt8] = key) throws -> (folder: String, file: String) {
        let folder = FileManager.default.temporaryDirectory.path + "/planbus-key-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + "/bus.key"
        try Data(key + [0x0a]).write(to: URL(fileURLWithPath: file))
        chmod(file, mode)
        return (folder, file)
    }

    @Test("a bus refuses a key file others can read, one inside the bus, or a relative path")
    func keyFileChecks() throws {
        let (folder, file) = try Self.keyFile(mode: 0o644)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var settings = BusSettings.testing
        settings.signKeyFile = file
        #expect(throws: BusError.self) { try Bus.create(at: folder + "/bus", settings: settings) }
        #expect(!FileManager.default.fileExists(atPath: folder + "/bus"))
        chmod(file, 0o600)
        let bus = try Bus.create(at: folder + "/bus", settings: settings).bus
        #expect(bus.signer?.keyID == "main")
        let inside = bus.layout.root + "/ctl/bus.key"
        try Data(Self.key).write(to: URL(fileURLWithPath: inside))
        chmod(inside, 0o600)
        #expect(throws: BusError.self) {
            try EnvelopeSigner.load(keyFile: inside, keyID: "main", busRoot: bus.layout.root, groupShared: false)
        }
        #expect(throws: BusError.self) {
            try BusSettings(json: ["sign_key_file": "relative/bus.key"], file: "bus.json")
        }
    }

    @Test("a real worker on a signing bus delivers signed envelopes and dead-letters unsigned and forged ones")
    func workerChecksSignatures() async throws {
        let (folder, file) = try Self.keyFile()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var settings = BusSettings.testing
        settings.signKeyFile = file
        settings.signKeyID = "k7"
        let bus = try TemporaryBus(settings: settings)
        #expect(bus.bus.signer != nil)
        let worker = try WorkerFixture(bus: bus, name: "w")
        #expect(await worker.started())

        // Signed through the bus's publisher.
        let good = try bus.publish(2)
        // Dropped in by hand: unsigned, signed with another key, and signed then altered.
        let layout = bus.bus.layout
        func drop(_ bytes: [UInt8], id: String) throws {
            let staged = layout.tmp + "/.drop-" + id
            try Data(bytes).write(to: URL(fileURLWithPath: staged))
            #expect(rename(staged, layout.new("work") + "/" + id + ".json") == 0)
        }
        let unsigned = try Self.envelope()
        try drop(try unsigned.encoded(), id: unsigned.id)
        let forged = try Self.envelope()
        let thief = try EnvelopeSigner(keyID: "k7", key: Array("not-the-bus-key-not-the-bus-key".utf8))
        try drop(try thief.sign(forged.encoded()), id: forged.id)
        let altered = try Self.envelope(body: ["amount": 10])
        let real = try #require(bus.bus.signer)
        let signedText = String(decoding: try real.sign(altered.encoded()), as: UTF8.self)
        let alteredText = signedText.replacingOccurrences(of: "\"amount\":10", with: "\"amount\":99")
        #expect(alteredText != signedText)
        try drop(Array(alteredText.utf8), id: altered.id)

        #expect(await eventually { Set(worker.processed.map(\.id)) == Set(good) })
        let deadReasons = {
            bus.names("dead").filter { $0.hasSuffix(".reason.json") }.compactMap { name -> (String, String)? in
                guard let data = FileManager.default.contents(atPath: layout.dead("work") + "/" + name),
                    let record = try? JSONValue.parse(Array(data)), let id = record["id"]?.stringValue,
                    let reason = record["reason"]?.stringValue
                else { return nil }
                return (id, reason)
            }
        }
        #expect(await eventually { deadReasons().count == 3 })
        let reasons = Dictionary(uniqueKeysWithValues: deadReasons())
        #expect(reasons[unsigned.id]?.hasPrefix("unsigned") == true, "\(reasons)")
        #expect(reasons[forged.id]?.hasPrefix("bad signature") == true, "\(reasons)")
        #expect(reasons[altered.id]?.hasPrefix("bad signature") == true, "\(reasons)")
        #expect(!worker.processed.contains { [unsigned.id, forged.id, altered.id].contains($0.id) })
        // What the worker acked is exactly what was published: signed, byte for byte.
        for name in bus.doneNames() {
            let day = try #require(FileManager.default.contentsOfDirectory(atPath: layout.done("work")).first)
            let data = try #require(FileManager.default.contents(atPath: layout.done("work", day: day) + "/" + name))
            #expect(real.problem(in: Array(data)) == nil)
        }
        #expect(await worker.stop() == .exited(0))
    }
}
