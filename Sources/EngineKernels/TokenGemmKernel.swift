/// The weight-gradient kernel of token-row layers: C[m, 3·width] = Σ_p A(i, p) · B[p, :] with
/// A(i, p) = a[aOffsets[p] + i] — row p of a gradient [rows, m] picked through an offset, read
/// as if transposed — and B a packed panel [k, 3·width]. Every element is one FMA chain over p
/// in order, as in `ShiftedGemmKernel`, so its bits do not depend on the vector width.
public enum TokenGemmKernel<V: SIMD> where V.Scalar == Float {
    /// C[m, 3·width] (ldc apart) for any m: tiles of 4 rows, then single rows.
    @inlinable
    public static func multiplyTransposedA(m: Int, k: Int, a: UnsafePointer<Float>, aOffsets: UnsafePointer<Int>,
                                           panel b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        var i0 = 0
        while i0 + 4 <= m {
            tile4(k: k, a: a + i0, aOffsets: aOffsets, b: b, c: c + i0 * ldc, ldc: ldc)
            i0 += 4
        }
        while i0 < m {
            tile1(k: k, a: a + i0, aOffsets: aOffsets, b: b, c: c + i0 * ldc)
            i0 += 1
        }
    }

    @inlinable @inline(__always)
    static func tile4(k: Int, a: UnsafePointer<Float>, aOffsets: UnsafePointer<Int>, b: UnsafePointer<Float>,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
        let bytes = V.scalarCount &* 4, stride = 3 &* bytes
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V()
        var c20 = V(), c21 = V(), c22 = V(), c30 = V(), c31 = V(), c32 = V()
        var row = UnsafeRawPointer(b)
        for p in 0..<k {
            let b0 = row.loadUnaligned(as: V.self)
            let b1 = row.loadUnaligned(fromByteOffset: bytes, as: V.self)
            let b2 = row.loadUnaligned(fromByteOffset: 2 &* bytes, as: V.self)
            let ap = a + aOffsets[p]
            var av = V(repeating: ap[0])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1); c02 = c02.addingProduct(av, b2)
            av = V(repeating: ap[1])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1); c12 = c12.addingProduct(av, b2)
            av = V(repeating: ap[2])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1); c22 = c22.addingProduct(av, b2)
            av = V(repeating: ap[3])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1); c32 = c32.addingProduct(av, b2)
            row = row + stride
        }
        let rc = UnsafeMutableRawPointer(c)
        @inline(__always) func store(_ v: V, _ r: Int, _ vector: Int) {
            rc.storeBytes(of: v, toByteOffset: (r &* ldc &+ vector &* V.scalarCount) &* 4, as: V.self)
        }
        store(c00, 0, 0); store(c01, 0, 1); store(c02, 0, 2)
        store(c10, 1, 0); store(c11, 1, 1); store(c12, 1, 2)
        store(c20, 2, 0); store(c21, 2, 1); store(c22, 2, 2)
        store(c30, 3, 0); store(c31, 3, 1); store(c32, 3, 2)
    }

    @inlinable @inline(__always)
    static func tile1(k: Int, a: UnsafePointer<Float>, aOffsets: UnsafePointer<Int>, b: UnsafePointer<Float>,
                      c: UnsafeMutablePointer<Float>) {
        let bytes = V.scalarCount &* 4, stride = 3 &* bytes
        var c0 = V(), c1 = V(), c2 = V()
        var row = UnsafeRawPointer(b)
        for p in 0..<k {
            let av = V(repeating: a[aOffsets[p]])
            c0 = c0.addingProduct(av, row.loadUnaligned(as: V.self))
            c1 = c1.addingProduct(av, row.loadUnaligned(fromByteOffset: bytes, as: V.self))
            c2 = c2.addingProduct(av, row.loadUnaligned(fromByteOffset: 2 &* bytes, as: V.self))
            row = row + stride
        }
        let rc = UnsafeMutableRawPointer(c)
        rc.storeBytes(of: c0, as: V.self)
        rc.storeBytes(of: c1, toByteOffset: bytes, as: V.self)
        rc.storeBytes(of: c2, toByteOffset: 2 &* bytes, as: V.self)
    }
}

/// `TokenGemmKernel` 8 wide, for AVX2 + FMA (this module's target).
public enum TokenGemmAVX2 {
    /// Packs rows `base + rowOffsets[p]` (p = 0..<k, n floats each) into panels of `width`
    /// columns: panel j is [k, width] at `into + j·k·width`; the padding past n is left as it is.
    /// Eight floats at a time (these rows are short: a memmove call per piece cost more).
    public static func packRows(k: Int, n: Int, width: Int, base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                into panels: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        var j0 = 0, panel = panels
        while j0 < n {
            let columns = min(width, n - j0), vectors = columns / 8
            for p in 0..<k {
                let src = base + rowOffsets[p] + j0, dst = panel + p * width
                for v in 0..<vectors {
                    UnsafeMutableRawPointer(dst + 8 * v).storeBytes(of: UnsafeRawPointer(src + 8 * v).loadUnaligned(as: V.self), as: V.self)
                }
                for e in (8 * vectors)..<columns { dst[e] = src[e] }
            }
            j0 += width
            panel += k * width
        }
    }

    /// c[0..<n] = Σ_p a[aOffsets[p] ..< + n], each column summed over p in order (a bias
    /// gradient over picked rows; the same bits at any vector width).
    public static func sumRows(k: Int, n: Int, a: UnsafePointer<Float>, aOffsets: UnsafePointer<Int>, c: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        var j = 0
        while j + 8 <= n {
            var s = V()
            for p in 0..<k { s += UnsafeRawPointer(a + aOffsets[p] + j).loadUnaligned(as: V.self) }
            UnsafeMutableRawPointer(c + j).storeBytes(of: s, as: V.self)
            j += 8
        }
        while j < n {
            var s: Float = 0
            for p in 0..<k { s += a[aOffsets[p] + j] }
            c[j] = s
            j += 1
        }
    }

    public static func multiplyTransposedA(m: Int, k: Int, a: UnsafePointer<Float>, aOffsets: UnsafePointer<Int>,
                                           panel: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int) {
        TokenGemmKernel<SIMD8<Float>>.multiplyTransposedA(m: m, k: k, a: a, aOffsets: aOffsets, panel: panel, c: c, ldc: ldc)
    }
}
