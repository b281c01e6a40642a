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
        (c - 1) * paddedHeight * paddedWidth + (kh - 1) * paddedWidth + (kw - 1) + PanelGemm.paddedColumns(gridColumns)
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
        let padded = Tensor(uninitializedShape: [paddedBufferLength])   // one padded image
        let direct = wp == wo && !accumulate && bias == nil               // no junk columns to drop
        let out = direct ? nil : Tensor(uninitializedShape: [o, grid])   // out: [O, Ho·Wp]
        let offsets = windowOffsets()
        offsets.withUnsafeBufferPointer { off in
            for img in 0..<n {
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
        }
    }

    /// dW[O, C·kh·kw] (=|+=) Σ_images Σ_j dY[o, j] · window(ci, ky, kx)[j].
    func shiftedWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dw: UnsafeMutablePointer<Float>, overwrite: Bool) {
        let wp = paddedWidth, length = PanelGemm.paddedColumns(gridColumns)
        let padded = Tensor(uninitializedShape: [paddedBufferLength])
        let dy = Tensor.zeros([o, length])   // dy: [O, Ho·Wp (padded to 8)], junk columns stay 0
        let offsets = windowOffsets()
        offsets.withUnsafeBufferPointer { off in
            for img in 0..<n {
                pad(x + img * inPlane, into: padded.data)
                let src = gy + img * outPlane
                for oc in 0..<o {
                    for oy in 0..<ho { (dy.data + oc * length + oy * wp).update(from: src + (oc * ho + oy) * wo, count: wo) }
                }
                ShiftedGemm.multiplyTransposed(m: o, k: colRows, length: length, a: dy.data, lda: length,
                                               base: padded.data, rowOffsets: off.baseAddress!, c: dw, ldc: colRows,
                                               accumulate: !(overwrite && img == 0))
            }
        }
    }
}
