/// Stride-1 and stride-2 convolutions as shifted GEMMs (see `ShiftedGemm`): each image is
/// copied once into a buffer in which every im2col row is a contiguous window, so no im2col
/// matrix is written or read.
///
/// - Stride 1, padded layout: each channel is Hp = H + 2p rows of Wp floats, p zeros, the W
///   pixels, then zeros to the end of the row. The p zeros at the start of a row are also the
///   right border of the row before (a window running past the row's end wraps into them), so
///   a row needs only Wp = W + p when the kernel is at least p + 1 wide (W + 2p − kw + 1 = Wo
///   otherwise, so an output row still fits), and the output grid (Ho rows of Wp columns)
///   carries only Wp − Wo junk columns per row: 1 for a 3×3 "same" convolution.
/// - Stride 2, phase layout: the zero-padded image split into its four phases (even/odd rows ×
///   even/odd columns), each [C, ⌈Hp/2⌉, ⌈Wp/2⌉]. Tap (ky, kx) of a stride-2 window is the
///   stride-1 window of phase (ky mod 2, kx mod 2) shifted by (⌊ky/2⌋, ⌊kx/2⌋).
struct WindowLayout {
    /// Floats one lowered image takes, with the slack its last windows read.
    let bufferLength: Int
    /// Row stride of the output grid (≥ Wo; the extra columns are junk).
    let gridWidth: Int
    /// Window start for im2col row (ci, ky, kx).
    let offsets: [Int]
    /// Writes one image [C, H, W] into a buffer of `bufferLength` floats.
    let fill: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
}

extension ConvGeometry {
    /// Whether the forward pass and weight gradient can run as shifted GEMMs.
    var runsShifted: Bool { (stride == 1 || stride == 2) && o % 4 == 0 }

    /// Output columns on the layout's grid (junk columns included).
    var gridColumns: Int { ho * (stride == 1 ? paddedWidth : phaseWidth) }

    /// The window layout of this (stride-1 or stride-2) convolution's input.
    var windowLayout: WindowLayout { stride == 1 ? paddedLayout : phaseLayout }

    var paddedHeight: Int { h + 2 * padding }
    var paddedWidth: Int { w + max(padding, 2 * padding - kw + 1) }

    var paddedLayout: WindowLayout {
        let hp = paddedHeight, wp = paddedWidth
        var offsets = [Int]()
        offsets.reserveCapacity(colRows)
        for ci in 0..<c { for ky in 0..<kh { for kx in 0..<kw { offsets.append(ci * hp * wp + ky * wp + kx) } } }
        let length = (c - 1) * hp * wp + (kh - 1) * wp + (kw - 1) + ShiftedGemm.paddedColumns(ho * wp)
        // Plain values, not self: the loops then keep them in registers and vectorise.
        let (c, h, w, padding) = (c, h, w, padding)
        return WindowLayout(bufferLength: length, gridWidth: wp, offsets: offsets) { x, buffer in
            VectorMath.zero(buffer, length)
            for ci in 0..<c {
                for iy in 0..<h {
                    // Rows are short (7–28 floats): a loop beats a memmove call per row.
                    let dst = buffer + ((ci &* hp &+ iy &+ padding) &* wp &+ padding), src = x + (ci &* h &+ iy) &* w
                    for ix in 0..<w { dst[ix] = src[ix] }
                }
            }
        }
    }

    var phaseHeight: Int { (h + 2 * padding + 1) / 2 }
    var phaseWidth: Int { (w + 2 * padding + 1) / 2 }

    var phaseLayout: WindowLayout {
        let hq = phaseHeight, wq = phaseWidth, plane = hq * wq
        var offsets = [Int]()
        offsets.reserveCapacity(colRows)
        for ci in 0..<c {
            for ky in 0..<kh {
                for kx in 0..<kw { offsets.append(((ky % 2 * 2 + kx % 2) * c + ci) * plane + ky / 2 * wq + kx / 2) }
            }
        }
        // Phases no tap reads (odd ones of a 1×1 kernel) are left out of the fill.
        let used = (0..<4).map { phase in (0..<kh).contains { $0 % 2 == phase / 2 } && (0..<kw).contains { $0 % 2 == phase % 2 } }
        let length = (offsets.max() ?? 0) + ShiftedGemm.paddedColumns(ho * wq)
        let (c, h, w, padding) = (c, h, w, padding)
        return WindowLayout(bufferLength: length, gridWidth: wq, offsets: offsets) { x, buffer in
            VectorMath.zero(buffer, length)
            for phase in 0..<4 where used[phase] {
                let py = phase / 2, px = phase % 2
                // Phase row a holds padded row 2a + py, i.e. image row 2a + py − p; likewise columns.
                let firstColumn = max(0, (padding - px + 1) / 2), lastColumn = min(wq, (w - 1 + padding - px) / 2 + 1)
                for ci in 0..<c {
                    let dstPlane = buffer + (phase * c + ci) * plane, srcPlane = x + ci * h * w
                    for a in 0..<hq {
                        let iy = 2 &* a &+ py &- padding
                        guard iy >= 0 && iy < h else { continue }
                        let srcStart: Int = iy &* w &+ px &- padding
                        let dst = dstPlane + a &* wq, src = srcPlane + srcStart
                        for b in firstColumn..<max(firstColumn, lastColumn) { dst[b] = src[2 &* b] }
                    }
                }
            }
        }
    }

    /// y (=|+=) weight ⋆ x for all images (+ bias), y in NCHW.
    func shiftedForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let layout = windowLayout
        let wp = layout.gridWidth, grid = gridColumns, hw = colCols
        let direct = wp == wo && !accumulate && bias == nil               // no junk columns to drop
        layout.offsets.withUnsafeBufferPointer { off in Parallel.chunks(n) { _, images in
            let padded = Tensor(uninitializedShape: [layout.bufferLength])   // one lowered image
            let out = direct ? nil : Tensor(uninitializedShape: [o, grid])   // out: [O, Ho·Wp]
            for img in images {
                layout.fill(x + img * inPlane, padded.data)
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
    /// With AVX-512 and a multiple of 16 output channels, the broadcast kernel reads each
    /// image's windows in place (`broadcastWeightGradient`). Otherwise the dot-product kernel
    /// runs image by image, or — on small maps, where each tile would spend most of its time
    /// reducing its accumulators — on groups of images laid side by side
    /// (`groupedWeightGradient`).
    func shiftedWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>) -> [Double] {
        if ShiftedGemm.hasBroadcastWeightGradient(m: o) { return broadcastWeightGradient(x: x, gy: gy) }
        if gridColumns < 256 { return groupedWeightGradient(x: x, gy: gy) }
        let layout = windowLayout
        let length = ShiftedGemm.paddedColumns(gridColumns)
        return layout.offsets.withUnsafeBufferPointer { off in
            let units = weightGradientUnits(group: 1)
            return sumWeightGradient(units: units) { mine, add in
                let padded = Tensor(uninitializedShape: [layout.bufferLength])
                let dy = Tensor.zeros([o, length])   // dy: [O, Ho·Wp (padded to 16)], junk columns stay 0
                for u in mine {
                    let img = units[u][0]
                    layout.fill(x + img * inPlane, padded.data)
                    scatterToGrid(gy + img * outPlane, into: dy.data, ld: length, gridWidth: layout.gridWidth)
                    add(u) { product in
                        ShiftedGemm.multiplyTransposed(m: o, k: colRows, length: length, a: dy.data, lda: length,
                                                       base: padded.data, rowOffsets: off.baseAddress!, c: product,
                                                       ldc: colRows, accumulate: false)
                    }
                }
            }
        }
    }

    /// dW with the broadcast kernel over groups of about 1024 grid columns (one image of a
    /// large map, several of a small one, always from one batch chunk), each image's windows
    /// read where its lowered copy lies and the output gradients transposed onto the grid
    /// (channels contiguous).
    func broadcastWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>) -> [Double] {
        let grid = gridColumns
        let group = max(1, 1024 / grid)
        let units = weightGradientUnits(group: group)
        let layout = windowLayout, stride = layout.bufferLength
        return layout.offsets.withUnsafeBufferPointer { off in
            sumWeightGradient(units: units) { mine, add in
                let lowered = Tensor(uninitializedShape: [group * stride])   // lowered: [G, one lowered image]
                let dyT = Tensor.zeros([group * grid, o])                    // dyT: [G·Ho·Wp, O], junk rows stay 0
                for u in mine {
                    let images = units[u]
                    for (j, img) in images.enumerated() {
                        layout.fill(x + img * inPlane, lowered.data + j * stride)
                        scatterToGridTransposed(gy + img * outPlane, into: dyT.data + j * grid * o, gridWidth: layout.gridWidth)
                    }
                    add(u) { product in
                        ShiftedGemm.multiplyTransposedBroadcast(m: o, k: colRows, images: images.count, length: grid,
                                                                at: dyT.data, ldat: o, base: lowered.data, baseStride: stride,
                                                                rowOffsets: off.baseAddress!, c: product, ldc: colRows,
                                                                accumulate: false)
                    }
                }
            }
        }
    }

    /// The images of each batch chunk (`BatchReduction`) in position order, cut into groups of
    /// at most `group`, chunk after chunk: the same groups however the batch is split across
    /// processes, so every group's float product is the same bits.
    func weightGradientUnits(group: Int) -> [[Int]] {
        let chunks = reduction.chunks(images: n)
        var units: [[Int]] = []
        for chunk in 0..<chunks {
            let members = Array(Swift.stride(from: chunk, to: n, by: reduction.localChunks))
            for start in Swift.stride(from: 0, to: members.count, by: group) {
                units.append(Array(members[start..<min(start + group, members.count)]))
            }
        }
        return units
    }

    /// dW over groups of images side by side: row r of `windows` holds window r of each
    /// image's padded copy, one contiguous run of Ho·Wp floats per image (a copy, not an
    /// im2col gather), against the output gradients on the same grid. A group holds images of
    /// one batch chunk (`BatchReduction`), about 1024 grid columns of them (measured faster
    /// than 512, 768, 2048 and 4096 on ResNet-20; a group's windows stay in L2).
    func groupedWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>) -> [Double] {
        let grid = gridColumns
        let group = max(1, 1024 / grid)
        let units = weightGradientUnits(group: group)
        let ld = ShiftedGemm.paddedColumns(group * grid)
        let layout = windowLayout, offsets = layout.offsets
        let rows = (0..<colRows).map { $0 * ld }
        return rows.withUnsafeBufferPointer { rowStarts in
            sumWeightGradient(units: units) { mine, add in
                let padded = Tensor(uninitializedShape: [layout.bufferLength])
                // Zero-filled once: columns past a group's images (and junk grid columns of dy) are
                // never written, so they hold zeros or finite earlier values multiplied by zero dY.
                let windows = Tensor.zeros([colRows, ld])   // windows: [C·kh·kw, G·Ho·Wp (padded)]
                let dy = Tensor.zeros([o, ld])              // dy: [O, G·Ho·Wp (padded)]
                for u in mine {
                    let images = units[u]
                    if images.count < group { dy.fill(0) }   // a short group leaves columns unused: zero them
                    for (j, img) in images.enumerated() {
                        layout.fill(x + img * inPlane, padded.data)
                        for r in 0..<colRows {
                            let src = padded.data + offsets[r], dst = windows.data + (r &* ld &+ j &* grid)
                            for t in 0..<grid { dst[t] = src[t] }
                        }
                        scatterToGrid(gy + img * outPlane, into: dy.data + j * grid, ld: ld, gridWidth: layout.gridWidth)
                    }
                    add(u) { product in
                        ShiftedGemm.multiplyTransposed(m: o, k: colRows, length: ld, a: dy.data, lda: ld,
                                                       base: windows.data, rowOffsets: rowStarts.baseAddress!, c: product,
                                                       ldc: colRows, accumulate: false)
                    }
                }
            }
        }
    }

    /// The sum over the batch of per-unit (image or group of one chunk's images) weight-gradient
    /// products, [O, C·kh·kw], in double: per chunk of the batch, then `BatchReduction`'s tree.
    ///
    /// A weight gradient adds up every position of every image, and the first layers see
    /// inputs with large means whose products mostly cancel: float accumulation across the
    /// batch costs digits there (it decided a PyTorch reference comparison of two ResNet-20
    /// training steps). Each unit's float product is added into its chunk's double sum; the
    /// chunking makes the result the same however the batch is split across processes (with
    /// one thread per process), and the caller hands it on (`Tensor.accumulatePreciseGrad`).
    ///
    /// `body(units, add)` runs once per thread on its contiguous range of `units` and calls
    /// `add(unit)` once per unit, in order, with a closure that writes that unit's product
    /// into the given buffer.
    func sumWeightGradient(units: [[Int]],
                           _ body: (Range<Int>, (_ unit: Int, _ product: (UnsafeMutablePointer<Float>) -> Void) -> Void) -> Void) -> [Double] {
        let size = o * colRows
        let chunks = reduction.chunks(images: n)
        let parts = max(1, min(Parallel.threads, units.count))
        return BufferPool.shared.withDoubles(parts * chunks * size) { base in   // base: [parts, chunks, O·C·kh·kw]
            Parallel.chunks(units.count) { part, range in
                let product = Tensor(uninitializedShape: [o, colRows])
                body(range) { unit, write in
                    write(product.data)
                    let sum = base + (part * chunks + reduction.chunk(of: units[unit][0])) * size
                    for i in 0..<size { sum[i] += Double(product.data[i]) }
                }
            }
            for part in 1..<parts { for i in 0..<(chunks * size) { base[i] += base[part * chunks * size + i] } }
            BatchReduction.combine(base, chunks: chunks, size: size)
            return Array(UnsafeBufferPointer(start: base, count: size))
        }
    }

    /// Copies one image's output gradient [O, Ho, Wo] onto the output grid: row o of `dst`
    /// (`ld` floats apart) gets dY[o, oy, ox] at column oy·Wp + ox; junk columns are not written.
    func scatterToGrid(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, ld: Int, gridWidth wp: Int) {
        for oc in 0..<o {
            for oy in 0..<ho {
                let from = src + (oc &* ho &+ oy) &* wo, to = dst + (oc &* ld &+ oy &* wp)
                for ox in 0..<wo { to[ox] = from[ox] }
            }
        }
    }

    /// `scatterToGrid` transposed: dst[(oy·Wp + ox)·O + o] = dY[o, oy, ox], channels
    /// contiguous, for `multiplyTransposedBroadcast`; junk rows are not written. O must be a
    /// multiple of 16: blocks of 16 channels are gathered into whole 64-byte lines.
    func scatterToGridTransposed(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, gridWidth wp: Int) {
        let o = o, ho = ho, wo = wo, plane = ho * wo
        for ob in Swift.stride(from: 0, to: o, by: 16) {
            let block = src + ob &* plane   // block: 16 channel planes, `plane` floats apart
            for oy in 0..<ho {
                let from = block + oy &* wo, to = dst + (oy &* wp &* o &+ ob)
                for ox in 0..<wo {
                    var v = SIMD16<Float>()
                    for t in 0..<16 { v[t] = from[t &* plane &+ ox] }
                    UnsafeMutableRawPointer(to + ox &* o).storeBytes(of: v, as: SIMD16<Float>.self)
                }
            }
        }
    }
}
