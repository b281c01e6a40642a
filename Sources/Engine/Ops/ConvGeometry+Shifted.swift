/// Stride-1 convolution as shifted GEMMs over a zero-padded copy of each image (see
/// `ShiftedGemm`): no im2col buffer is written or read.
extension ConvGeometry {
    /// Whether the forward pass and weight gradient can run as shifted GEMMs.
    var runsShifted: Bool { stride == 1 && o % 4 == 0 }

    var paddedHeight: Int { h + 2 * padding }
    var paddedWidth: Int { w + 2 * padding }
    /// Output columns on the padded-width grid (Wp − Wo junk columns per output row).
    var gridColumns: Int { ho * paddedWidth }

    /// Floats a padded image buffer needs so every window can be read to a multiple of 8.
    var paddedBufferLength: Int {
        (c - 1) * paddedHeight * paddedWidth + (kh - 1) * paddedWidth + (kw - 1) + ShiftedGemm.paddedColumns(gridColumns)
    }

    /// Start of the window for im2col row (ci, ky, kx).
    func windowOffsets() -> [Int] {
        var offsets = [Int]()
        offsets.reserveCapacity(colRows)
        for ci in 0..<c { for ky in 0..<kh { for kx in 0..<kw { offsets.append(ci * paddedHeight * paddedWidth + ky * paddedWidth + kx) } } }
        return offsets
    }

    /// Copies one image into `buffer` ([C, Hp, Wp] plus slack) with a zero border.
    func pad(_ x: UnsafePointer<Float>, into buffer: UnsafeMutablePointer<Float>) {
        buffer.update(repeating: 0, count: paddedBufferLength)
        let hp = paddedHeight, wp = paddedWidth
        for ci in 0..<c {
            for iy in 0..<h {
                (buffer + (ci * hp + iy + padding) * wp + padding).update(from: x + (ci * h + iy) * w, count: w)
            }
        }
    }

    /// y (=|+=) weight ⋆ x for all images (+ bias), y in NCHW.
    func shiftedForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let wp = paddedWidth, grid = gridColumns, hw = colCols
        let direct = wp == wo && !accumulate && bias == nil               // no junk columns to drop
        let offsets = windowOffsets()
        offsets.withUnsafeBufferPointer { off in Parallel.chunks(n) { _, images in
            let padded = Tensor(uninitializedShape: [paddedBufferLength])   // one padded image
            let out = direct ? nil : Tensor(uninitializedShape: [o, grid])   // out: [O, Ho·Wp]
            for img in images {
                pad(x + img * inPlane, into: padded.data)
                let yImg = y + img * outPlane
                ShiftedGemm.multiply(m: o, n: grid, k: colRows, a: weight, lda: colRows, base: padded.data,
                                     rowOffsets: off.baseAddress!, c: out?.data ?? yImg, ldc: grid, accumulate: false)
                guard let out else { continue }
                for oc in 0..<o {
                    let bv = bias?[oc] ?? 0
                    for oy in 0..<ho {
                        let src = out.data + oc * grid + oy * wp, dst = yImg + oc * hw + oy * wo
                        if accumulate { for ox in 0..<wo { dst[ox] += src[ox] + bv } }
                        else { for ox in 0..<wo { dst[ox] = src[ox] + bv } }
                    }
                }
            }
        } }
    }

    /// dW[O, C·kh·kw] (=|+=) Σ_images Σ_j dY[o, j] · window(ci, ky, kx)[j].
    ///
    /// Small maps (a few hundred grid columns) would spend most of each tile reducing its
    /// accumulators; there, groups of images are lowered side by side (im2col) so each
    /// reduction covers about a thousand columns.
    func shiftedWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, overwrite: Bool) {
        if gridColumns < 256 {
            groupedWeightGradient(x: x, gy: gy, dw: dw, overwrite: overwrite)
            return
        }
        let wp = paddedWidth, length = ShiftedGemm.paddedColumns(gridColumns)
        let offsets = windowOffsets()
        // Thread 0 accumulates into dw itself; the others into partials summed at the end.
        let partials = (1..<min(Parallel.threads, n)).map { _ in Tensor(uninitializedShape: [o, colRows]) }
        offsets.withUnsafeBufferPointer { off in Parallel.chunks(n) { part, images in
            let padded = Tensor(uninitializedShape: [paddedBufferLength])
            let dy = Tensor.zeros([o, length])   // dy: [O, Ho·Wp (padded to 8)], junk columns stay 0
            let target = part == 0 ? dw : partials[part - 1].data
            for img in images {
                pad(x + img * inPlane, into: padded.data)
                let src = gy + img * outPlane
                for oc in 0..<o {
                    for oy in 0..<ho { (dy.data + oc * length + oy * wp).update(from: src + (oc * ho + oy) * wo, count: wo) }
                }
                let first = img == images.lowerBound
                ShiftedGemm.multiplyTransposed(m: o, k: colRows, length: length, a: dy.data, lda: length,
                                               base: padded.data, rowOffsets: off.baseAddress!, c: target, ldc: colRows,
                                               accumulate: !(first && (part > 0 || overwrite)))
            }
        } }
        for p in partials { for i in 0..<(o * colRows) { dw[i] += p.data[i] } }
    }

    /// dW over groups of images lowered with im2col into [C·kh·kw, G·HW] (rows are the windows).
    func groupedWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, overwrite: Bool) {
        let hw = colCols
        // About 1024 columns per group: measured faster than 512, 768, 2048 and 4096 on ResNet-20
        // (the lowered group, [C·9, 1024] for 64 channels, stays in L2).
        let group = max(1, min(n, 1024 / hw))
        let groups = (n + group - 1) / group
        let ld = ShiftedGemm.paddedColumns(group * hw)
        let offsets = (0..<colRows).map { $0 * ld }
        // Thread 0 accumulates into dw itself; the others into partials summed at the end.
        let partials = (1..<min(Parallel.threads, groups)).map { _ in Tensor(uninitializedShape: [o, colRows]) }
        offsets.withUnsafeBufferPointer { off in Parallel.chunks(groups) { part, mine in
            let cols = Tensor(uninitializedShape: [colRows, ld])   // cols: [C·kh·kw, G·HW (padded)]
            let dy = Tensor.zeros([o, ld])                          // dy: [O, G·HW (padded)], pad stays 0
            let target = part == 0 ? dw : partials[part - 1].data
            for g in mine {
                let first = g * group, count = min(group, n - first)
                if count < group { dy.fill(0) }   // a short last group leaves columns unused: zero them
                for r in 0..<colRows { (cols.data + r * ld + count * hw).update(repeating: 0, count: ld - count * hw) }
                for j in 0..<count { im2col(x + (first + j) * inPlane, into: cols.data + j * hw, ld: ld) }
                gatherOutputGradient(gy, first: first, count: count, into: dy.data, ld: ld)
                let start = g == mine.lowerBound
                ShiftedGemm.multiplyTransposed(m: o, k: colRows, length: ld, a: dy.data, lda: ld,
                                               base: cols.data, rowOffsets: off.baseAddress!, c: target, ldc: colRows,
                                               accumulate: !(start && (part > 0 || overwrite)))
            }
        } }
        for p in partials { for i in 0..<(o * colRows) { dw[i] += p.data[i] } }
    }
}
