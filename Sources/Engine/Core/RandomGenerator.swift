import Foundation

/// A small, fast, reproducible random generator (xoshiro256**, seeded through SplitMix64).
///
/// Its whole state is four words, so checkpoints can save and restore it exactly.
public struct RandomGenerator: RandomNumberGenerator, Codable, Equatable, Sendable {
    public var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Seeds the generator; equal seeds give equal streams.
    public init(seed: UInt64) {
        var z = seed
        var s = [UInt64](repeating: 0, count: 4)
        for i in 0..<4 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            s[i] = x ^ (x >> 31)
        }
        (s0, s1, s2, s3) = (s[0], s[1], s[2], s[3])
    }

    /// An independent stream derived from this seed and a stream index.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03) &+ stream)
    }

    /// What a stream is for. Each purpose has its own range of stream indices, so the epoch-3
    /// sampler permutation can never equal rank 3's augmentation stream or the weight init.
    public enum Purpose: UInt64, Sendable {
        case initialization = 1, samplerEpoch, augmentation, dropout, keyShuffle, masking, dataSplit
    }

    /// The stream for `purpose` number `index` (an epoch, a rank, a layer) under `seed`.
    public init(seed: UInt64, purpose: Purpose, index: UInt64 = 0) {
        self.init(seed: seed, stream: purpose.rawValue << 40 | (index & 0xFF_FFFF_FFFF))
    }

    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inlinable func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1).
    @inlinable public mutating func uniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with double precision.
    @inlinable public mutating func uniformDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in 0..<bound.
    @inlinable public mutating func int(below bound: Int) -> Int {
        Int(next(upperBound: UInt64(bound)))
    }

    /// Fills `count` floats with N(mean, std²) samples (Box–Muller, two per draw).
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int, mean: Float, std: Float) {
        var i = 0
        while i < count {
            let u1 = max(uniformDouble(), 1e-300)
            let u2 = uniformDouble()
            let r = (-2 * Foundation.log(u1)).squareRoot()
            p[i] = mean + std * Float(r * cos(2 * .pi * u2))
            if i + 1 < count { p[i + 1] = mean + std * Float(r * sin(2 * .pi * u2)) }
            i += 2
        }
    }

    /// Fills `count` floats uniformly from [low, high).
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Float>, count: Int, low: Float, high: Float) {
        for i in 0..<count { p[i] = low + (high - low) * uniform() }
    }

    /// A uniformly random permutation of 0..<n (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        if n < 2 { return a }
        for i in stride(from: n - 1, to: 0, by: -1) {
            a.swapAt(i, int(below: i + 1))
        }
        return a
    }
}
