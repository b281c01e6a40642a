import Engine
import Foundation

extension CollectiveBench {
    /// The latency–bandwidth model of the network an allreduce runs on, fitted to measured
    /// times: one allreduce of m bytes over p ranks takes `a + b·m` seconds; read as a ring
    /// allreduce, 2(p − 1) messages of latency α and 2(p − 1)/p · m bytes at β seconds a byte.
    public struct LatencyBandwidth: Sendable {
        /// Seconds per allreduce regardless of size, and seconds per byte of the buffer.
        public let a: Double, b: Double
        /// Ranks measured.
        public let ranks: Int
        /// Per-message latency α = a / 2(p − 1), in seconds.
        public var alpha: Double { ranks > 1 ? a / Double(2 * (ranks - 1)) : 0 }
        /// Inverse link bandwidth β = b · p / 2(p − 1), in seconds per byte.
        public var beta: Double { ranks > 1 ? b * Double(ranks) / Double(2 * (ranks - 1)) : 0 }

        /// Least squares of the times relative to each measurement (so 8-byte and 64-MiB
        /// messages count alike), over (bytes, seconds) pairs.
        public init(fitting points: [(bytes: Int, seconds: Double)], ranks: Int) {
            var s = [Double](repeating: 0, count: 5)   // Σw, Σw·m, Σw·m², Σw·t, Σw·m·t
            for (bytes, t) in points where t > 0 {
                let (m, w) = (Double(bytes), 1 / (t * t))
                s[0] += w; s[1] += w * m; s[2] += w * m * m; s[3] += w * t; s[4] += w * m * t
            }
            let det = s[0] * s[2] - s[1] * s[1]
            let b = det > 0 ? (s[0] * s[4] - s[1] * s[3]) / det : 0
            (self.a, self.b, self.ranks) = (max(0, (s[3] - b * s[1]) / max(s[0], .leastNormalMagnitude)), max(0, b), ranks)
        }
    }

    /// Sizes from 4 bytes to 64 MiB, doubling: small ones show the latency, large ones the bandwidth.
    public static let sweepSizes: [Int] = (2...26).map { 1 << $0 }

    /// Seconds per allreduce for every size (best of three timed rounds, slowest rank), and
    /// the fitted model (collective: all ranks call it).
    public static func sweep(_ world: Communicator, sizes: [Int] = sweepSizes) throws -> (times: [(bytes: Int, seconds: Double)], fit: LatencyBandwidth) {
        var times: [(bytes: Int, seconds: Double)] = []
        for bytes in sizes {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, bytes / 4))
            defer { buffer.deallocate() }
            buffer.initialize(repeating: 0)
            // Repetitions for about 0.2 s a round, from one timed call (the same on every rank).
            var probe = [0.0]
            try world.barrier()
            let p0 = MonotonicClock.seconds()
            try world.allreduce(buffer, op: .sum)
            probe[0] = MonotonicClock.seconds() - p0
            try probe.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .max) }
            let reps = min(2000, max(3, Int(0.2 / max(probe[0], 1e-7))))
            var best = Double.infinity
            for round in 0..<4 {
                try world.barrier()
                let t0 = MonotonicClock.seconds()
                for _ in 0..<reps { try world.allreduce(buffer, op: .sum) }
                if round > 0 { best = min(best, (MonotonicClock.seconds() - t0) / Double(reps)) }
            }
            var slowest = [best]
            try slowest.withUnsafeMutableBufferPointer { try world.allreduce($0, op: .max) }
            times.append((bytes, slowest[0]))
        }
        return (times, LatencyBandwidth(fitting: times, ranks: world.size))
    }
}
