import Foundation

/// Reductions and element-wise loops over float buffers in 8-wide SIMD (AVX2).
///
/// Plain Swift loops that accumulate into one scalar cannot be vectorised (the compiler may
/// not reorder floating-point additions); these keep vector partial sums instead.
public enum VectorMath {
    /// Sets n floats to +0 with `memset`: a plain `update(repeating: 0, …)` compiles to a loop
    /// of 16-byte stores, measured several times slower on the padded-image buffers.
    @inlinable
    public static func zero(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        if n > 0 { memset(p, 0, n * MemoryLayout<Float>.stride) }
    }

    /// Σ a[i]·b[i] in double precision, in a fixed order (two 4-wide partial sums, then the
    /// tail); each product of two floats is exact in double.
    @inlinable
    public static func dotDouble(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
        var acc0 = SIMD4<Double>(), acc1 = SIMD4<Double>()
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i + 8 <= n {
            let x = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc0 = acc0.addingProduct(SIMD4<Double>(x.lowHalf), SIMD4<Double>(y.lowHalf))
            acc1 = acc1.addingProduct(SIMD4<Double>(x.highHalf), SIMD4<Double>(y.highHalf))
            i += 8
        }
        var s = (acc0 + acc1).sum()
        while i < n { s += Double(a[i]) * Double(b[i]); i += 1 }
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

    /// (Σ p[i], Σ p[i]²) in double precision, in one pass: batch norm's forward statistics.
    @inlinable
    public static func sumAndSumOfSquaresDouble(_ p: UnsafePointer<Float>, _ n: Int) -> (sum: Double, squares: Double) {
        var s0 = SIMD4<Double>(), s1 = SIMD4<Double>(), q0 = SIMD4<Double>(), q1 = SIMD4<Double>()
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let lo = SIMD4<Double>(x.lowHalf), hi = SIMD4<Double>(x.highHalf)
            s0 += lo
            s1 += hi
            q0 = q0.addingProduct(lo, lo)
            q1 = q1.addingProduct(hi, hi)
            i += 8
        }
        var sum = (s0 + s1).sum(), squares = (q0 + q1).sum()
        while i < n { let v = Double(p[i]); sum += v; squares += v * v; i += 1 }
        return (sum, squares)
    }

    /// (Σ a[i], Σ a[i]·(b[i] − c)) in double precision, in one pass — the two sums of batch
    /// norm's backward pass.
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

    /// Masks `g` in place with the ReLU that produced `y` (g[i] = 0 where y[i] ≤ 0) and returns
    /// (Σ g[i], Σ g[i]·(x[i] − c)) of the masked values in double precision: the first pass of
    /// a batch norm + ReLU backward, reading each stream once.
    @inlinable
    public static func reluMaskSumAndDotCenteredDouble(_ g: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>,
                                                       _ x: UnsafePointer<Float>, _ n: Int,
                                                       center c: Double) -> (sum: Double, dot: Double) {
        var s0 = SIMD4<Double>(), s1 = SIMD4<Double>(), d0 = SIMD4<Double>(), d1 = SIMD4<Double>()
        let cv = SIMD4<Double>(repeating: c)
        var i = 0
        let rg = UnsafeMutableRawPointer(g), ry = UnsafeRawPointer(y), rx = UnsafeRawPointer(x)
        while i + 8 <= n {
            let off = i &* 4
            let yv = ry.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
            let gv = SIMD8<Float>().replacing(with: rg.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self),
                                              where: yv .> 0)
            rg.storeBytes(of: gv, toByteOffset: off, as: SIMD8<Float>.self)
            let xv = rx.loadUnaligned(fromByteOffset: off, as: SIMD8<Float>.self)
            let gl = SIMD4<Double>(gv.lowHalf), gh = SIMD4<Double>(gv.highHalf)
            s0 += gl
            s1 += gh
            d0 += gl * (SIMD4<Double>(xv.lowHalf) - cv)
            d1 += gh * (SIMD4<Double>(xv.highHalf) - cv)
            i &+= 8
        }
        var sum = (s0 + s1).sum(), dot = (d0 + d1).sum()
        while i < n {
            if !(y[i] > 0) { g[i] = 0 }
            sum += Double(g[i]); dot += Double(g[i]) * (Double(x[i]) - c)
            i += 1
        }
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
