import Foundation

/// Faults the test suite injects into a real multi-process run, to show the consistency
/// guards at work. Read from `CONCORD_FAULT`, e.g. `skip-step=5@rank=1` (that rank leaves out
/// every collective of step 5) or `nan-gradient=3@rank=0` (that rank's gradients are NaN at
/// step 3). Unset in normal use.
public struct FaultInjection: Equatable, Sendable {
    /// What goes wrong.
    public enum Kind: String, Sendable {
        /// The rank leaves out the whole step (forward, backward and every collective).
        case skipStep = "skip-step"
        /// The rank's gradients are NaN (its backward pass is seeded with NaN).
        case nanGradient = "nan-gradient"
        /// The checkpoint of that step is written slowly (2 s between its bytes and the
        /// rename), so a test can kill the run mid-write.
        case slowCheckpoint = "slow-checkpoint"
        /// MoCo: the rank kills itself (SIGKILL) half-way through enqueuing that step's keys;
        /// only in a run that did not resume, so a restarted run gets past it.
        case killInEnqueue = "kill-in-enqueue"
    }
    /// The fault.
    public let kind: Kind
    /// The global iteration it happens at.
    public let step: Int
    /// The rank it happens on.
    public let rank: Int

    /// The fault `CONCORD_FAULT` asks for, nil when unset.
    /// - Throws: `CoordinatorError` when it is set but malformed.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> FaultInjection? {
        guard let text = environment["CONCORD_FAULT"], !text.isEmpty else { return nil }
        let parts = text.split(separator: "@")
        let head = parts.first?.split(separator: "=") ?? []
        let tail = parts.count == 2 ? parts[1].split(separator: "=") : []
        guard parts.count == 2, head.count == 2, tail.count == 2, tail[0] == "rank",
              let kind = Kind(rawValue: String(head[0])), let step = Int(head[1]), let rank = Int(tail[1]) else {
            throw CoordinatorError("CONCORD_FAULT '\(text)' is not KIND=STEP@rank=R with KIND skip-step, nan-gradient, slow-checkpoint or kill-in-enqueue; unset it for a normal run")
        }
        return FaultInjection(kind: kind, step: step, rank: rank)
    }

    /// Whether this fault fires at `step` on `rank`.
    public func fires(_ kind: Kind, step: Int, rank: Int) -> Bool {
        self.kind == kind && self.step == step && self.rank == rank
    }
}
