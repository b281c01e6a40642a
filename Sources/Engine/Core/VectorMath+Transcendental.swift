/// exp and erf eight lanes at a time, and the GELU and softmax loops built on them.
///
/// glibc's scalar `expf` / `erff` cost a function call per element, which made GELU and
/// softmax a quarter of a ViT step; these are polynomial forms accurate to a few float ulps.
extension VectorMath {
    /// e^x per lane: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial (Cephes'
    /// `expf` coefficients), times 2^n built in the exponent bits. Below −87.3 gives 0,
    /// above 88 gives +∞ (the engine only takes it of arguments ≤ 0).
    @inlinable
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Only concrete SIMD8 operations (arithmetic, comparisons, bit casts): the generic
        // ones (`clamped`, `rounded`, integer conversion) run lane by lane.
        var c = x
        c.replace(with: SIMD8(repeating: -87.3), where: c .< -87.3)
        c.replace(with: SIMD8(repeating: 88), where: c .> 88)
        // n = round(c / ln 2) by the 1.5·2²³ trick, which also leaves n in the low bits.
        let shifted = c * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        var r = c - n * 0.693_359_375   // ln 2 split in two for an exact first product
        r = r + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * r * r + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &* 8_388_608   // (n + 127) << 23
        var y = p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
        y.replace(with: 0, where: x .< -87.3)
        y.replace(with: .infinity, where: x .> 88)
        return y
    }

    /// erf(x) per lane: Eigen's rational approximation on x clamped to [−4, 4] (within 1e-6
    /// relative of glibc's, and 1 − 1e-7 at the clamp).
    @inlinable
    public static func erf(_ x: SIMD8<Float>) -> SIMD8<Float> {
        var c = x
        c.replace(with: SIMD8(repeating: -4), where: c .< -4)
        c.replace(with: SIMD8(repeating: 4), where: c .> 4)
        let c2 = c * c
        var p = SIMD8<Float>(repeating: -2.726_142_3e-10)
        p = p * c2 + 2.770_681_4e-8
        p = p * c2 - 2.101_024e-6
        p = p * c2 - 5.692_506_4e-5
        p = p * c2 - 7.349_906_3e-4
        p = p * c2 - 2.954_599_8e-3
        p = p * c2 - 1.609_603_3e-2
        p = p * c
        var q = SIMD8<Float>(repeating: -1.456_607_2e-5)
        q = q * c2 - 2.133_740_6e-4
        q = q * c2 - 1.682_827e-3
        q = q * c2 - 7.373_329e-3
        q = q * c2 - 1.426_474e-2
        return p / q
    }

    /// y = x·Φ(x) = x/2·(1 + erf(x/√2)) over n floats.
    public static func gelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        forEachLane(n) { i, count in
            let v = load(x + i, count)
            store(0.5 * v * (1 + erf(v * 0.707_106_77)), y + i, count)
        }
    }

    /// d (=|+=) g·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π): GELU's backward.
    public static func geluBackward(input x: UnsafePointer<Float>, grad g: UnsafePointer<Float>,
                                    into d: UnsafeMutablePointer<Float>, _ n: Int, accumulate: Bool) {
        forEachLane(n) { i, count in
            let v = load(x + i, count)
            let slope = 0.5 * (1 + erf(v * 0.707_106_77)) + v * 0.398_942_3 * exp(-0.5 * v * v)
            let grad = load(g + i, count) * slope
            store(accumulate ? load(UnsafePointer(d + i), count) + grad : grad, d + i, count)
        }
    }

    /// Runs `body(start, lanes)` over 0..<n in steps of eight; the last step may be shorter.
    @inlinable
    static func forEachLane(_ n: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < n { body(i, min(8, n - i)); i += 8 }
    }

    /// Up to eight floats from `p` (missing lanes 0).
    @inlinable
    static func load(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD8<Float> {
        if count == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        var v = SIMD8<Float>()
        for k in 0..<count { v[k] = p[k] }
        return v
    }

    /// The first `count` lanes of `v` to `p`.
    @inlinable
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self); return }
        for k in 0..<count { p[k] = v[k] }
    }
}
