import Engine
import Foundation

/// Ends a process whose collective has waited longer than a time limit, naming the rank that
/// went silent and the step — instead of every rank waiting forever for one that hung
/// (stopped, looping, or cut off without the connection failing).
///
/// The communicator marks each blocking call (`waiting`); a background thread checks the mark
/// and, every few seconds, writes this rank's heartbeat — step, whether it is waiting in a
/// collective, the time — into a directory every rank writes to (the run directory's
/// `heartbeats/`). A rank whose wait runs past the limit reads the others' heartbeats: a rank
/// not waiting in this step's collective, or whose heartbeat stopped, is the silent one. It
/// then prints one line and exits with status 1, which ends the job under mpirun and lets
/// `launch/supervise` restart it from the last checkpoint.
public final class CollectiveWatchdog: @unchecked Sendable {
    /// The limit in seconds.
    public let timeout: Double
    let rank: Int, size: Int
    let heartbeats: String?
    private let lock = NSLock()
    private var step = 0
    private var waitingSince: Double?
    private var operation = ""
    private var thread: Thread?

    /// A watchdog for rank `rank` of `size`; heartbeats go to `heartbeats` (nil: none, so
    /// the silent rank cannot be named).
    public init(rank: Int, size: Int, timeout: Double, heartbeats: String?) {
        precondition(timeout > 0, "CollectiveWatchdog: timeout \(timeout)")
        (self.rank, self.size, self.timeout, self.heartbeats) = (rank, size, timeout, heartbeats)
        if let heartbeats { try? FileManager.default.createDirectory(atPath: heartbeats, withIntermediateDirectories: true) }
        let thread = Thread { [weak self] in self?.watch() }
        thread.name = "concord-watchdog"
        self.thread = thread
        thread.start()
    }

    /// The global iteration the rank is at (named in the report).
    public func setStep(_ iteration: Int) {
        lock.lock(); step = iteration; lock.unlock()
    }

    /// Runs the blocking `body` (the MPI call `name`) under `watchdog`'s limit, or as it is
    /// when there is none.
    static func waiting<T>(under watchdog: CollectiveWatchdog?, _ name: String, _ body: () throws -> T) rethrows -> T {
        guard let watchdog else { return try body() }
        return try watchdog.waiting(name, body)
    }

    /// Runs the blocking `body` (the MPI call `name`) under the time limit.
    func waiting<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        lock.lock(); waitingSince = MonotonicClock.seconds(); operation = name; lock.unlock()
        defer { lock.lock(); waitingSince = nil; lock.unlock() }
        return try body()
    }

    /// Seconds between heartbeats and checks.
    var interval: Double { min(max(timeout / 5, 0.2), 5) }

    private func watch() {
        writeHeartbeat(step: 0, waiting: false)
        while true {
            Thread.sleep(forTimeInterval: interval)
            lock.lock()
            let (since, step, operation) = (waitingSince, self.step, self.operation)
            lock.unlock()
            writeHeartbeat(step: step, waiting: since != nil)
            if let since {
                let waited = MonotonicClock.seconds() - since
                if waited > timeout { report(step: step, operation: operation, waited: waited) }
            }
        }
    }

    private func writeHeartbeat(step: Int, waiting: Bool) {
        guard let heartbeats else { return }
        let text = "\(step) \(waiting ? "waiting" : "working") \(Date().timeIntervalSince1970)\n"
        try? Data(text.utf8).write(to: URL(fileURLWithPath: "\(heartbeats)/rank-\(rank)"), options: .atomic)
    }

    /// Prints which ranks are silent and ends the process.
    private func report(step: Int, operation: String, waited: Double) -> Never {
        var silent: [String] = []
        if let heartbeats {
            let now = Date().timeIntervalSince1970
            for other in 0..<size where other != rank {
                guard let text = FileBytes.text("\(heartbeats)/rank-\(other)") else {
                    silent.append("rank \(other) (no heartbeat at all: stopped at once, or on a node without \(heartbeats))")
                    continue
                }
                let fields = text.split(separator: " ")
                let theirStep = fields.first.flatMap { Int($0) } ?? -1
                let age = fields.count == 3 ? now - (Double(fields[2].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) : .infinity
                if age > max(3 * interval, 1) {   // three heartbeats missed
                    silent.append("rank \(other) (no heartbeat for \(Int(age)) s: stopped or its node lost)")
                } else if theirStep != step || fields.count < 2 || fields[1] != "waiting" {
                    silent.append("rank \(other) (\(fields.count > 1 && fields[1] == "waiting" ? "waiting at step \(theirStep)" : "busy in step \(theirStep), not in the collective"))")
                }
            }
        }
        let who = silent.isEmpty ? "no other rank could be named" : "silent: " + silent.joined(separator: ", ")
        FileHandle.standardError.write(Data("concord: rank \(rank): step \(step): \(operation) waited \(Int(waited)) s, past distributed.timeout_s \(Self.format(timeout)); \(who); ending the job (rank 0's last checkpoint is intact; launch/supervise restarts from it)\n".utf8))
        _exit(1)
    }

    private static func format(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
}
