/// The shifted-GEMM kernels, generic over the vector width so one source serves every
/// instruction set: `EngineKernels` instantiates them 8 wide for AVX2 and
/// `EngineKernelsAVX512` 16 wide, each compiled for its own target CPU (the bodies are
/// `@inlinable`, so they are specialised and code-generated in the module that calls them).
///
/// B is a set of windows into one buffer: row p starts at `base + rowOffsets[p]`. Tiles are
/// 4 rows of C by 3 vectors of columns; 12 accumulators fit the 16 AVX2 registers.
public enum ShiftedGemmKernel<V: SIMD> where V.Scalar == Float {
    @inlinable static var width: Int { V.scalarCount }

    /// C[m, n] (=|+=) A[m, k] · B[k, n]; m a multiple of 4, every window readable to n
    /// rounded up to the vector width.
    @inlinable
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let w = width, tile = 3 * w
        var j0 = 0
        while j0 + tile <= n {
            var i0 = 0
            while i0 < m {
                wideTile(k: k, a: a + i0 * lda, lda: lda, b: base + j0, rowOffsets: rowOffsets,
                         c: c + i0 * ldc + j0, ldc: ldc, accumulate: accumulate)
                i0 += 4
            }
            j0 += tile
        }
        while j0 < n {
            let columns = min(w, n - j0)
            var i0 = 0
            while i0 < m {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * w) { staging in
                    let s = staging.baseAddress!   // s: [4, w]
                    narrowTile(k: k, a: a + i0 * lda, lda: lda, b: base + j0, rowOffsets: rowOffsets, c: s)
                    for r in 0..<4 {
                        let row = c + (i0 + r) * ldc + j0
                        if accumulate { for t in 0..<columns { row[t] += s[r * w + t] } }
                        else { row.update(from: s + r * w, count: columns) }
                    }
                }
                i0 += 4
            }
            j0 += w
        }
    }

    @inlinable @inline(__always)
    static func wideTile(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                         c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let bytes = V.scalarCount &* 4
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V()
        var c20 = V(), c21 = V(), c22 = V(), c30 = V(), c31 = V(), c32 = V()
        let a0 = a, a1 = a + lda, a2 = a + 2 &* lda, a3 = a + 3 &* lda
        for p in 0..<k {
            let row = UnsafeRawPointer(b + rowOffsets[p])
            let b0 = row.loadUnaligned(as: V.self)
            let b1 = row.loadUnaligned(fromByteOffset: bytes, as: V.self)
            let b2 = row.loadUnaligned(fromByteOffset: 2 &* bytes, as: V.self)
            var av = V(repeating: a0[p])
            c00 = c00.addingProduct(av, b0); c01 = c01.addingProduct(av, b1); c02 = c02.addingProduct(av, b2)
            av = V(repeating: a1[p])
            c10 = c10.addingProduct(av, b0); c11 = c11.addingProduct(av, b1); c12 = c12.addingProduct(av, b2)
            av = V(repeating: a2[p])
            c20 = c20.addingProduct(av, b0); c21 = c21.addingProduct(av, b1); c22 = c22.addingProduct(av, b2)
            av = V(repeating: a3[p])
            c30 = c30.addingProduct(av, b0); c31 = c31.addingProduct(av, b1); c32 = c32.addingProduct(av, b2)
        }
        let rc = UnsafeMutableRawPointer(c)
        @inline(__always) func store(_ v: V, _ r: Int, _ vector: Int) {
            let off = (r &* ldc &+ vector &* V.scalarCount) &* 4
            rc.storeBytes(of: accumulate ? v + rc.loadUnaligned(fromByteOffset: off, as: V.self) : v, toByteOffset: off, as: V.self)
        }
        store(c00, 0, 0); store(c01, 0, 1); store(c02, 0, 2)
        store(c10, 1, 0); store(c11, 1, 1); store(c12, 1, 2)
        store(c20, 2, 0); store(c21, 2, 1); store(c22, 2, 2)
        store(c30, 3, 0); store(c31, 3, 1); store(c32, 3, 2)
    }

    /// A 4 × width tile written to a staging block [4, width].
    @inlinable @inline(__always)
    static func narrowTile(k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                           c: UnsafeMutablePointer<Float>) {
        var c0 = V(), c1 = V(), c2 = V(), c3 = V()
        for p in 0..<k {
            let bv = UnsafeRawPointer(b + rowOffsets[p]).loadUnaligned(as: V.self)
            c0 = c0.addingProduct(V(repeating: a[p]), bv)
            c1 = c1.addingProduct(V(repeating: a[lda &+ p]), bv)
            c2 = c2.addingProduct(V(repeating: a[2 &* lda &+ p]), bv)
            c3 = c3.addingProduct(V(repeating: a[3 &* lda &+ p]), bv)
        }
        let rc = UnsafeMutableRawPointer(c), bytes = V.scalarCount &* 4
        rc.storeBytes(of: c0, toByteOffset: 0, as: V.self)
        rc.storeBytes(of: c1, toByteOffset: bytes, as: V.self)
        rc.storeBytes(of: c2, toByteOffset: 2 &* bytes, as: V.self)
        rc.storeBytes(of: c3, toByteOffset: 3 &* bytes, as: V.self)
    }

    /// C[m, k] (=|+=) A[m, len] · B[k, len]ᵀ: the weight gradient Σ_j dY[o, j] · window_r[j].
    /// `len` a multiple of the vector width (A padded with zeros), m a multiple of 4.
    @inlinable
    public static func multiplyTransposed(m: Int, k: Int, length len: Int, a: UnsafePointer<Float>, lda: Int,
                                          base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                          c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let step = V.scalarCount, bytes = step &* 4
        var i0 = 0
        while i0 < m {
            let ra = UnsafeRawPointer(a + i0 * lda), rowStride = lda * 4
            var r0 = 0
            while r0 < k {
                let rows = min(3, k - r0)
                // Three B windows (repeating the last when fewer remain) against four A rows.
                let w0 = UnsafeRawPointer(base + rowOffsets[r0])
                let w1 = UnsafeRawPointer(base + rowOffsets[r0 + min(1, rows - 1)])
                let w2 = UnsafeRawPointer(base + rowOffsets[r0 + min(2, rows - 1)])
                var s00 = V(), s01 = V(), s02 = V(), s10 = V(), s11 = V(), s12 = V()
                var s20 = V(), s21 = V(), s22 = V(), s30 = V(), s31 = V(), s32 = V()
                var off = 0
                let end = len &* 4
                while off < end {
                    // Offsets wrap (&+, &*): in range by construction, and overflow checks in
                    // this loop cost more than the loads.
                    let b0 = w0.loadUnaligned(fromByteOffset: off, as: V.self)
                    let b1 = w1.loadUnaligned(fromByteOffset: off, as: V.self)
                    let b2 = w2.loadUnaligned(fromByteOffset: off, as: V.self)
                    var av = ra.loadUnaligned(fromByteOffset: off, as: V.self)
                    s00 = s00.addingProduct(av, b0); s01 = s01.addingProduct(av, b1); s02 = s02.addingProduct(av, b2)
                    av = ra.loadUnaligned(fromByteOffset: rowStride &+ off, as: V.self)
                    s10 = s10.addingProduct(av, b0); s11 = s11.addingProduct(av, b1); s12 = s12.addingProduct(av, b2)
                    av = ra.loadUnaligned(fromByteOffset: 2 &* rowStride &+ off, as: V.self)
                    s20 = s20.addingProduct(av, b0); s21 = s21.addingProduct(av, b1); s22 = s22.addingProduct(av, b2)
                    av = ra.loadUnaligned(fromByteOffset: 3 &* rowStride &+ off, as: V.self)
                    s30 = s30.addingProduct(av, b0); s31 = s31.addingProduct(av, b1); s32 = s32.addingProduct(av, b2)
                    off &+= bytes
                }
                let sums: (Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float) =
                    (s00.sum(), s01.sum(), s02.sum(), s10.sum(), s11.sum(), s12.sum(),
                     s20.sum(), s21.sum(), s22.sum(), s30.sum(), s31.sum(), s32.sum())
                withUnsafeBytes(of: sums) { raw in
                    let s = raw.bindMemory(to: Float.self)
                    for r in 0..<4 {
                        for t in 0..<rows {
                            let dst = c + (i0 + r) * ldc + r0 + t
                            dst.pointee = accumulate ? dst.pointee + s[r * 3 + t] : s[r * 3 + t]
                        }
                    }
                }
                r0 += 3
            }
            i0 += 4
        }
    }
}

/// The kernels 8 wide, for AVX2 + FMA (this module's target).
public enum ShiftedGemmAVX2 {
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        ShiftedGemmKernel<SIMD8<Float>>.multiply(m: m, n: n, k: k, a: a, lda: lda, base: base, rowOffsets: rowOffsets,
                                                  c: c, ldc: ldc, accumulate: accumulate)
    }

    public static func multiplyTransposed(m: Int, k: Int, length: Int, a: UnsafePointer<Float>, lda: Int,
                                          base: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>,
                                          c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        ShiftedGemmKernel<SIMD8<Float>>.multiplyTransposed(m: m, k: k, length: length, a: a, lda: lda, base: base,
                                                            rowOffsets: rowOffsets, c: c, ldc: ldc, accumulate: accumulate)
    }
}
