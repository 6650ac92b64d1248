import Bus
import BusTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Unit tests of the envelope format, its limits, timestamps, ids, file names, worker ids,
/// settings and bus creation.
@Suite("Envelope, names and settings")
struct EnvelopeTests {
    // MARK: - Fixtures

    /// 2026-11-22T03:04:05.678Z
    static let knownMs: Int64 = 1_795_316_645_678
    static let knownText = "2026-11-22T03:04:05.678Z"

    static func sender() throws -> WorkerID {
        try WorkerID(role: "planner", host: "host-1", pid: 4242, incarnation: "0123456789abcdef")
    }

    static func sample(
        id: String = "1795316645678-000001-host-1-4242", task: String? = "t.1",
        causation: String? = "1795316645000-000000-host-1-4242", body: [String: JSONValue] = ["a": 1, "b": "x"]
    ) throws -> Envelope {
        Envelope(
            id: id, run: "run-1", task: task, kind: "goal", from: try sender(), to: "builder", causation: causation,
            attempt: 2, created: Timestamp(milliseconds: knownMs), body: body)
    }

    /// A body object whose own nesting depth is `levels` (an empty object is 1).
    static func nested(_ levels: Int) -> [String: JSONValue] {
        var value: [String: JSONValue] = [:]
        for _ in 1..<max(levels, 1) { value = ["n": .object(value)] }
        return value
    }

    /// The JSON object of a valid envelope, to be mutated by hand and serialised.
    static func object(id: String, body: JSONValue = .object([:])) -> [String: JSONValue] {
        [
            "v": 1, "id": .string(id), "run": "run-1", "kind": "goal",
            "from": ["role": "planner", "host": "host-1", "pid": 4242, "incarnation": "abcd"], "to": "builder",
            "causation": nil, "attempt": 1, "created": .string(knownText), "body": body,
        ]
    }

    static func bytes(_ o: [String: JSONValue]) -> [UInt8] {
        Array((JSONValue.object(o).serialized() + "\n").utf8)
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: - Encode / decode

    @Test("encode then decode gives back the same envelope: unicode, escapes, nesting, numbers")
    func roundTrip() throws {
        let body: [String: JSONValue] = [
            "unicode": "héllo wörld 🌍 中文 ﷽ é (e + combining acute)",
            "escapes": .string(
                "quote \" backslash \\ slash / nl \n cr \r tab \t bell \u{07} nul \u{00} del \u{7F} \u{2028}"),
            "ключ 🔑": "value under a unicode key",
            "nested": [
                "list": [1, -2, .number(3.25), true, false, nil, ["deep": ["deeper": ["deepest": "x"]]]],
                "emptyObject": [:], "emptyList": [],
            ],
            "numbers": [
                .number(0.1), .number(-0.5), .number(1e-7), .number(1e300), .number(9_007_199_254_740_992),
                .number(-123_456_789),
            ],
            "summary": "a one-line summary",
        ]
        let envelope = try Self.sample(body: body)
        let encoded = try envelope.encoded()
        #expect(encoded.last == 0x0A, "an envelope file ends with a newline")
        #expect(!encoded.dropLast().contains(0x0A), "an envelope is one line: newlines inside strings are escaped")
        let decoded = try Envelope(decoding: encoded)
        #expect(decoded == envelope)
        #expect(decoded.body["escapes"] == body["escapes"])
        #expect(decoded.body["unicode"] == body["unicode"])
        // Encoding is deterministic.
        #expect(try decoded.encoded() == encoded)
    }

    @Test("null causation and absent task round-trip as nil")
    func optionalFields() throws {
        let envelope = try Self.sample(task: nil, causation: nil)
        let encoded = try envelope.encoded()
        let text = Self.text(encoded)
        #expect(!text.contains("\"task\""), "an absent task is not written")
        #expect(text.contains("\"causation\":null"), "a missing causation is written as null")
        let decoded = try Envelope(decoding: encoded)
        #expect(decoded.task == nil)
        #expect(decoded.causation == nil)
        #expect(decoded == envelope)

        // Read side: causation may be absent entirely, and task may be null.
        var o = Self.object(id: "1795316645678-abc")
        o.removeValue(forKey: "causation")
        o["task"] = .null
        let hand = try Envelope(decoding: Self.bytes(o))
        #expect(hand.causation == nil)
        #expect(hand.task == nil)
        #expect(hand.created == Timestamp(milliseconds: Self.knownMs))
        #expect(hand.from.incarnation == "abcd")
    }

    @Test("fields are written in protocol order, compact, with a trailing newline")
    func protocolOrder() throws {
        let full = Self.text(try Self.sample().encoded())
        #expect(
            full
                == "{\"v\":1,\"id\":\"1795316645678-000001-host-1-4242\",\"run\":\"run-1\",\"task\":\"t.1\",\"kind\":\"goal\","
                + "\"from\":{\"role\":\"planner\",\"host\":\"host-1\",\"pid\":4242,\"incarnation\":\"0123456789abcdef\"},"
                + "\"to\":\"builder\",\"causation\":\"1795316645000-000000-host-1-4242\",\"attempt\":2,"
                + "\"created\":\"2026-11-22T03:04:05.678Z\",\"body\":{\"a\":1,\"b\":\"x\"}}\n")
        let minimal = Self.text(
            try Self.sample(task: nil, causation: nil, body: ["z": 1, "a": ["y": 2, "b": 3]]).encoded())
        #expect(
            minimal
                == "{\"v\":1,\"id\":\"1795316645678-000001-host-1-4242\",\"run\":\"run-1\",\"kind\":\"goal\","
                + "\"from\":{\"role\":\"planner\",\"host\":\"host-1\",\"pid\":4242,\"incarnation\":\"0123456789abcdef\"},"
                + "\"to\":\"builder\",\"causation\":null,\"attempt\":2,"
                + "\"created\":\"2026-11-22T03:04:05.678Z\",\"body\":{\"a\":{\"b\":3,\"y\":2},\"z\":1}}\n")
    }

    // MARK: - Limits on write

    @Test("an oversize envelope is refused by encoded, at exactly one byte over the limit")
    func oversizeRejected() throws {
        let huge = try Self.sample(body: ["pad": .string(String(repeating: "x", count: 1 << 20))])
        let error = #expect(throws: BusError.self) { try huge.encoded() }
        #expect(error?.code == .invalidEnvelope)
        #expect(error?.message.contains("1048576-byte limit") == true)

        // The boundary, with a small limit: exactly at the limit is fine, one byte more is not.
        let limits = Limits(maxEnvelopeBytes: 1024, maxDepth: 32)
        let base = try Self.sample(body: ["pad": ""]).encoded().count
        let fits = try Self.sample(body: ["pad": .string(String(repeating: "y", count: 1024 - base))])
        let fitting = try fits.encoded(limits: limits)
        #expect(fitting.count == 1024)
        #expect(try Envelope(decoding: fitting, limits: limits) == fits)
        let over = try Self.sample(body: ["pad": .string(String(repeating: "y", count: 1025 - base))])
        let overError = #expect(throws: BusError.self) { try over.encoded(limits: limits) }
        #expect(overError?.message.contains("1025 bytes") == true)
        var overBytes = fitting
        overBytes.insert(0x20, at: 0)
        #expect(throws: BusError.self) { try Envelope(decoding: overBytes, limits: limits) }
    }

    @Test("nesting deeper than max_depth is refused on write and on read")
    func depthRejected() throws {
        // The top-level object is level 1 and the body level 2, so a body of depth 32 nests 33 levels.
        let deep = try Self.sample(body: Self.nested(32))
        let error = #expect(throws: BusError.self) { try deep.encoded() }
        #expect(error?.code == .invalidEnvelope)
        #expect(error?.message.contains("nests") == true)
        let readError = #expect(throws: BusError.self) {
            try Envelope(decoding: Self.bytes(Self.object(id: "1795316645678-abc", body: .object(Self.nested(32)))))
        }
        #expect(readError?.message.contains("nesting deeper than 32") == true)
    }

    @Test("the writer accepts exactly the nesting depth the reader accepts")
    func depthBoundaryAgrees() throws {
        // A body of depth 31 makes an envelope nest exactly 32 levels: the limit, "top-level object included".
        let atLimit = Self.bytes(Self.object(id: "1795316645678-abc", body: .object(Self.nested(31))))
        let decoded = try Envelope(decoding: atLimit)
        // What a reader accepts, a writer must be able to write back (e.g. when forwarding it).
        #expect(throws: Never.self) { try decoded.encoded() }
        let small = Limits(maxEnvelopeBytes: 1 << 20, maxDepth: 4)
        let atSmallLimit = Self.bytes(Self.object(id: "1795316645678-abc", body: .object(Self.nested(3))))
        let smallDecoded = try Envelope(decoding: atSmallLimit, limits: small)
        #expect(throws: Never.self) { try smallDecoded.encoded(limits: small) }
    }

    static let long129 = "1795316645678-" + String(repeating: "a", count: 115)
    /// One byte over the longest envelope id.
    static let idOneOver = "1795316645678-" + String(repeating: "a", count: Limits.maxEnvelopeIDLength - 13)
    static let name129 = String(repeating: "r", count: 129)

    @Test(
        "a field outside its charset or length is refused by encoded, naming the field",
        arguments: [
            ("id", "1795316645678-a.b"), ("id", "1795316645678-a/b"), ("id", "1795316645678-../../etc"),
            ("id", "179531664567-abc"), ("id", "1795316645678_abc"), ("id", "1795316645678-"), ("id", "abc"),
            ("id", "1795316645678-a b"), ("id", "1795316645678-é"), ("id", long129), ("id", idOneOver),
            ("run", "a/b"), ("run", "../up"), ("run", ".hidden"), ("run", "-dash"), ("run", ""), ("run", "sp ace"),
            ("run", name129),
            ("task", "a/b"), ("task", ".."), ("task", ""), ("task", name129),
            ("kind", "Goal"), ("kind", "1goal"), ("kind", "go/al"), ("kind", ""),
            ("kind", "g" + String(repeating: "o", count: 64)),
            ("to", "Builder"), ("to", "build_er"), ("to", "b.r"), ("to", "../x"), ("to", ""), ("to", "1builder"),
            ("to", "b" + String(repeating: "x", count: 32)),
            ("causation", "not-an-id"), ("causation", "1795316645678-a.b"), ("causation", "../1795316645678-x"),
        ])
    func badFieldRejected(field: String, value: String) throws {
        var envelope = try Self.sample()
        switch field {
        case "id": envelope.id = value
        case "run": envelope.run = value
        case "task": envelope.task = value
        case "kind": envelope.kind = value
        case "to": envelope.to = value
        case "causation": envelope.causation = value
        default: Issue.record("unknown field \(field)")
        }
        let error = #expect(throws: BusError.self) { try envelope.encoded() }
        #expect(error?.code == .invalidEnvelope)
        #expect(error?.message.hasPrefix(field) == true, "message \(error?.message ?? "-") should name \(field)")
    }

    @Test("values at the longest allowed lengths are accepted")
    func longestAccepted() throws {
        var envelope = try Self.sample()
        envelope.id = "1795316645678-" + String(repeating: "a", count: Limits.maxEnvelopeIDLength - 14)
        envelope.run = String(repeating: "r", count: 128)
        envelope.task = String(repeating: "t", count: 128)
        envelope.kind = "k" + String(repeating: "._-9", count: 15) + "abc"
        envelope.to = "b" + String(repeating: "-", count: 31)
        #expect(envelope.id.utf8.count == Limits.maxEnvelopeIDLength)
        #expect(Limits.maxEnvelopeIDLength < 129, "a 129-byte id is refused (see badFieldRejected)")
        #expect(envelope.kind.utf8.count == 64)
        #expect(envelope.to.utf8.count == 32)
        let decoded = try Envelope(decoding: try envelope.encoded())
        #expect(decoded == envelope)
    }

    @Test("attempt outside 0...1000000 is refused", arguments: [-1, 1_000_001])
    func attemptRange(attempt: Int) throws {
        var envelope = try Self.sample()
        envelope.attempt = attempt
        let error = #expect(throws: BusError.self) { try envelope.encoded() }
        #expect(error?.message.contains("attempt") == true)
    }

    // MARK: - Timestamps

    @Test("RFC 3339 printing: UTC, milliseconds, Z")
    func timestampPrint() {
        #expect(Timestamp(milliseconds: Self.knownMs).description == Self.knownText)
        #expect(Timestamp(milliseconds: 0).description == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(milliseconds: 951_868_799_999).description == "2000-02-29T23:59:59.999Z")
        #expect(Timestamp(milliseconds: 5).description == "1970-01-01T00:00:00.005Z")
        #expect(Timestamp(milliseconds: Self.knownMs).day == "20261122")
    }

    @Test(
        "RFC 3339 parsing, fractional seconds included",
        arguments: [
            ("2026-11-22T03:04:05.678Z", Int64(1_795_316_645_678)),
            ("2026-11-22T03:04:05Z", 1_795_316_645_000),
            ("2026-11-22T03:04:05.6Z", 1_795_316_645_600),
            ("2026-11-22T03:04:05.67Z", 1_795_316_645_670),
            ("2026-11-22T03:04:05.678901234Z", 1_795_316_645_678),
            ("2026-11-22T03:04:05.000Z", 1_795_316_645_000),
            ("2000-02-29T23:59:59.999Z", 951_868_799_999),
            ("1970-01-01T00:00:00Z", 0),
        ])
    func timestampParse(text: String, ms: Int64) {
        #expect(Timestamp(rfc3339: text)?.milliseconds == ms)
    }

    @Test(
        "print then parse gives back the same instant",
        arguments: [
            Int64(0), 1, 999, 1000, 59_999, 951_868_799_999, 1_795_316_645_678, 4_102_444_800_000, 253_402_300_799_999,
        ])
    func timestampRoundTrip(ms: Int64) throws {
        let text = Timestamp(milliseconds: ms).description
        let parsed = try #require(Timestamp(rfc3339: text))
        #expect(parsed.milliseconds == ms)
        #expect(parsed.description == text)
    }

    @Test(
        "non-UTC offsets and malformed times are rejected",
        arguments: [
            "2026-11-22T03:04:05+01:00", "2026-11-22T03:04:05.678+01:00", "2026-11-22T03:04:05-05:00",
            "2026-11-22T04:04:05.678-00:30", "2026-11-22T03:04:05", "2026-11-22T03:04:05.678",
            "2026-11-22 03:04:05Z", "2026-11-22T03:04:05.Z", "2026-11-22T03:04:05.67aZ", "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T03:60:00Z",
            "26-11-22T03:04:05.678Z", "2026/11/22T03:04:05Z", "", "not a time at all, really", "2026-11-22T03:04:05ZZ",
        ])
    func timestampRejects(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test(
        "impossible calendar dates are rejected, not rolled over",
        arguments: [
            "2026-02-30T00:00:00Z", "2026-04-31T00:00:00Z", "2027-02-29T00:00:00Z",
        ])
    func timestampRejectsImpossibleDates(text: String) {
        let parsed = Timestamp(rfc3339: text)
        #expect(parsed == nil, "\(text) parsed as \(parsed?.description ?? "nil")")
    }

    @Test(
        "second 60 (a leap second) is accepted where leap seconds happen, at the end of a day",
        arguments: [
            ("2016-12-31T23:59:60Z", Int64(1_483_228_800_000)), ("2015-06-30T23:59:60.5Z", 1_435_708_800_500),
            ("2026-11-22T12:00:60Z", 1_795_348_860_000),
        ])
    func timestampLeapSecond(text: String, ms: Int64) {
        // The range check allows second 60 (6.3: "second < 61"); it reads as the next second.
        #expect(Timestamp(rfc3339: text)?.milliseconds == ms, "\(text) was refused or misread")
    }

    // MARK: - Envelope ids

    @Test("EnvelopeID.make: 100k ids are unique, valid and in creation order")
    func idsUniqueSortedValid() {
        var ids: [String] = []
        ids.reserveCapacity(100_000)
        for _ in 0..<100_000 { ids.append(EnvelopeID.make()) }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy(Limits.isValidEnvelopeID))
        #expect(ids == ids.sorted(), "ids made one after another sort in creation order")
        #expect(ids.allSatisfy { QueueNames.parsePending($0 + ".json")?.id == $0 })
    }

    @Test("EnvelopeID.make: ids sort by their time and carry it")
    func idsSortByTime() throws {
        let times: [Int64] = [0, 999, 1000, 1_795_316_645_677, 1_795_316_645_678, 9_999_999_999_999]
        let ids = times.map { EnvelopeID.make(host: "zz-host", at: Timestamp(milliseconds: $0)) }
        #expect(ids == ids.sorted())
        // The time orders ids even against a later-made id with a "smaller" host.
        let later = EnvelopeID.make(host: "aa-host", at: Timestamp(milliseconds: 1_795_316_645_679))
        #expect(ids[4] < later)
        for (id, t) in zip(ids, times) {
            #expect(Limits.isValidEnvelopeID(id))
            #expect(id.utf8.count <= Limits.maxEnvelopeIDLength)
            #expect(EnvelopeID.timestamp(of: id)?.milliseconds == t)
        }
        #expect(ids[1].hasPrefix("0000000000999-"))
        #expect(EnvelopeID.timestamp(of: "junk") == nil)
    }

    // MARK: - Queue file names

    static let qid = "1795316645678-000001-host-1-4242"

    @Test("pending, claim, retry and staging names round-trip")
    func queueNamesRoundTrip() throws {
        #expect(QueueNames.pending(id: Self.qid, epoch: 0) == Self.qid + ".json")
        #expect(QueueNames.pending(id: Self.qid, epoch: 3) == Self.qid + ".e3.json")
        for epoch in [0, 1, 3, 12, 1000] {
            let parsed = try #require(QueueNames.parsePending(QueueNames.pending(id: Self.qid, epoch: epoch)))
            #expect(parsed.id == Self.qid)
            #expect(parsed.epoch == epoch)
        }
        let worker = try Self.sender()
        for epoch in [1, 2, 99] {
            let name = QueueNames.claim(id: Self.qid, epoch: epoch, worker: worker)
            #expect(name == "\(Self.qid).e\(epoch)@planner.host-1.4242.0123456789abcdef.json")
            let parsed = try #require(QueueNames.parseClaim(name))
            #expect(parsed.id == Self.qid)
            #expect(parsed.epoch == epoch)
            #expect(parsed.worker == worker)
        }
        for (epoch, delay) in [(1, 0), (2, 1500), (7, 300_000)] {
            let name = QueueNames.retry(id: Self.qid, epoch: epoch, delayMs: delay)
            #expect(name == "\(Self.qid).e\(epoch).d\(delay).json")
            let parsed = try #require(QueueNames.parseRetry(name))
            #expect(parsed.id == Self.qid)
            #expect(parsed.epoch == epoch)
            #expect(parsed.delayMs == delay)
        }
        #expect(QueueNames.settled(id: Self.qid, epoch: 4) == Self.qid + ".e4.json")
        #expect(QueueNames.day(of: Self.qid) == "20261122")
        #expect(QueueNames.day(of: "junk") == "00000000")
        let staging = QueueNames.staging("pub")
        #expect(staging.hasPrefix("."))
        #expect(staging.hasSuffix(".pub"))
        let parsed = try #require(QueueNames.parseStaging(staging))
        #expect(parsed.host == Host.name)
        #expect(parsed.pid == getpid())
        #expect(QueueNames.staging("pub") != staging, "staging names are random")
    }

    @Test(
        "malformed pending names are rejected",
        arguments: [
            "hello world.txt", "notanid.json", qid, qid + ".e0.json", qid + ".e.json", qid + ".ex.json",
            qid + ".e-1.json", qid + ".json.tmp", "1795316645678-a.b.json", "." + qid + ".json", ".json", "",
            qid + ".e1@planner.host-1.4242.0123456789abcdef.json", qid + ".e1.d50.json",
        ])
    func malformedPending(name: String) {
        #expect(QueueNames.parsePending(name) == nil)
    }

    @Test(
        "malformed claim names are rejected",
        arguments: [
            qid + ".e1.json", qid + ".e1@nobody.json", qid + ".e0@planner.host-1.4242.abcd.json",
            qid + "@planner.host-1.4242.abcd.json", "x.e1@planner.host-1.4242.abcd.json",
            qid + ".e1@planner.host-1.4242.XYZ.json", qid + ".e1@planner.host-1.4242.abcd", qid + ".e1@.json",
            qid + ".e1@Planner.host-1.4242.abcd.json", qid + ".e1@planner.host_1.4242.abcd.json",
            qid + ".e1@planner.host-1.0.abcd.json",
        ])
    func malformedClaim(name: String) {
        #expect(QueueNames.parseClaim(name) == nil)
    }

    @Test(
        "malformed retry names are rejected",
        arguments: [
            qid + ".e1.json", qid + ".e1.dx.json", qid + ".e1.d-5.json", qid + ".d5.json", qid + ".e0.d5.json",
            "x.e1.d5.json", qid + ".e1.d5", qid + ".e1.d.json",
        ])
    func malformedRetry(name: String) {
        #expect(QueueNames.parseRetry(name) == nil)
    }

    @Test(
        "malformed staging names are rejected",
        arguments: ["host.1.x.pub", ".host.pid.x.pub", ".host", ".host.1", "", "."])
    func malformedStaging(name: String) {
        #expect(QueueNames.parseStaging(name) == nil)
    }

    @Test(
        "an accepted name is canonical: epochs and delays are plain digits",
        arguments: [
            qid + ".e+1.json", qid + ".e01.json", qid + ".e1.d+5.json", qid + ".e1.d05.json",
            qid + ".e+1@planner.host-1.4242.abcd.json",
        ])
    func nonCanonicalNumbersRejected(name: String) {
        // Two names must never map to the same (id, epoch): the claim path derived from it is the fencing token.
        if let p = QueueNames.parsePending(name) {
            #expect(QueueNames.pending(id: p.id, epoch: p.epoch) == name, "\(name) parsed as epoch \(p.epoch)")
        }
        if let r = QueueNames.parseRetry(name) {
            #expect(
                QueueNames.retry(id: r.id, epoch: r.epoch, delayMs: r.delayMs) == name,
                "\(name) parsed as e\(r.epoch) d\(r.delayMs)")
        }
        if let c = QueueNames.parseClaim(name) {
            #expect(
                QueueNames.claim(id: c.id, epoch: c.epoch, worker: c.worker) == name, "\(name) parsed as e\(c.epoch)")
        }
    }

    // MARK: - Worker ids

    @Test("WorkerID parses its text form and prints it back")
    func workerIDParse() throws {
        let text = "planner.host-1.4242.0123456789abcdef"
        let worker = try WorkerID(parsing: text)
        #expect(worker.role == "planner")
        #expect(worker.host == "host-1")
        #expect(worker.pid == 4242)
        #expect(worker.incarnation == "0123456789abcdef")
        #expect(worker.description == text)
        #expect(try WorkerID(json: worker.json, field: "from") == worker)
        let current = try WorkerID.current(role: "builder")
        #expect(current.pid == getpid())
        #expect(current.host == Host.name)
        #expect(current.incarnation.utf8.count == 16)
        #expect(try WorkerID(parsing: current.description) == current)
        #expect(try WorkerID.current(role: "builder").incarnation != current.incarnation, "each identity is fresh")
    }

    @Test(
        "an accepted worker id is canonical: it prints back as it was written",
        arguments: ["planner.host-1.+4242.abcd", "planner.host-1.04242.abcd", "planner.host-1.4242.abcd"])
    func workerIDCanonical(text: String) {
        // Worker ids are part of claim names, the fencing tokens: one worker, one spelling.
        if let worker = try? WorkerID(parsing: text) {
            #expect(worker.description == text, "\(text) was read as \(worker)")
        }
        if let claim = QueueNames.parseClaim(Self.qid + ".e1@" + text + ".json") {
            #expect(
                QueueNames.claim(id: claim.id, epoch: claim.epoch, worker: claim.worker) == Self.qid + ".e1@" + text
                    + ".json")
        }
    }

    @Test(
        "malformed worker ids are rejected",
        arguments: [
            "planner.host.123", "planner.host.123.abcd.extra", "Planner.host.1.abcd", "plan_ner.host.1.abcd",
            "planner.ho_st.1.abcd", "planner..1.abcd", "planner.host.0.abcd", "planner.host.-5.abcd",
            "planner.host.x.abcd", "planner.host.1.xyz1", "planner.host.1.ABCD", "planner.host.1.abc",
            "planner.host.1." + String(repeating: "a", count: 33), "", "...", "planner.host.99999999999.abcd",
        ])
    func workerIDRejects(text: String) {
        let error = #expect(throws: BusError.self) { try WorkerID(parsing: text) }
        #expect(error?.code == .invalidEnvelope)
    }

    @Test("WorkerID JSON form: unknown and ill-typed members are rejected")
    func workerIDJSON() {
        let extra: JSONValue = ["role": "planner", "host": "h", "pid": 1, "incarnation": "abcd", "uid": 0]
        let e1 = #expect(throws: BusError.self) { try WorkerID(json: extra, field: "from") }
        #expect(e1?.message.contains("unknown field \"uid\"") == true)
        let stringPid: JSONValue = ["role": "planner", "host": "h", "pid": "1", "incarnation": "abcd"]
        let e2 = #expect(throws: BusError.self) { try WorkerID(json: stringPid, field: "from") }
        #expect(e2?.message.contains("from.pid") == true)
        let notObject: JSONValue = "planner.h.1.abcd"
        let e3 = #expect(throws: BusError.self) { try WorkerID(json: notObject, field: "from") }
        #expect(e3?.message.contains("from must be an object") == true)
    }

    // MARK: - Settings

    @Test("settings round-trip through their JSON form")
    func settingsRoundTrip() throws {
        #expect(try BusSettings(json: BusSettings().json, file: "bus.json") == BusSettings())
        #expect(try BusSettings(json: BusSettings.testing.json, file: "bus.json") == BusSettings.testing)
        let partial = try BusSettings(json: ["max_attempts": 9, "wake": "poll", "durable": false], file: "bus.json")
        #expect(partial.maxAttempts == 9)
        #expect(partial.wake == .poll)
        #expect(partial.durable == false)
        #expect(partial.leaseMs == BusSettings().leaseMs, "absent keys keep their defaults")
    }

    @Test("an unknown settings key is an error naming it", arguments: ["max_attempt", "Durable", "lease", "x"])
    func settingsUnknownKey(key: String) {
        let error = #expect(throws: BusError.self) {
            try BusSettings(json: .object([key: 1]), file: "/some/bus.json")
        }
        #expect(error?.code == .invalidBus)
        #expect(error?.message.contains("\"\(key)\"") == true)
        #expect(error?.message.contains("/some/bus.json") == true)
    }

    @Test(
        "an out-of-range or ill-typed setting is an error naming its key",
        arguments: [
            ("max_attempts", JSONValue.number(0)), ("max_attempts", 1001), ("max_attempts", .number(2.5)),
            ("max_attempts", "5"), ("heartbeat_ms", 5), ("lease_ms", 10), ("retry_base_ms", -1),
            ("retry_cap_ms", 86_400_001), ("max_envelope_bytes", 100),
            ("max_envelope_bytes", .number(Double(65 << 20))),
            ("max_depth", 3), ("max_depth", 513), ("rescan_ms", 50), ("poll_ms", 0), ("janitor_ms", 1),
            ("tmp_max_age_ms", 10), ("seen_retention_days", 0), ("durable", "yes"), ("durable", 1),
            ("wake", "sometimes"), ("wake", 1),
        ] as [(String, JSONValue)])
    func settingsOutOfRange(key: String, value: JSONValue) {
        let error = #expect(throws: BusError.self) { try BusSettings(json: .object([key: value]), file: "bus.json") }
        #expect(error?.code == .invalidBus)
        #expect(error?.message.contains("\"\(key)\"") == true, "message: \(error?.message ?? "-")")
    }

    @Test("a lease not longer than the heartbeat is refused, naming both keys")
    func settingsLeaseVersusHeartbeat() {
        let error = #expect(throws: BusError.self) {
            try BusSettings(json: ["heartbeat_ms": 1000, "lease_ms": 1000], file: "bus.json")
        }
        #expect(error?.message.contains("lease_ms") == true)
        #expect(error?.message.contains("heartbeat_ms") == true)
    }

    @Test("Bus.open refuses a bus.json with an unknown key, naming it")
    func openRejectsBadSettingsFile() throws {
        let temp = try TemporaryBus()
        let bytes = Array("{\"max_attempts\": 3, \"retries\": 4}\n".utf8)
        try FileOps.writeAtomically(
            bytes, to: temp.bus.layout.settingsFile, stagingDirectory: temp.bus.layout.tmp, mode: 0o600, durable: false)
        let error = #expect(throws: BusError.self) { try Bus.open(at: temp.path) }
        #expect(error?.code == .invalidBus)
        #expect(error?.message.contains("\"retries\"") == true)
    }

    // MARK: - Bus creation

    static func writeFile(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(fd >= 0, "cannot create \(path)")
        try FileOps.writeAll(fd, Array(text.utf8), path: path)
        try FileOps.closeChecked(fd, path: path)
    }

    static func read(_ path: String) -> String? {
        if case .bytes(let b) = FileOps.readRegular(path, limit: 1 << 20) { return String(decoding: b, as: UTF8.self) }
        return nil
    }

    @Test("Bus.create refuses a non-empty directory that is not a bus, and leaves it alone")
    func createRefusesForeignDirectory() throws {
        let temp = try TemporaryBus()
        let dir = temp.root + "/foreign"
        try FileOps.makeDirectories(dir, mode: 0o700)
        try Self.writeFile(dir + "/notes.txt", "mine\n")
        try Self.writeFile(dir + "/README.md", "readme\n")
        let error = #expect(throws: BusError.self) { try Bus.create(at: dir) }
        #expect(error?.code == .invalidBus)
        #expect(error?.message.contains("notes.txt") == true)
        #expect(try FileOps.list(dir).sorted() == ["README.md", "notes.txt"])
        #expect(Self.read(dir + "/notes.txt") == "mine\n")

        // A plain file in the way is refused too.
        try Self.writeFile(temp.root + "/plain", "x")
        #expect(throws: BusError.self) { try Bus.create(at: temp.root + "/plain") }
    }

    @Test("Bus.create and Bus.open refuse a bus of another protocol version")
    func createRefusesOtherVersion() throws {
        let temp = try TemporaryBus()
        try Self.writeFile(temp.bus.layout.versionFile, "planbus-bus 2\n")
        let createError = #expect(throws: BusError.self) { try Bus.create(at: temp.path) }
        #expect(createError?.code == .invalidBus)
        #expect(createError?.message.contains("planbus-bus 2") == true)
        let openError = #expect(throws: BusError.self) { try Bus.open(at: temp.path) }
        #expect(openError?.code == .invalidBus)
        #expect(Self.read(temp.bus.layout.versionFile) == "planbus-bus 2\n", "the foreign VERSION is not rewritten")
    }

    @Test("Bus.open refuses a directory without VERSION")
    func openRefusesNonBus() throws {
        let temp = try TemporaryBus()
        let error = #expect(throws: BusError.self) { try Bus.open(at: temp.root) }
        #expect(error?.code == .invalidBus)
    }

    @Test("Bus.create is idempotent on its own bus, and accepts README.md and .gitignore")
    func createIdempotent() throws {
        let temp = try TemporaryBus()
        let dir = temp.root + "/repo-bus"
        try FileOps.makeDirectories(dir, mode: 0o700)
        try Self.writeFile(dir + "/README.md", "# the bus\n")
        try Self.writeFile(dir + "/.gitignore", "*\n!README.md\n")
        var settings = BusSettings.testing
        settings.maxAttempts = 7
        let first = try Bus.create(at: dir, settings: settings, roles: ["alpha"])
        #expect(first.created)
        #expect(Self.read(first.bus.layout.versionFile) == Bus.versionText)
        #expect(FileOps.isDirectory(first.bus.layout.new("alpha")))
        let settingsText = Self.read(first.bus.layout.settingsFile)

        let envelope = Envelope(
            run: "r", kind: "goal", from: try WorkerID.current(role: "tester"), to: "alpha", body: ["n": 1])
        let receipt = try Publisher(bus: first.bus, worker: try WorkerID.current(role: "tester")).publish(envelope)

        var other = BusSettings.testing
        other.maxAttempts = 2
        let second = try Bus.create(at: dir, settings: other, roles: ["alpha", "beta"])
        #expect(!second.created)
        #expect(second.bus.settings.maxAttempts == 7, "the bus's own settings win over the caller's")
        #expect(Self.read(second.bus.layout.settingsFile) == settingsText)
        #expect(FileOps.isDirectory(second.bus.layout.new("beta")), "missing queues are added")
        #expect(FileOps.exists(receipt.path), "existing envelopes are untouched")
        #expect(Self.read(dir + "/README.md") == "# the bus\n")
        #expect(Self.read(dir + "/.gitignore") == "*\n!README.md\n")
        let third = try Bus.create(at: dir, roles: [])
        #expect(!third.created)
        #expect(try third.bus.roles() == ["alpha", "beta"])
    }
}
