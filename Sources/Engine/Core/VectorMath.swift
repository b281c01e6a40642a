/// Reductions and element-wise loops over float buffers in 8-wide SIMD (AVX2).
///
/// Plain Swift loops that accumulate into one scalar cannot be vectorised (the compiler may
/// not reorder floating-point additions); these keep vector partial sums instead.
public enum VectorMath {
    /// Σ p[i].
    @inlinable
    public static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 16 <= n {
            acc0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc1 += raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: SIMD8<Float>.self)
            i += 16
        }
        var s = (acc0 + acc1).sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    /// Σ p[i] in double precision.
    @inlinable
    public static func sumDouble(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc0 = SIMD4<Double>(), acc1 = SIMD4<Double>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc0 += SIMD4<Double>(x.lowHalf)
            acc1 += SIMD4<Double>(x.highHalf)
            i += 8
        }
        var s = (acc0 + acc1).sum()
        while i < n { s += Double(p[i]); i += 1 }
        return s
    }

    /// Σ (p[i] − c)² in double precision.
    @inlinable
    public static func sumSquaredDeviationDouble(_ p: UnsafePointer<Float>, _ n: Int, from c: Double) -> Double {
        var acc0 = SIMD4<Double>(), acc1 = SIMD4<Double>()
        let cv = SIMD4<Double>(repeating: c)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let d0 = SIMD4<Double>(x.lowHalf) - cv, d1 = SIMD4<Double>(x.highHalf) - cv
            acc0 += d0 * d0
            acc1 += d1 * d1
            i += 8
        }
        var s = (acc0 + acc1).sum()
        while i < n { let d = Double(p[i]) - c; s += d * d; i += 1 }
        return s
    }

    /// Σ a[i]·(b[i] − c) in double precision.
    @inlinable
    public static func dotCenteredDouble(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, center c: Double) -> Double {
        var acc0 = SIMD4<Double>(), acc1 = SIMD4<Double>()
        let cv = SIMD4<Double>(repeating: c)
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 8 <= n {
            let x = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc0 += SIMD4<Double>(x.lowHalf) * (SIMD4<Double>(y.lowHalf) - cv)
            acc1 += SIMD4<Double>(x.highHalf) * (SIMD4<Double>(y.highHalf) - cv)
            i += 8
        }
        var s = (acc0 + acc1).sum()
        while i < n { s += Double(a[i]) * (Double(b[i]) - c); i += 1 }
        return s
    }

    /// (Σ a[i], Σ a[i]·(b[i] − c)) in double precision, in one pass over `a` — the two sums
    /// of batch norm's backward pass. Each sum is accumulated exactly as `sumDouble` and
    /// `dotCenteredDouble` do, so the results are the same bits.
    @inlinable
    public static func sumAndDotCenteredDouble(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int,
                                               center c: Double) -> (sum: Double, dot: Double) {
        var s0 = SIMD4<Double>(), s1 = SIMD4<Double>(), d0 = SIMD4<Double>(), d1 = SIMD4<Double>()
        let cv = SIMD4<Double>(repeating: c)
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 8 <= n {
            let x = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let xl = SIMD4<Double>(x.lowHalf), xh = SIMD4<Double>(x.highHalf)
            s0 += xl
            s1 += xh
            d0 += xl * (SIMD4<Double>(y.lowHalf) - cv)
            d1 += xh * (SIMD4<Double>(y.highHalf) - cv)
            i += 8
        }
        var sum = (s0 + s1).sum(), dot = (d0 + d1).sum()
        while i < n { sum += Double(a[i]); dot += Double(a[i]) * (Double(b[i]) - c); i += 1 }
        return (sum, dot)
    }

    /// y = max(x, 0). Written as a select so LLVM vectorises it.
    @inlinable
    public static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { let v = x[i]; y[i] = v > 0 ? v : 0 }
    }

    /// d (=|+=) g where y > 0, else 0: the ReLU backward pass, masked on the output.
    /// Both loads are unconditional so the loop vectorises as a blend.
    @inlinable
    public static func reluBackward(output y: UnsafePointer<Float>, grad g: UnsafePointer<Float>,
                                    into d: UnsafeMutablePointer<Float>, _ n: Int, accumulate: Bool) {
        if accumulate {
            for i in 0..<n { let gi = g[i], yi = y[i]; d[i] += yi > 0 ? gi : 0 }
        } else {
            for i in 0..<n { let gi = g[i], yi = y[i]; d[i] = yi > 0 ? gi : 0 }
        }
    }
}
