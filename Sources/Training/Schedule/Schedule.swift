import Foundation

/// A hyper-parameter schedule: a pure function of the global iteration, made of segments that
/// run one after another, each behaving like the PyTorch scheduler of the same name stepped
/// once per iteration. Usable for the learning rate, weight decay or EMA momentum.
///
/// ```swift
/// let lr = Schedule(base: 0.1, segments: [.linearWarmup(iterations: 469, startFactor: 0.1),
///                                         .cosine(iterations: 6566, final: 0)])
/// lr.value(at: 0)     // 0.01
/// lr.value(at: 469)   // 0.1
/// ```
public struct Schedule: Equatable, Sendable {
    public enum Segment: Equatable, Sendable {
        /// LinearLR: factor goes from `startFactor` to 1 over `iterations`.
        case linearWarmup(iterations: Int, startFactor: Double)
        /// Exponential warm-up: factor grows geometrically from `startFactor` (> 0) to 1.
        case exponentialWarmup(iterations: Int, startFactor: Double)
        /// PolynomialLR: base → `final` as (1 − t/iterations)^power.
        case polynomial(iterations: Int, power: Double, final: Double)
        /// CosineAnnealingLR from the base down to `final` over `iterations`.
        case cosine(iterations: Int, final: Double)
        /// The base value for `iterations` (nil: for ever).
        case constant(iterations: Int?)
        /// MultiStepLR: × gamma at each milestone (iterations counted from the segment start).
        case multistep(milestones: [Int], gamma: Double, iterations: Int?)
        /// StepLR: × gamma every `stepSize` iterations.
        case step(stepSize: Int, gamma: Double, iterations: Int?)
        /// CosineAnnealingWarmRestarts (SGDR): cycles of t0, t0·tMult, … down to `final`.
        case cosineRestarts(t0: Int, tMult: Int, final: Double, iterations: Int?)

        /// Length in iterations, or nil for an open-ended (last) segment.
        public var length: Int? {
            switch self {
            case .linearWarmup(let n, _), .exponentialWarmup(let n, _), .cosine(let n, _), .polynomial(let n, _, _): return n
            case .constant(let n), .multistep(_, _, let n), .step(_, _, let n), .cosineRestarts(_, _, _, let n): return n
            }
        }

        func value(base: Double, at i: Int) -> Double {
            switch self {
            case .linearWarmup(let n, let start):
                return base * (start + (1 - start) * min(Double(i), Double(n)) / Double(max(n, 1)))
            case .exponentialWarmup(let n, let start):
                let f = max(start, 1e-12)
                return base * pow(f, 1 - min(Double(i), Double(n)) / Double(max(n, 1)))
            case .polynomial(let n, let power, let final):
                let remaining = 1 - min(Double(i), Double(n)) / Double(max(n, 1))
                return final + (base - final) * pow(remaining, power)
            case .cosine(let n, let final):
                let t = min(Double(i), Double(n))
                return final + (base - final) * (1 + cos(Double.pi * t / Double(max(n, 1)))) / 2
            case .constant:
                return base
            case .multistep(let milestones, let gamma, _):
                return base * pow(gamma, Double(milestones.filter { $0 <= i }.count))
            case .step(let size, let gamma, _):
                return base * pow(gamma, Double(i / max(size, 1)))
            case .cosineRestarts(let t0, let tMult, let final, _):
                var cycle = max(t0, 1), t = i
                while t >= cycle { t -= cycle; cycle *= max(tMult, 1) }
                return final + (base - final) * (1 + cos(Double.pi * Double(t) / Double(cycle))) / 2
            }
        }
    }

    /// The value segments scale (warm-ups start from a fraction of it).
    public let base: Double
    /// Segments in order; the last one's value holds past its end.
    public let segments: [Segment]

    /// Iterations at which a segment begins (0 first), for printing a schedule's key points.
    public var boundaries: [Int] {
        var out = [0], start = 0
        for seg in segments.dropLast() { start += seg.length ?? 0; out.append(start) }
        return out
    }

    public init(base: Double, segments: [Segment]) {
        self.base = base
        self.segments = segments
    }

    /// The value used at global iteration `iteration` (0-based). Past the last segment's end
    /// the last segment's final value holds.
    public func value(at iteration: Int) -> Double {
        var start = 0
        for (k, seg) in segments.enumerated() {
            let isLast = k == segments.count - 1
            if let n = seg.length, !isLast, iteration >= start + n { start += n; continue }
            return seg.value(base: base, at: iteration - start)
        }
        return base
    }
}
