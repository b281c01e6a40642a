/// The element-wise and per-row kernels of the transformer ops — exp and erf eight lanes at
/// a time, GELU, softmax rows, LayerNorm rows — compiled optimised in every build like the
/// other kernels (the debug build's unoptimised generic SIMD would run them lane by lane).
///
/// glibc's scalar `expf` / `erff` cost a function call per element, which made GELU and
/// softmax a quarter of a ViT step; these are polynomial forms within a few float ulps. Only
/// concrete SIMD8 operations are used (arithmetic, comparisons, bit casts): the generic ones
/// (`clamped`, `rounded`, integer conversion) run lane by lane even when optimised.
public enum RowKernels {
    /// e^x per lane (`expLanes`), for tests.
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> { expLanes(x) }

    /// erf(x) per lane (`erfLanes`), for tests.
    public static func erf(_ x: SIMD8<Float>) -> SIMD8<Float> { erfLanes(x) }

    @inline(__always)
    static func expLanes(_ x: SIMD8<Float>) -> SIMD8<Float> {
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
    @inline(__always)
    static func erfLanes(_ x: SIMD8<Float>) -> SIMD8<Float> {
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
        @inline(__always) func step1(_ i: Int, _ count: Int) {
            let v = load(x + i, count)
            store(0.5 * v * (1 + erfLanes(v * 0.707_106_77)), y + i, count)
        }
        forEachLane(n, full: { step1($0, 8) }, tail: { step1($0, $1) })
    }

    /// d (=|+=) g·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π): GELU's backward.
    public static func geluBackward(input x: UnsafePointer<Float>, grad g: UnsafePointer<Float>,
                                    into d: UnsafeMutablePointer<Float>, _ n: Int, accumulate: Bool) {
        @inline(__always) func step2(_ i: Int, _ count: Int) {
            let v = load(x + i, count)
            let slope = 0.5 * (1 + erfLanes(v * 0.707_106_77)) + v * 0.398_942_3 * expLanes(-0.5 * v * v)
            let grad = load(g + i, count) * slope
            store(accumulate ? load(d + i, count) + grad : grad, d + i, count)
        }
        forEachLane(n, full: { step2($0, 8) }, tail: { step2($0, $1) })
    }

    /// x[0..<count] *= factor.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by factor: Float, count: Int) {
        let f = SIMD8<Float>(repeating: factor)
        @inline(__always) func step(_ i: Int, _ n: Int) { store(load(x + i, n) * f, x + i, n) }
        forEachLane(count, full: { step($0, 8) }, tail: { step($0, $1) })
    }

    /// y[r, :] = softmax(x[r, :]) for `rows` rows of `length`; x and y may be the same buffer.
    public static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, length n: Int) {
        for r in 0..<rows {
            let xr = x + r * n, yr = y + r * n
            var mx = -Float.infinity
            for i in 0..<n { mx = max(mx, xr[i]) }
            var sums = SIMD8<Float>()
            @inline(__always) func step3(_ i: Int, _ count: Int) {
                var e = expLanes(load(xr + i, count) - mx)
                for k in count..<8 { e[k] = 0 }   // lanes past the row add nothing
                sums += e
                store(e, yr + i, count)
            }
            forEachLane(n, full: { step3($0, 8) }, tail: { step3($0, $1) })
            let inv = 1 / sums.sum()
            for i in 0..<n { yr[i] *= inv }
        }
    }

    /// dx[r, :] (=|+=) y ⊙ (dy − Σ dy ⊙ y) per row; `into` may be `grad` when not accumulating.
    public static func softmaxRowsBackward(output y: UnsafePointer<Float>, grad g: UnsafePointer<Float>,
                                           into dx: UnsafeMutablePointer<Float>, rows: Int, length n: Int, accumulate: Bool) {
        for r in 0..<rows {
            let yr = y + r * n, gr = g + r * n, dr = dx + r * n
            var dots = SIMD8<Float>()
            @inline(__always) func step4(_ i: Int, _ count: Int) {
                dots += load(gr + i, count) * load(yr + i, count)
            }
            forEachLane(n, full: { step4($0, 8) }, tail: { step4($0, $1) })
            let dot = dots.sum()
            @inline(__always) func step5(_ i: Int, _ count: Int) {
                let v = load(yr + i, count) * (load(gr + i, count) - dot)
                store(accumulate ? load(dr + i, count) + v : v, dr + i, count)
            }
            forEachLane(n, full: { step5($0, 8) }, tail: { step5($0, $1) })
        }
    }

    /// LayerNorm of `rows` rows of `length`: x̂ = (x − μ)·rstd into `xhat`, y = x̂ ⊙ scale + shift,
    /// rstd = 1/√(σ² + eps) per row into `rstd`.
    public static func layerNormRows(_ x: UnsafePointer<Float>, xhat: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                                     rstd: UnsafeMutablePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                     rows: Int, length l: Int, eps: Float) {
        for r in 0..<rows {
            let xr = x + r * l, h = xhat + r * l, out = y + r * l
            var sums = SIMD8<Float>()
            @inline(__always) func step6(_ i: Int, _ n: Int) {
                sums += load(xr + i, n)
            }
            forEachLane(l, full: { step6($0, 8) }, tail: { step6($0, $1) })
            let mu = sums.sum() / Float(l)
            var squares = SIMD8<Float>()
            @inline(__always) func step7(_ i: Int, _ n: Int) {
                var d = load(xr + i, n) - mu
                for k in n..<8 { d[k] = 0 }   // lanes past the row
                squares += d * d
            }
            forEachLane(l, full: { step7($0, 8) }, tail: { step7($0, $1) })
            let rs = 1 / (squares.sum() / Float(l) + eps).squareRoot()
            rstd[r] = rs
            @inline(__always) func step8(_ i: Int, _ n: Int) {
                let hv = (load(xr + i, n) - mu) * rs
                store(hv, h + i, n)
                store(hv * load(scale + i, n) + load(shift + i, n), out + i, n)
            }
            forEachLane(l, full: { step8($0, 8) }, tail: { step8($0, $1) })
        }
    }

    /// LayerNorm's input gradient per row: dx (=|+=) rstd · (g⊙w − mean(g⊙w) − x̂ · mean(g⊙w ⊙ x̂)).
    public static func layerNormRowsBackward(grad g: UnsafePointer<Float>, xhat: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                             scale: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                                             rows: Int, length l: Int, accumulate: Bool) {
        for r in 0..<rows {
            let gr = g + r * l, h = xhat + r * l, d = dx + r * l
            var sumG = SIMD8<Float>(), sumGX = SIMD8<Float>()
            @inline(__always) func step9(_ i: Int, _ n: Int) {
                let gw = load(gr + i, n) * load(scale + i, n)
                sumG += gw
                sumGX += gw * load(h + i, n)
            }
            forEachLane(l, full: { step9($0, 8) }, tail: { step9($0, $1) })
            let meanG = sumG.sum() / Float(l), meanGX = sumGX.sum() / Float(l), rs = rstd[r]
            @inline(__always) func step10(_ i: Int, _ n: Int) {
                let v = rs * (load(gr + i, n) * load(scale + i, n) - meanG - load(h + i, n) * meanGX)
                store(accumulate ? load(d + i, n) + v : v, d + i, n)
            }
            forEachLane(l, full: { step10($0, 8) }, tail: { step10($0, $1) })
        }
    }

    /// Runs `full(start)` for each whole step of eight in 0..<n, then `tail(start, lanes)` for
    /// what is left. Callers pass local `@inline(__always)` functions: a closure body handed
    /// in directly is outlined and called per step with a variable count, and the compiler
    /// then splits every SIMD8 into SSE halves and scalars (GELU ran at 10 cycles an element).
    @inline(__always)
    static func forEachLane(_ n: Int, full: (Int) -> Void, tail: (Int, Int) -> Void) {
        var i = 0
        while i + 8 <= n { full(i); i += 8 }
        if i < n { tail(i, n - i) }
    }

    /// Up to eight floats from `p` (missing lanes 0).
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD8<Float> {
        if count == 8 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        var v = SIMD8<Float>()
        for k in 0..<count { v[k] = p[k] }
        return v
    }

    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> SIMD8<Float> { load(UnsafePointer(p), count) }

    /// The first `count` lanes of `v` to `p`.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count == 8 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self); return }
        for k in 0..<count { p[k] = v[k] }
    }
}
