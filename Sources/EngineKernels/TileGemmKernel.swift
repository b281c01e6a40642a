/// One matrix product for `TileGemmKernel`: C[m, n] = start + Σ_t A(i, t) · B[t, :] over the
/// product's inner rows t. A is read in place through two strides, A(i, t) = a[i·sa + t·st],
/// so a row-major A (sa = its row length, st = 1) and a transposed one (sa = 1, st = its row
/// length) are the same case and neither is copied; B's row t starts at `b + t·ldb`.
///
/// The inner rows are 0..<k, or — with `segments` — the rows `s ..< s + k` of each listed
/// start s in order (the token rows of the images of one batch chunk).
///
/// Every element of C is one chain of fused multiply-adds over t in order, from zero, to
/// which C's old value (`.accumulate`) or a row vector (`.row`, a bias) is then added: its
/// bits depend neither on the tile shape, the vector width, nor the other rows and columns
/// of the call.
public struct TileGemmProblem {
    /// Where each element's chain starts.
    public enum Start { case zero, accumulate, row(UnsafePointer<Float>) }

    public var m: Int, n: Int, k: Int
    public var a: UnsafePointer<Float>, sa: Int, st: Int
    public var b: UnsafePointer<Float>, ldb: Int
    public var c: UnsafeMutablePointer<Float>, ldc: Int
    public var start: Start
    public var segments: UnsafeBufferPointer<Int>?

    /// B, C and a `.row` start must be readable up to a whole tile past column n (up to 96
    /// floats): C's lanes past n are read and written back unchanged.
    public init(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, sa: Int, st: Int, b: UnsafePointer<Float>, ldb: Int,
                c: UnsafeMutablePointer<Float>, ldc: Int, start: Start = .zero, segments: UnsafeBufferPointer<Int>? = nil) {
        (self.m, self.n, self.k) = (m, n, k)
        (self.a, self.sa, self.st) = (a, sa, st)
        (self.b, self.ldb, self.c, self.ldc) = (b, ldb, c, ldc)
        self.start = start
        self.segments = segments
    }
}

/// Register tiles of R rows × NV vectors of C held in registers across the whole inner loop:
/// each step loads NV vectors of B's row and broadcasts R elements of A. The instruction-set
/// modules pick R and NV for their register count (`TileGemmAVX2`, `TileGemmAVX512`).
///
/// A tile at the bottom edge reads its missing rows' A from the last real row and stores
/// only the real ones, so any m runs at the full tile's speed; a tile at the right edge
/// computes whole vectors and writes back only the lanes below n.
public enum TileGemmKernel<V: SIMD, let R: Int, let NV: Int> where V.Scalar == Float {
    @inlinable
    public static func multiply(_ q: TileGemmProblem) {
        let block = NV &* V.scalarCount
        // A row-major A is taken in blocks of rows (about 24 KB) that stay in cache while every
        // column block of B passes over them; while one block is computed, the next block's
        // rows of A and C are read into the cache (`CacheWarming`).
        let rowBlock = q.st == 1 ? max(R, (6_144 / max(q.k, 1)) / R * R) : q.m
        var b0 = 0
        while b0 < q.m {
            let end = min(q.m, b0 &+ rowBlock)
            if q.st == 1 && end < q.m {
                let next = min(q.m, end &+ rowBlock)
                CacheWarming.touch(UnsafePointer(q.c + end &* q.ldc), count: (next &- end) &* q.ldc)
                CacheWarming.touch(q.a + end &* q.sa, count: (next &- end) &* q.sa)
            }
            var j0 = 0
            while j0 < q.n {
                let columns = min(block, q.n &- j0)
                var i0 = b0
                while i0 < end {
                    tile(q, i0: i0, rows: min(R, end &- i0), j0: j0, columns: columns)
                    i0 &+= R
                }
                j0 &+= block
            }
            b0 = end
        }
    }

    @inlinable @inline(__always)
    static func tile(_ q: TileGemmProblem, i0: Int, rows: Int, j0: Int, columns: Int) {
        let bytes = V.scalarCount &* 4
        var aRow = InlineArray<R, Int>(repeating: 0)   // A's offset of each tile row (the last real row repeated)
        for r in 0..<R { aRow[r] = (i0 &+ min(r, rows &- 1)) &* q.sa }
        let cTile = UnsafeMutableRawPointer(q.c + (i0 &* q.ldc &+ j0)), cStride = q.ldc &* 4

        // The chains start from zero in registers; what the product starts from is added once
        // when the tile is stored (a conditional start here keeps the compiler from holding
        // the accumulators in registers).
        var acc = InlineArray<R, InlineArray<NV, V>>(repeating: .init(repeating: V()))
        let segmentCount = q.segments?.count ?? 1, bStride = q.ldb &* 4
        for s in 0..<segmentCount {
            let t0 = q.segments?[s] ?? 0
            var a = q.a + t0 &* q.st
            var bRow = UnsafeRawPointer(q.b + (t0 &* q.ldb &+ j0))
            for _ in 0..<q.k {
                var bv = InlineArray<NV, V>(repeating: V())
                for v in 0..<NV { bv[v] = bRow.loadUnaligned(fromByteOffset: v &* bytes, as: V.self) }
                for r in 0..<R {
                    let av = V(repeating: a[aRow[r]])
                    for v in 0..<NV { acc[r][v] = acc[r][v].addingProduct(av, bv[v]) }
                }
                a += q.st
                bRow += bStride
            }
        }

        var lane = V()
        for l in 0..<V.scalarCount { lane[l] = Float(l) }
        for r in 0..<R where r < rows {
            let row = cTile + r &* cStride
            for v in 0..<NV {
                let left = columns &- v &* V.scalarCount
                if left <= 0 { break }
                let offset = v &* bytes
                var value = acc[r][v]
                switch q.start {
                case .zero: break
                case .accumulate: value += row.loadUnaligned(fromByteOffset: offset, as: V.self)
                case .row(let initial): value += UnsafeRawPointer(initial + j0).loadUnaligned(fromByteOffset: offset, as: V.self)
                }
                if left >= V.scalarCount {
                    row.storeBytes(of: value, toByteOffset: offset, as: V.self)
                } else {
                    var kept = row.loadUnaligned(fromByteOffset: offset, as: V.self)
                    kept.replace(with: value, where: lane .< V(repeating: Float(left)))
                    row.storeBytes(of: kept, toByteOffset: offset, as: V.self)
                }
            }
        }
    }
}

/// `TileGemmKernel` 8 wide for AVX2 + FMA (16 vector registers: at most 12 accumulators).
public enum TileGemmAVX2 {
    public static func multiply(_ q: TileGemmProblem) {
        typealias V = SIMD8<Float>
        switch q.n {
        case ...8: TileRows.fewestWasted(q.m, 12, 10, 10) == 12 ? TileGemmKernel<V, 12, 1>.multiply(q) : TileGemmKernel<V, 10, 1>.multiply(q)
        case ...16: TileRows.fewestWasted(q.m, 6, 5, 5) == 6 ? TileGemmKernel<V, 6, 2>.multiply(q) : TileGemmKernel<V, 5, 2>.multiply(q)
        default: TileGemmKernel<V, 4, 3>.multiply(q)
        }
    }
}

/// The tile height to use for m rows.
public enum TileRows {
    /// Of three candidate heights (largest first), the one whose tiles cover m with the fewest
    /// padded rows; ties go to the larger.
    @inlinable
    public static func fewestWasted(_ m: Int, _ r0: Int, _ r1: Int, _ r2: Int) -> Int {
        func waste(_ r: Int) -> Int { (m + r - 1) / r * r - m }
        var best = r0
        if waste(r1) < waste(best) { best = r1 }
        if waste(r2) < waste(best) { best = r2 }
        return best
    }
}
