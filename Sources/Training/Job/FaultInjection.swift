import Foundation

/// A fault the test suite injects into a real multi-process run, to show the consistency
/// guards and exact resume at work: one object, built from `CONCORD_FAULT` by the command
/// line and handed to what it affects (nil in every normal run).
///
/// `CONCORD_FAULT` reads `KIND=STEP@rank=R`, e.g. `skip-step=5@rank=1` (that rank leaves out
/// every collective of step 5) or `nan-gradient=3@rank=0` (that rank's gradients are NaN at
/// step 3).
public struct FaultInjection: Equatable, Sendable {
    /// What goes wrong.
    public enum Kind: String, Sendable, CaseIterable {
        /// The rank leaves out the whole step (forward, backward and every collective).
        case skipStep = "skip-step"
        /// The rank's gradients are NaN (its backward pass is seeded with NaN).
        case nanGradient = "nan-gradient"
        /// The checkpoint of that step is written slowly (2 s between its bytes and the
        /// rename), so a test can kill the run mid-write.
        case slowCheckpoint = "slow-checkpoint"
        /// MoCo: the rank dies (SIGKILL) half-way through enqueuing that step's keys; never
        /// in a resumed run, so the restarted run gets past it.
        case killInEnqueue = "kill-in-enqueue"
        /// The rank dies (SIGKILL) right after that step's optimizer step, before anything is
        /// saved; never in a resumed run.
        case killAfterStep = "kill-after-step"
        /// The rank loops forever at the start of that step (alive, never reaching the
        /// collective); never in a resumed run.
        case hangAtStep = "hang-at-step"
        /// The rank stops itself (SIGSTOP) at the start of that step, as a process frozen by
        /// its node would; never in a resumed run.
        case stopAtStep = "stop-at-step"
        /// The rank does not see the run directory (as a node without the shared storage
        /// would); STEP is ignored.
        case hiddenRunDirectory = "hidden-run-dir"
    }
    /// The fault.
    public let kind: Kind
    /// The global iteration it happens at.
    public let step: Int
    /// The rank it happens on.
    public let rank: Int

    /// The fault `CONCORD_FAULT` asks for, nil when it is unset or empty.
    /// - Throws: `TrainingError` when it is set but malformed.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> FaultInjection? {
        guard let text = environment["CONCORD_FAULT"], !text.isEmpty else { return nil }
        let parts = text.split(separator: "@")
        let head = parts.first?.split(separator: "=") ?? []
        let tail = parts.count == 2 ? parts[1].split(separator: "=") : []
        guard parts.count == 2, head.count == 2, tail.count == 2, tail[0] == "rank",
              let kind = Kind(rawValue: String(head[0])), let step = Int(head[1]), let rank = Int(tail[1]) else {
            let kinds = Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw TrainingError("CONCORD_FAULT '\(text)' is not KIND=STEP@rank=R with KIND one of \(kinds); unset it for a normal run")
        }
        return FaultInjection(kind: kind, step: step, rank: rank)
    }

    /// The fault as this process sees it: itself on its target rank, nil elsewhere — and nil
    /// for a one-time crash in a run that resumed from a checkpoint.
    public func onRank(_ rank: Int, resumed: Bool) -> FaultInjection? {
        guard rank == self.rank, !(resumed && [.killInEnqueue, .killAfterStep, .hangAtStep, .stopAtStep].contains(kind)) else { return nil }
        return self
    }

    /// Whether this fault is `kind` at `step`.
    public func fires(_ kind: Kind, at step: Int) -> Bool { self.kind == kind && self.step == step }

    /// Hangs this process at `step` as the fault says: an endless loop, or SIGSTOP.
    public func hangIfDue(at step: Int) {
        guard self.step == step, kind == .hangAtStep || kind == .stopAtStep else { return }
        FileHandle.standardError.write(Data("concord: rank \(rank): fault injection: \(kind.rawValue) \(step)\n".utf8))
        if kind == .stopAtStep { kill(getpid(), SIGSTOP); return }
        var spins: UInt64 = 0
        while true {   // busy for good: the others' watchdog ends the job
            spins &+= 1
            if spins & 0xFF_FFFF == 0 { sched_yield() }
        }
    }

    /// Ends the process at once with SIGKILL, as a crash would, after saying so on stderr.
    public func crash(_ what: String) -> Never {
        FileHandle.standardError.write(Data("concord: rank \(rank): fault injection: \(what)\n".utf8))
        kill(getpid(), SIGKILL)
        _exit(128 + SIGKILL)   // not reached: SIGKILL cannot be caught
    }
}
