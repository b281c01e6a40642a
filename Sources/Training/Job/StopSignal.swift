import Foundation

/// SIGTERM / SIGINT as a request to stop at the next step boundary: the trainer saves a
/// checkpoint and ends with `TrainingStopped` (preemption) instead of dying mid-write.
public enum StopSignal {
    nonisolated(unsafe) private static var signalNumber: Int32 = 0

    /// The signal received, if any.
    public static var received: Int32? { signalNumber == 0 ? nil : signalNumber }

    /// Installs the handlers. A second signal of the same kind ends the process at once.
    public static func install() {
        signalNumber = 0   // initialised here, never first inside a handler
        for s in [SIGTERM, SIGINT] {
            signal(s) { number in
                if StopSignal.signalNumber != 0 { _exit(128 + number) }
                StopSignal.signalNumber = number
            }
        }
    }
}

/// Training stopped on request after saving a checkpoint.
public struct TrainingStopped: Error, CustomStringConvertible {
    /// The signal that asked for it.
    public let signal: Int32
    /// Iterations completed (the checkpoint's).
    public let iteration: Int

    public var description: String {
        "stopped by \(signal == SIGINT ? "SIGINT" : "SIGTERM") at iteration \(iteration) after saving a checkpoint; continue with --resume auto"
    }
}
