extension Bus {
    /// The file bytes of `envelope` as published on this bus: encoded, and signed when the bus
    /// signs envelopes.
    /// - Throws: ``BusError`` `invalidEnvelope` when the envelope breaks a limit, the signature
    ///   included.
    public func envelopeBytes(_ envelope: Envelope) throws(BusError) -> [UInt8] {
        let bytes = try envelope.encoded(limits: settings.limits)
        guard let signer else { return bytes }
        let signed = try signer.sign(bytes)
        guard signed.count <= settings.maxEnvelopeBytes else {
            throw BusError(
                .invalidEnvelope,
                "envelope is \(signed.count) bytes signed, over the \(settings.maxEnvelopeBytes)-byte limit")
        }
        return signed
    }

    /// Why the envelope file `bytes` may not be delivered on this bus (`unsigned …` or
    /// `bad signature …`), or `nil` when it may: always `nil` on a bus that does not sign.
    public func signatureProblem(_ bytes: [UInt8]) -> String? {
        signer?.problem(in: bytes)
    }
}
