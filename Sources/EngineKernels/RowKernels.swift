/// The element-wise and per-row kernels of the transformer ops — exp and erf eight lanes at
/// a time, GELU, softmax rows, LayerNorm rows — compiled optimised in every build like the
/// other kernels (the debug build's unoptimised generic SIMD would run them lane by lane).
///
/// glibc's scalar `expf` / `erff` cost a function call per element, which made GELU and
/// softmax a quarter of a ViT step; these are polynomial forms within a few float ulps. Only
/// concrete SIMD8 operations are used (arithmetic, comparisons, bit casts): the generic ones
/// (`clamped`, `rounded`, integer conversion) run lane by lane even when optimised.
public enum RowKernels {
    typealias V8 = SIMD8<Float>

    /// e^x per lane (`expLanes`), for tests.
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> { expLanes(x) }

    /// erf(x) per lane (`erfLanes`), for tests.
    public static func erf(_ x: SIMD8<Float>) -> SIMD8<Float> { erfLanes(x) }

    /// Polynomials run as fused multiply-adds (Horner): half the instructions of a multiply
    /// then an add, and one rounding per step.
    @_transparent
    static func expLanes(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias V = SIMD8<Float>
        var c = x
        c.replace(with: V(repeating: -87.3), where: c .< -87.3)
        c.replace(with: V(repeating: 88), where: c .> 88)
        // n = round(c / ln 2) by the 1.5·2²³ trick, which also leaves n in the low bits.
        let shifted = V(repeating: 12_582_912).addingProduct(c, V(repeating: 1.442_695_04))
        let n = shifted - 12_582_912
        var r = c.addingProduct(n, V(repeating: -0.693_359_375))   // ln 2 split in two
        r = r.addingProduct(n, V(repeating: 2.121_944_4e-4))
        var p = V(repeating: 1.398_199_95e-3).addingProduct(V(repeating: 1.987_569_15e-4), r)
        p = V(repeating: 8.333_451_9e-3).addingProduct(p, r)
        p = V(repeating: 4.166_579_6e-2).addingProduct(p, r)
        p = V(repeating: 1.666_666_55e-1).addingProduct(p, r)
        p = V(repeating: 5.000_000_12e-1).addingProduct(p, r)
        p = (r + 1).addingProduct(p, r * r)
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &* 8_388_608   // (n + 127) << 23
        var y = p * unsafeBitCast(exponent, to: V.self)
        y.replace(with: 0, where: x .< -87.3)
        y.replace(with: .infinity, where: x .> 88)
        return y
    }

    /// erf(x) per lane: Eigen's rational approximation on x clamped to [−4, 4] (within 1e-6
    /// relative of glibc's, and 1 − 1e-7 at the clamp).
    @inline(__always)
    static func erfLanes(_ x: SIMD8<Float>) -> SIMD8<Float> {
        typealias V = SIMD8<Float>
        var c = x
        c.replace(with: V(repeating: -4), where: c .< -4)
        c.replace(with: V(repeating: 4), where: c .> 4)
        let c2 = c * c
        var p = V(repeating: 2.770_681_4e-8).addingProduct(V(repeating: -2.726_142_3e-10), c2)
        p = V(repeating: -2.101_024e-6).addingProduct(p, c2)
        p = V(repeating: -5.692_506_4e-5).addingProduct(p, c2)
        p = V(repeating: -7.349_906_3e-4).addingProduct(p, c2)
        p = V(repeating: -2.954_599_8e-3).addingProduct(p, c2)
        p = V(repeating: -1.609_603_3e-2).addingProduct(p, c2)
        p = p * c
        var q = V(repeating: -2.133_740_6e-4).addingProduct(V(repeating: -1.456_607_2e-5), c2)
        q = V(repeating: -1.682_827e-3).addingProduct(q, c2)
        q = V(repeating: -7.373_329e-3).addingProduct(q, c2)
        q = V(repeating: -1.426_474e-2).addingProduct(q, c2)
        return p / q
    }

    /// y = x·Φ(x) = x/2·(1 + erf(x/√2)) over n floats.
    public static func gelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        @inline(__always) func f(_ v: V8) -> V8 { 0.5 * v * (1 + erfLanes(v * 0.707_106_77)) }
        var i = 0
        while i + 8 <= n { store8(f(load8(x + i)), y + i); i &+= 8 }
        if i < n { store(f(load(x + i, n - i)), y + i, n - i) }
    }

    /// GELU's slope Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π), with Φ(x) given.
    @inline(__always)
    static func geluSlope(_ x: V8, phi: V8) -> V8 { phi.addingProduct(x * 0.398_942_3, expLanes(-0.5 * x * x)) }

    /// d (=|+=) g·(Φ(x) + x·φ(x)): GELU's backward.
    public static func geluBackward(input x: UnsafePointer<Float>, grad g: UnsafePointer<Float>,
                                    into d: UnsafeMutablePointer<Float>, _ n: Int, accumulate: Bool) {
        @inline(__always) func f(_ v: V8, _ grad: V8) -> V8 { grad * geluSlope(v, phi: 0.5 * (1 + erfLanes(v * 0.707_106_77))) }
        var i = 0
        while i + 8 <= n {
            let v = f(load8(x + i), load8(g + i))
            store8(accumulate ? load8(d + i) + v : v, d + i)
            i &+= 8
        }
        if i < n {
            let count = n - i, v = f(load(x + i, count), load(g + i, count))
            store(accumulate ? load(d + i, count) + v : v, d + i, count)
        }
    }

    /// y = x·Φ(x) (GELU) and slope = Φ(x) + x·φ(x) (its derivative) over n floats, one erf
    /// for both: a fused block recomputes GELU's output in backward instead of keeping it.
    public static func geluWithSlope(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, slope: UnsafeMutablePointer<Float>, _ n: Int) {
        @inline(__always) func f(_ v: V8) -> (V8, V8) {
            let phi = 0.5 * (1 + erfLanes(v * 0.707_106_77))
            return (v * phi, geluSlope(v, phi: phi))
        }
        var i = 0
        while i + 8 <= n {
            let (out, d) = f(load8(x + i))
            store8(out, y + i)
            store8(d, slope + i)
            i &+= 8
        }
        if i < n {
            let count = n - i, (out, d) = f(load(x + i, count))
            store(out, y + i, count)
            store(d, slope + i, count)
        }
    }

    /// x[0..<n] *= y[0..<n].
    public static func multiply(_ x: UnsafeMutablePointer<Float>, by y: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n { store8(load8(x + i) * load8(y + i), x + i); i &+= 8 }
        if i < n { store(load(x + i, n - i) * load(y + i, n - i), x + i, n - i) }
    }

    /// x[0..<count] *= factor.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by factor: Float, count n: Int) {
        let f = V8(repeating: factor)
        var i = 0
        while i + 8 <= n { store8(load8(x + i) * f, x + i); i &+= 8 }
        if i < n { store(load(x + i, n - i) * f, x + i, n - i) }
    }

    /// y[r, :] = softmax(scale · x[r, :]) for `rows` rows of `length` (x's rows `ldx` apart,
    /// y's `ldy`; scale > 0); x and y may be the same buffer when their strides agree.
    public static func softmaxRows(_ x: UnsafePointer<Float>, ldx: Int? = nil, _ y: UnsafeMutablePointer<Float>, ldy: Int? = nil,
                                   rows: Int, length n: Int, scale: Float = 1) {
        let (ldx, ldy) = (ldx ?? n, ldy ?? n), whole = n / 8 * 8
        for r in 0..<rows {
            let xr = x + r * ldx, yr = y + r * ldy
            var mx = -Float.infinity
            for i in 0..<n { mx = max(mx, xr[i]) }
            @inline(__always) func f(_ v: V8) -> V8 { expLanes((v - mx) * scale) }
            var sums = V8()
            var i = 0
            while i < whole { let e = f(load8(xr + i)); sums += e; store8(e, yr + i); i &+= 8 }
            if i < n {
                var e = f(load(xr + i, n - i))
                for k in (n - i)..<8 { e[k] = 0 }   // lanes past the row add nothing
                sums += e
                store(e, yr + i, n - i)
            }
            let inv = 1 / sums.sum()
            for i in 0..<n { yr[i] *= inv }
        }
    }

    /// probs[r, :] = softmax(scale · scores[r, :]) for `rows` rows of `length`: the attention
    /// form, on whole vectors. `scores` rows are `ld` apart, ld ≥ `length` rounded up to 8
    /// (what lies past `length` is ignored), and are overwritten; `probs` rows are `length`
    /// apart, and its last row must be readable 8 floats past its end. scale > 0.
    public static func attentionSoftmax(scores s: UnsafeMutablePointer<Float>, ld: Int, into p: UnsafeMutablePointer<Float>,
                                        rows: Int, length n: Int, scale: Float) {
        typealias V = SIMD8<Float>
        let vectors = (n + 7) / 8, rest = n - (vectors - 1) * 8
        var lane = V()
        for l in 0..<8 { lane[l] = Float(l) }
        let past = lane .>= V(repeating: Float(rest))   // the last vector's lanes past the row
        let sc = V(repeating: scale)
        // Two rows at a time: each row is a chain of dependent passes (maximum, exponentials,
        // sum, scaling), and two independent chains keep the vector units busy.
        var r = 0
        while r < rows {
            let second = min(r + 1, rows - 1)   // a last odd row is computed twice
            let s0 = UnsafeMutableRawPointer(s + r &* ld), s1 = UnsafeMutableRawPointer(s + second &* ld)
            @inline(__always) func scores(_ row: UnsafeMutableRawPointer, _ v: Int) -> V {
                var x = row.loadUnaligned(fromByteOffset: v &* 32, as: V.self)
                if v == vectors &- 1 { x.replace(with: -.infinity, where: past) }
                return x
            }
            var top0 = V(repeating: -.infinity), top1 = top0
            for v in 0..<vectors {
                let x0 = scores(s0, v), x1 = scores(s1, v)
                top0.replace(with: x0, where: x0 .> top0)
                top1.replace(with: x1, where: x1 .> top1)
            }
            var m0 = top0[0], m1 = top1[0]
            for l in 1..<8 { m0 = max(m0, top0[l]); m1 = max(m1, top1[l]) }
            let shift0 = V(repeating: m0 * scale), shift1 = V(repeating: m1 * scale)
            var sums0 = V(), sums1 = V()
            for v in 0..<vectors {
                let e0 = expLanes(scores(s0, v) * sc - shift0), e1 = expLanes(scores(s1, v) * sc - shift1)   // 0 past the row
                sums0 += e0
                sums1 += e1
                s0.storeBytes(of: e0, toByteOffset: v &* 32, as: V.self)
                s1.storeBytes(of: e1, toByteOffset: v &* 32, as: V.self)
            }
            let inv0 = V(repeating: 1 / sums0.sum()), inv1 = V(repeating: 1 / sums1.sum())
            @inline(__always) func normalize(_ row: Int, _ exps: UnsafeMutableRawPointer, _ inv: V) {
                let out = UnsafeMutableRawPointer(p + row &* n)
                for v in 0..<(vectors &- 1) {
                    out.storeBytes(of: exps.loadUnaligned(fromByteOffset: v &* 32, as: V.self) * inv, toByteOffset: v &* 32, as: V.self)
                }
                let last = (vectors &- 1) &* 32
                var kept = out.loadUnaligned(fromByteOffset: last, as: V.self)
                kept.replace(with: exps.loadUnaligned(fromByteOffset: last, as: V.self) * inv, where: .!past)
                out.storeBytes(of: kept, toByteOffset: last, as: V.self)
            }
            normalize(r, s0, inv0)
            normalize(second, s1, inv1)
            r += 2
        }
    }

    /// t[c, r] = a[r, c] for a [rows, columns] with rows `lda` apart into t with rows `ldt` apart.
    public static func transpose(rows: Int, columns: Int, _ a: UnsafePointer<Float>, lda: Int,
                                 into t: UnsafeMutablePointer<Float>, ldt: Int) {
        for r in 0..<rows {
            let row = a + r &* lda
            var out = t + r
            for c in 0..<columns {
                out.pointee = row[c]
                out += ldt
            }
        }
    }

    /// dx[r, :] (=|+=) scale · y ⊙ (dy − Σ dy ⊙ y) per row (rows of y, dy and dx `ldy`, `ldg`,
    /// `ldd` apart); `into` may be `grad` when not accumulating and their strides agree.
    public static func softmaxRowsBackward(output y: UnsafePointer<Float>, ldy: Int? = nil, grad g: UnsafePointer<Float>, ldg: Int? = nil,
                                           into dx: UnsafeMutablePointer<Float>, ldd: Int? = nil, rows: Int, length n: Int,
                                           scale: Float = 1, accumulate: Bool) {
        let (ldy, ldg, ldd) = (ldy ?? n, ldg ?? n, ldd ?? n), whole = n / 8 * 8, rest = n - whole
        for r in 0..<rows {
            let yr = y + r * ldy, gr = g + r * ldg, dr = dx + r * ldd
            var dots = V8()
            var i = 0
            while i < whole { dots = dots.addingProduct(load8(gr + i), load8(yr + i)); i &+= 8 }
            if rest > 0 { dots = dots.addingProduct(load(gr + i, rest), load(yr + i, rest)) }
            let dot = dots.sum()
            @inline(__always) func f(_ yv: V8, _ gv: V8) -> V8 { yv * (gv - dot) * scale }
            i = 0
            while i < whole {
                let v = f(load8(yr + i), load8(gr + i))
                store8(accumulate ? load8(dr + i) + v : v, dr + i)
                i &+= 8
            }
            if rest > 0 {
                let v = f(load(yr + i, rest), load(gr + i, rest))
                store(accumulate ? load(dr + i, rest) + v : v, dr + i, rest)
            }
        }
    }

    /// c[0..<n] = Σ over rows t of a[t·n ..< t·n + n], t running over `length` rows from each
    /// start in `segments` in order, each column summed in that order (a bias gradient over
    /// the token rows of some images; the same bits at any vector width).
    public static func sumRows(segments: UnsafeBufferPointer<Int>, length: Int, n: Int, a: UnsafePointer<Float>,
                               into c: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        var j = 0
        while j + 8 <= n {
            var s = V()
            for start in segments {
                var row = UnsafeRawPointer(a + (start &* n &+ j))
                for _ in 0..<length { s += row.loadUnaligned(as: V.self); row += n &* 4 }
            }
            UnsafeMutableRawPointer(c + j).storeBytes(of: s, as: V.self)
            j += 8
        }
        while j < n {
            var s: Float = 0
            for start in segments { for t in 0..<length { s += a[(start &+ t) &* n &+ j] } }
            c[j] = s
            j += 1
        }
    }

    /// LayerNorm of `rows` rows of `length`: x̂ = (x − μ)·rstd into `xhat`, y = x̂ ⊙ scale + shift,
    /// rstd = 1/√(σ² + eps) per row into `rstd`.
    public static func layerNormRows(_ x: UnsafePointer<Float>, xhat: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                                     rstd: UnsafeMutablePointer<Float>, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                     rows: Int, length l: Int, eps: Float) {
        let whole = l / 8 * 8, rest = l - whole
        for r in 0..<rows {
            let xr = x + r * l, h = xhat + r * l, out = y + r * l
            var sums = V8()
            var i = 0
            while i < whole { sums += load8(xr + i); i &+= 8 }
            if rest > 0 { sums += load(xr + i, rest) }
            let mu = sums.sum() / Float(l)
            var squares = V8()
            i = 0
            while i < whole { let d = load8(xr + i) - mu; squares = squares.addingProduct(d, d); i &+= 8 }
            if rest > 0 {
                var d = load(xr + i, rest) - mu
                for k in rest..<8 { d[k] = 0 }   // lanes past the row
                squares = squares.addingProduct(d, d)
            }
            let rs = 1 / (squares.sum() / Float(l) + eps).squareRoot()
            rstd[r] = rs
            i = 0
            while i < whole {
                let hv = (load8(xr + i) - mu) * rs
                store8(hv, h + i)
                store8(load8(shift + i).addingProduct(hv, load8(scale + i)), out + i)
                i &+= 8
            }
            if rest > 0 {
                let hv = (load(xr + i, rest) - mu) * rs
                store(hv, h + i, rest)
                store(load(shift + i, rest).addingProduct(hv, load(scale + i, rest)), out + i, rest)
            }
        }
    }

    /// LayerNorm's affine gradients over `rows` rows of one image: Σ g ⊙ x̂ and Σ g, each
    /// column summed in float over the rows in order, then added to `sums` [2, length] in
    /// double (the image's share of its batch chunk's sum).
    public static func layerNormAffineGradient(grad g: UnsafePointer<Float>, xhat: UnsafePointer<Float>, rows: Int, length l: Int,
                                               into sums: UnsafeMutablePointer<Double>) {
        var j = 0
        while j < l {
            let count = min(8, l - j)
            var gx = V8(), gs = V8()
            for r in 0..<rows {
                let gv = load(g + (r &* l &+ j), count)
                gx = gx.addingProduct(gv, load(xhat + (r &* l &+ j), count))
                gs += gv
            }
            for k in 0..<count {
                sums[j &+ k] += Double(gx[k])
                sums[l &+ j &+ k] += Double(gs[k])
            }
            j &+= 8
        }
    }

    /// LayerNorm's input gradient per row: dx (=|+=) rstd · (g⊙w − mean(g⊙w) − x̂ · mean(g⊙w ⊙ x̂)).
    public static func layerNormRowsBackward(grad g: UnsafePointer<Float>, xhat: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                             scale: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                                             rows: Int, length l: Int, accumulate: Bool) {
        let whole = l / 8 * 8, rest = l - whole
        for r in 0..<rows {
            let gr = g + r * l, h = xhat + r * l, d = dx + r * l
            var sumG = V8(), sumGX = V8()
            var i = 0
            while i < whole {
                let gw = load8(gr + i) * load8(scale + i)
                sumG += gw
                sumGX = sumGX.addingProduct(gw, load8(h + i))
                i &+= 8
            }
            if rest > 0 {
                let gw = load(gr + i, rest) * load(scale + i, rest)
                sumG += gw
                sumGX = sumGX.addingProduct(gw, load(h + i, rest))
            }
            let meanG = V8(repeating: sumG.sum() / Float(l)), meanGX = sumGX.sum() / Float(l), rs = rstd[r]
            @inline(__always) func f(_ gv: V8, _ wv: V8, _ hv: V8) -> V8 { rs * ((gv * wv - meanG) - hv * meanGX) }
            i = 0
            while i < whole {
                let v = f(load8(gr + i), load8(scale + i), load8(h + i))
                store8(accumulate ? load8(d + i) + v : v, d + i)
                i &+= 8
            }
            if rest > 0 {
                let v = f(load(gr + i, rest), load(scale + i, rest), load(h + i, rest))
                store(accumulate ? load(d + i, rest) + v : v, d + i, rest)
            }
        }
    }

    /// Eight floats from `p`.
    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }

    @inline(__always)
    static func load8(_ p: UnsafeMutablePointer<Float>) -> V8 { load8(UnsafePointer(p)) }

    /// Eight floats to `p`.
    @inline(__always)
    static func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self) }

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
