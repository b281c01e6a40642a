import EngineKernels
import EngineKernelsAVX512
import Foundation

/// Where a training step's time goes, op by op (`concord bench --profile`).
///
/// Off unless `isEnabled`: an op then costs one branch. When on, an op's forward time is the
/// wall time since the previous op was recorded (or since `markNow()`), so module glue
/// counts towards the op it leads to; its backward time is its backward closure's; named
/// phases outside the tape (the optimizer, the gradient reduce) are timed with `measure`.
/// GEMM-like ops also count their floating-point operations, so the table can say what
/// fraction of the CPU's multiply-add peak each reaches.
///
/// The training thread alone records; the profile is process-global, like the tape.
public enum OpProfile {
    /// Time, calls and floating-point operations of one op in one direction.
    public struct Entry: Sendable {
        public var seconds = 0.0
        public var calls = 0
        public var flops = 0.0
    }

    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public private(set) static var entries: [String: Entry] = [:]
    nonisolated(unsafe) static var mark = 0.0

    /// Clears the table and starts a forward interval.
    public static func reset() {
        entries = [:]
        mark = now()
    }

    /// Starts a forward interval: time spent before this does not count towards the next op.
    public static func markNow() {
        if isEnabled { mark = now() }
    }

    /// Runs `body`, counting its time under `name` (and the forward interval restarts after it).
    @discardableResult
    public static func measure<T>(_ name: String, flops: Double = 0, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let t0 = now()
        let result = try body()
        let t1 = now()
        add(name, seconds: t1 - t0, flops: flops)
        mark = t1
        return result
    }

    /// An op was just recorded: the time since the last mark was its forward pass.
    static func forwardDone(_ op: StaticString, flops: Double) {
        let t = now()
        add("\(op)", direction: "forward", seconds: t - mark, flops: flops)
        mark = t
    }

    /// Times one backward closure.
    static func backward(_ op: StaticString, flops: Double, _ body: () -> Void) {
        let t0 = now()
        body()
        let t1 = now()
        add("\(op)", direction: "backward", seconds: t1 - t0, flops: flops)
        mark = t1
    }

    static func add(_ op: String, direction: String, seconds: Double, flops: Double) {
        add(op + "." + direction, seconds: seconds, flops: flops)
    }

    static func add(_ name: String, seconds: Double, flops: Double) {
        var e = entries[name] ?? Entry()
        e.seconds += seconds
        e.calls += 1
        e.flops += flops
        entries[name] = e
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// The core's multiply-add peak in GFLOP/s on the vector width the kernels use, timed
    /// over about a fifth of a second (twelve independent FMA chains).
    public static func fmaPeakGFLOPs() -> Double {
        let iterations = 20_000_000
        var best = 0.0
        for _ in 0..<3 {
            let t0 = now()
            let (sink, flops): (Float, Int) = ShiftedGemm.kernels == .avx512
                ? (FMALoopAVX512.run(iterations: iterations), FMALoopAVX512.flopsPerIteration)
                : (FMALoopAVX2.run(iterations: iterations), FMALoopAVX2.flopsPerIteration)
            let seconds = now() - t0
            if sink.isFinite { best = max(best, Double(flops) * Double(iterations) / seconds / 1e9) }
        }
        return best
    }

    /// The table, slowest first: milliseconds per step, share of the step, GFLOP/s and the
    /// fraction of `peak` for ops that count their work.
    public static func table(steps: Int, stepSeconds: Double, peak: Double) -> String {
        func row(_ name: String, _ seconds: Double, _ flops: Double) -> String {
            var line = name.padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(format: " %9.2f %6.1f%%", seconds * 1000, 100 * seconds / stepSeconds)
            if flops > 0 {
                let rate = flops / seconds / 1e9
                line += String(format: " %8.1f %6.0f%%", rate, 100 * rate / peak)
            }
            return line
        }
        var lines = ["op".padding(toLength: 28, withPad: " ", startingAt: 0) + "   ms/step   share  GFLOP/s  of peak"]
        var listed = 0.0
        for (name, e) in entries.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            lines.append(row(name, e.seconds / Double(steps), e.flops / Double(steps)))
            listed += e.seconds / Double(steps)
        }
        lines.append(row("(not attributed)", stepSeconds - listed, 0))
        lines.append(String(format: "multiply-add peak of one core: %.1f GFLOP/s", peak)
                     + (ShiftedGemm.kernels == .avx512 ? " (AVX-512 vectors)" : " (AVX2 vectors)"))
        return lines.joined(separator: "\n")
    }
}
