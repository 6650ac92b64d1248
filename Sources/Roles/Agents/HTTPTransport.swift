import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP response, headers lower-cased.
struct HTTPExchange: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data
}

/// Why an HTTP request got no response.
enum HTTPTransportFailure: Error, Sendable, Equatable {
    /// The deadline passed first; the request was cancelled.
    case timedOut
    /// The connection failed (refused, reset, DNS…); the text says how.
    case failed(String)
}

/// Sends one request with URLSession and a hard deadline: when it passes, the request is
/// cancelled and the answer is ``HTTPTransportFailure/timedOut``, whatever the server does.
enum HTTPTransport {
    static func send(_ request: URLRequest, timeout: Duration) async -> Result<HTTPExchange, HTTPTransportFailure> {
        let (whole, fraction) = timeout.components
        let seconds = max(0.001, Double(whole) + Double(fraction) / 1e18)
        var request = request
        request.timeoutInterval = seconds + 1
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = seconds + 1
        configuration.timeoutIntervalForResource = seconds + 1
        let session = URLSession(configuration: configuration)
        defer { session.invalidateAndCancel() }
        let once = HTTPOnce()
        return await withCheckedContinuation { continuation in
            let task = session.dataTask(with: request) { data, response, error in
                guard once.claim() else { return }
                if let error {
                    let timedOut = (error as? URLError)?.code == .timedOut
                    continuation.resume(
                        returning: .failure(timedOut ? .timedOut : .failed("\(error.localizedDescription)")))
                    return
                }
                guard let http = response as? HTTPURLResponse else {
                    continuation.resume(returning: .failure(.failed("no HTTP response")))
                    return
                }
                var headers: [String: String] = [:]
                for (key, value) in http.allHeaderFields {
                    if let key = key as? String { headers[key.lowercased()] = "\(value)" }
                }
                continuation.resume(
                    returning: .success(HTTPExchange(status: http.statusCode, headers: headers, body: data ?? Data())))
            }
            let cancel = DispatchWorkItem {
                guard once.claim() else { return }
                task.cancel()
                continuation.resume(returning: .failure(.timedOut))
            }
            once.timer = cancel
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: cancel)
            task.resume()
        }
    }
}

/// Lets exactly one of a response and a deadline finish a request.
private final class HTTPOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    var timer: DispatchWorkItem? {
        get { lock.withLock { storedTimer } }
        set { lock.withLock { storedTimer = newValue } }
    }
    private var storedTimer: DispatchWorkItem?

    func claim() -> Bool {
        lock.withLock {
            guard !done else { return false }
            done = true
            storedTimer?.cancel()
            return true
        }
    }
}
