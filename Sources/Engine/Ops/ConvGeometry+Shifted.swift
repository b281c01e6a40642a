/// Stride-1 convolution as shifted GEMMs over a zero-padded copy of each image (see
/// `ShiftedGemm`): no im2col buffer is written or read.
///
/// Padded layout: each channel is Hp = H + 2p rows of Wp floats, p zeros, the W pixels, then
/// zeros to the end of the row. The p zeros at the start of a row are also the right border
/// of the row before (a window running past the row's end wraps into them), so a row needs
/// only Wp = W + p when the kernel is at least p + 1 wide (W + 2p − kw + 1 = Wo otherwise, so
/// an output row still fits), and the output grid (Ho rows of Wp columns) carries only
/// Wp − Wo junk columns per row: 1 for a 3×3 "same" convolution.
extension ConvGeometry {
    /// Whether the forward pass and weight gradient can run as shifted GEMMs.
    var runsShifted: Bool { stride == 1 && o % 4 == 0 }

    var paddedHeight: Int { h + 2 * padding }
    var paddedWidth: Int { w + max(padding, 2 * padding - kw + 1) }
    /// Output columns on the padded-width grid (Wp − Wo junk columns per output row).
    var gridColumns: Int { ho * paddedWidth }

    /// Floats a padded image buffer needs so every window can be read to a multiple of 16.
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

    /// Copies one image into `buffer` ([C, Hp, Wp] plus slack) in the padded layout.
    func pad(_ x: UnsafePointer<Float>, into buffer: UnsafeMutablePointer<Float>) {
        buffer.update(repeating: 0, count: paddedBufferLength)
        let hp = paddedHeight, wp = paddedWidth
        for ci in 0..<c {
            for iy in 0..<h {
                // Rows are short (7–28 floats): a loop beats a memmove call per row.
                let dst = buffer + ((ci &* hp &+ iy &+ padding) &* wp &+ padding), src = x + (ci &* h &+ iy) &* w
                for ix in 0..<w { dst[ix] = src[ix] }
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
    /// accumulators; there, groups of images are laid side by side (see
    /// `groupedWeightGradient`) so each reduction covers about a thousand columns.
    func shiftedWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, overwrite: Bool) {
        if gridColumns < 256 {
            groupedWeightGradient(x: x, gy: gy, dw: dw, overwrite: overwrite)
            return
        }
        let length = ShiftedGemm.paddedColumns(gridColumns)
        let offsets = windowOffsets()
        // Thread 0 accumulates into dw itself; the others into partials summed at the end.
        let partials = (1..<min(Parallel.threads, n)).map { _ in Tensor(uninitializedShape: [o, colRows]) }
        offsets.withUnsafeBufferPointer { off in Parallel.chunks(n) { part, images in
            let padded = Tensor(uninitializedShape: [paddedBufferLength])
            let dy = Tensor.zeros([o, length])   // dy: [O, Ho·Wp (padded to 16)], junk columns stay 0
            let target = part == 0 ? dw : partials[part - 1].data
            for img in images {
                pad(x + img * inPlane, into: padded.data)
                scatterToGrid(gy + img * outPlane, into: dy.data, ld: length)
                let first = img == images.lowerBound
                ShiftedGemm.multiplyTransposed(m: o, k: colRows, length: length, a: dy.data, lda: length,
                                               base: padded.data, rowOffsets: off.baseAddress!, c: target, ldc: colRows,
                                               accumulate: !(first && (part > 0 || overwrite)))
            }
        } }
        for p in partials { for i in 0..<(o * colRows) { dw[i] += p.data[i] } }
    }

    /// dW over groups of images side by side: row r of `windows` holds window r of each
    /// image's padded copy, one contiguous run of Ho·Wp floats per image (a copy, not an
    /// im2col gather), against the output gradients on the same grid.
    func groupedWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, overwrite: Bool) {
        let grid = gridColumns
        // About 1024 columns per group: measured faster than 512, 768, 2048 and 4096 on ResNet-20
        // (a group's windows, [C·9, 1024] for 64 channels, stay in L2).
        let group = max(1, min(n, 1024 / grid))
        let groups = (n + group - 1) / group
        let ld = ShiftedGemm.paddedColumns(group * grid)
        let offsets = windowOffsets()
        let rows = (0..<colRows).map { $0 * ld }
        // Thread 0 accumulates into dw itself; the others into partials summed at the end.
        let partials = (1..<min(Parallel.threads, groups)).map { _ in Tensor(uninitializedShape: [o, colRows]) }
        rows.withUnsafeBufferPointer { rowStarts in Parallel.chunks(groups) { part, mine in
            let padded = Tensor(uninitializedShape: [paddedBufferLength])
            // Zero-filled once: columns past a group's images (and junk grid columns of dy) are
            // never written, so they hold zeros or finite earlier values multiplied by zero dY.
            let windows = Tensor.zeros([colRows, ld])   // windows: [C·kh·kw, G·Ho·Wp (padded)]
            let dy = Tensor.zeros([o, ld])              // dy: [O, G·Ho·Wp (padded)]
            let target = part == 0 ? dw : partials[part - 1].data
            for g in mine {
                let first = g * group, count = min(group, n - first)
                if count < group { dy.fill(0) }   // a short last group leaves columns unused: zero them
                for j in 0..<count {
                    pad(x + (first + j) * inPlane, into: padded.data)
                    for r in 0..<colRows {
                        let src = padded.data + offsets[r], dst = windows.data + (r &* ld &+ j &* grid)
                        for t in 0..<grid { dst[t] = src[t] }
                    }
                    scatterToGrid(gy + (first + j) * outPlane, into: dy.data + j * grid, ld: ld)
                }
                let start = g == mine.lowerBound
                ShiftedGemm.multiplyTransposed(m: o, k: colRows, length: ld, a: dy.data, lda: ld,
                                               base: windows.data, rowOffsets: rowStarts.baseAddress!, c: target, ldc: colRows,
                                               accumulate: !(start && (part > 0 || overwrite)))
            }
        } }
        for p in partials { for i in 0..<(o * colRows) { dw[i] += p.data[i] } }
    }

    /// Copies one image's output gradient [O, Ho, Wo] onto the output grid: row o of `dst`
    /// (`ld` floats apart) gets dY[o, oy, ox] at column oy·Wp + ox; junk columns are not written.
    func scatterToGrid(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, ld: Int) {
        let wp = paddedWidth
        for oc in 0..<o {
            for oy in 0..<ho {
                let from = src + (oc &* ho &+ oy) &* wo, to = dst + (oc &* ld &+ oy &* wp)
                for ox in 0..<wo { to[ox] = from[ox] }
            }
        }
    }
}
