/// The weight-gradient product in broadcast form, for CPUs with 32 vector registers
/// (AVX-512): Cᵀ[k, m] = B[k, len] · Aᵀ[len, m], with Aᵀ (the output gradient transposed,
/// channels contiguous) loaded as vectors and each window value B[r, j] broadcast. The
/// accumulators then hold whole outputs — no horizontal reductions, no A reloads per window —
/// and a tile of 9 windows × 1 or 2 vectors of channels keeps 9 or 18 of them. A tile sums
/// over several images (each its own window buffer) before storing, so small maps need no
/// copying to make long products.
extension ShiftedGemmKernel {
    /// C[m, k] (=|+=) Σ_img A_img[m, len] · B_img[k, len]ᵀ, given each Aᵀ_img [len, m] (rows
    /// `ldat` floats apart, image after image from `at`) and B_img's row r starting at
    /// `base + img·baseStride + rowOffsets[r]`. m must be a multiple of the vector width.
    @inlinable
    public static func multiplyTransposedBroadcast(m: Int, k: Int, images: Int, length len: Int,
                                                   at: UnsafePointer<Float>, ldat: Int,
                                                   base: UnsafePointer<Float>, baseStride: Int, rowOffsets: UnsafePointer<Int>,
                                                   c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        let w = width
        let vectors = m % (2 * w) == 0 ? 2 : 1
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 9) { tileOffsets in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 9 * 2 * w) { staging in
                let off = tileOffsets.baseAddress!, s = staging.baseAddress!   // s: [9, vectors·w]
                var r0 = 0
                while r0 < k {
                    let rows = min(9, k - r0)
                    // Fewer than 9 windows left: repeat the last (its extra results are dropped).
                    for r in 0..<9 { off[r] = rowOffsets[r0 + min(r, rows - 1)] }
                    var o0 = 0
                    while o0 < m {
                        if vectors == 2 {
                            broadcastTile2(images: images, length: len, at: at + o0, ldat: ldat, base: base,
                                           baseStride: baseStride, offsets: UnsafePointer(off), staging: s)
                        } else {
                            broadcastTile1(images: images, length: len, at: at + o0, ldat: ldat, base: base,
                                           baseStride: baseStride, offsets: UnsafePointer(off), staging: s)
                        }
                        let span = vectors * w
                        for r in 0..<rows {
                            for t in 0..<span {
                                let dst = c + (o0 + t) * ldc + r0 + r
                                dst.pointee = accumulate ? dst.pointee + s[r * span + t] : s[r * span + t]
                            }
                        }
                        o0 += span
                    }
                    r0 += 9
                }
            }
        }
    }

    /// Windows r0..<r0+9 against 1 vector(s) of channels, summed over all images:
    /// s[r, v] = Σ_img Σ_j B_img[r, j]·Aᵀ_img[j, v].
    @inlinable @inline(__always)
    static func broadcastTile1(images: Int, length len: Int, at: UnsafePointer<Float>, ldat: Int,
                                base: UnsafePointer<Float>, baseStride: Int, offsets off: UnsafePointer<Int>,
                                staging s: UnsafeMutablePointer<Float>) {
        var c00 = V(), c10 = V(), c20 = V(), c30 = V(), c40 = V(), c50 = V(), c60 = V(), c70 = V(), c80 = V()
        let rowBytes = ldat &* 4
        var ra = UnsafeRawPointer(at)
        for img in 0..<images {
            let b = base + img &* baseStride
            let w0 = b + off[0], w1 = b + off[1], w2 = b + off[2], w3 = b + off[3], w4 = b + off[4], w5 = b + off[5], w6 = b + off[6], w7 = b + off[7], w8 = b + off[8]
            var j = 0
            while j < len {
                let a0 = ra.loadUnaligned(fromByteOffset: j &* rowBytes &+ 0 &* V.scalarCount &* 4, as: V.self)
                let b0 = V(repeating: w0[j])
                c00 = c00.addingProduct(b0, a0)
                let b1 = V(repeating: w1[j])
                c10 = c10.addingProduct(b1, a0)
                let b2 = V(repeating: w2[j])
                c20 = c20.addingProduct(b2, a0)
                let b3 = V(repeating: w3[j])
                c30 = c30.addingProduct(b3, a0)
                let b4 = V(repeating: w4[j])
                c40 = c40.addingProduct(b4, a0)
                let b5 = V(repeating: w5[j])
                c50 = c50.addingProduct(b5, a0)
                let b6 = V(repeating: w6[j])
                c60 = c60.addingProduct(b6, a0)
                let b7 = V(repeating: w7[j])
                c70 = c70.addingProduct(b7, a0)
                let b8 = V(repeating: w8[j])
                c80 = c80.addingProduct(b8, a0)
                j &+= 1
            }
            ra += len &* rowBytes
        }
        let rs = UnsafeMutableRawPointer(s), bytes = V.scalarCount &* 4
        rs.storeBytes(of: c00, toByteOffset: (0 &* 1 &+ 0) &* bytes, as: V.self)
        rs.storeBytes(of: c10, toByteOffset: (1 &* 1 &+ 0) &* bytes, as: V.self)
        rs.storeBytes(of: c20, toByteOffset: (2 &* 1 &+ 0) &* bytes, as: V.self)
        rs.storeBytes(of: c30, toByteOffset: (3 &* 1 &+ 0) &* bytes, as: V.self)
        rs.storeBytes(of: c40, toByteOffset: (4 &* 1 &+ 0) &* bytes, as: V.self)
        rs.storeBytes(of: c50, toByteOffset: (5 &* 1 &+ 0) &* bytes, as: V.self)
        rs.storeBytes(of: c60, toByteOffset: (6 &* 1 &+ 0) &* bytes, as: V.self)
        rs.storeBytes(of: c70, toByteOffset: (7 &* 1 &+ 0) &* bytes, as: V.self)
        rs.storeBytes(of: c80, toByteOffset: (8 &* 1 &+ 0) &* bytes, as: V.self)
    }

    /// Windows r0..<r0+9 against 2 vector(s) of channels, summed over all images:
    /// s[r, v] = Σ_img Σ_j B_img[r, j]·Aᵀ_img[j, v].
    @inlinable @inline(__always)
    static func broadcastTile2(images: Int, length len: Int, at: UnsafePointer<Float>, ldat: Int,
                                base: UnsafePointer<Float>, baseStride: Int, offsets off: UnsafePointer<Int>,
                                staging s: UnsafeMutablePointer<Float>) {
        var c00 = V(), c10 = V(), c20 = V(), c30 = V(), c40 = V(), c50 = V(), c60 = V(), c70 = V(), c80 = V()
        var c01 = V(), c11 = V(), c21 = V(), c31 = V(), c41 = V(), c51 = V(), c61 = V(), c71 = V(), c81 = V()
        let rowBytes = ldat &* 4
        var ra = UnsafeRawPointer(at)
        for img in 0..<images {
            let b = base + img &* baseStride
            let w0 = b + off[0], w1 = b + off[1], w2 = b + off[2], w3 = b + off[3], w4 = b + off[4], w5 = b + off[5], w6 = b + off[6], w7 = b + off[7], w8 = b + off[8]
            var j = 0
            while j < len {
                let a0 = ra.loadUnaligned(fromByteOffset: j &* rowBytes &+ 0 &* V.scalarCount &* 4, as: V.self)
                let a1 = ra.loadUnaligned(fromByteOffset: j &* rowBytes &+ 1 &* V.scalarCount &* 4, as: V.self)
                let b0 = V(repeating: w0[j])
                c00 = c00.addingProduct(b0, a0); c01 = c01.addingProduct(b0, a1)
                let b1 = V(repeating: w1[j])
                c10 = c10.addingProduct(b1, a0); c11 = c11.addingProduct(b1, a1)
                let b2 = V(repeating: w2[j])
                c20 = c20.addingProduct(b2, a0); c21 = c21.addingProduct(b2, a1)
                let b3 = V(repeating: w3[j])
                c30 = c30.addingProduct(b3, a0); c31 = c31.addingProduct(b3, a1)
                let b4 = V(repeating: w4[j])
                c40 = c40.addingProduct(b4, a0); c41 = c41.addingProduct(b4, a1)
                let b5 = V(repeating: w5[j])
                c50 = c50.addingProduct(b5, a0); c51 = c51.addingProduct(b5, a1)
                let b6 = V(repeating: w6[j])
                c60 = c60.addingProduct(b6, a0); c61 = c61.addingProduct(b6, a1)
                let b7 = V(repeating: w7[j])
                c70 = c70.addingProduct(b7, a0); c71 = c71.addingProduct(b7, a1)
                let b8 = V(repeating: w8[j])
                c80 = c80.addingProduct(b8, a0); c81 = c81.addingProduct(b8, a1)
                j &+= 1
            }
            ra += len &* rowBytes
        }
        let rs = UnsafeMutableRawPointer(s), bytes = V.scalarCount &* 4
        rs.storeBytes(of: c00, toByteOffset: (0 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c01, toByteOffset: (0 &* 2 &+ 1) &* bytes, as: V.self)
        rs.storeBytes(of: c10, toByteOffset: (1 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c11, toByteOffset: (1 &* 2 &+ 1) &* bytes, as: V.self)
        rs.storeBytes(of: c20, toByteOffset: (2 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c21, toByteOffset: (2 &* 2 &+ 1) &* bytes, as: V.self)
        rs.storeBytes(of: c30, toByteOffset: (3 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c31, toByteOffset: (3 &* 2 &+ 1) &* bytes, as: V.self)
        rs.storeBytes(of: c40, toByteOffset: (4 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c41, toByteOffset: (4 &* 2 &+ 1) &* bytes, as: V.self)
        rs.storeBytes(of: c50, toByteOffset: (5 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c51, toByteOffset: (5 &* 2 &+ 1) &* bytes, as: V.self)
        rs.storeBytes(of: c60, toByteOffset: (6 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c61, toByteOffset: (6 &* 2 &+ 1) &* bytes, as: V.self)
        rs.storeBytes(of: c70, toByteOffset: (7 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c71, toByteOffset: (7 &* 2 &+ 1) &* bytes, as: V.self)
        rs.storeBytes(of: c80, toByteOffset: (8 &* 2 &+ 0) &* bytes, as: V.self); rs.storeBytes(of: c81, toByteOffset: (8 &* 2 &+ 1) &* bytes, as: V.self)
    }
}
