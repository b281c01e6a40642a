/// 2-d convolution (cross-correlation, as PyTorch) lowered to matrix products.
///
/// Stride-1 and stride-2 convolutions — forward, input gradient (for stride 1 itself a
/// convolution of the output gradient with the flipped, transposed kernel; for stride 2 one
/// such product per input phase) and weight gradient — run as `ShiftedGemm` products over
/// padded or phase-split images, with no im2col buffer. Other strides lower each image with
/// im2col for the forward pass and use OpenBLAS on groups of images for the gradients.
extension Tensor {
    /// x [N,C,H,W] ⋆ weight [O,C,kh,kw] (+ bias [O]) → [N,O,Ho,Wo]; same stride and padding on
    /// both axes. `reduction` chunks the weight- and bias-gradient sums over the batch.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                       reduction: BatchReduction = .singleProcess) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && shape[1] == weight.shape[1],
                     "conv2d: input \(shape) with weight \(weight.shape)")
        precondition(bias == nil || bias!.shape == [weight.shape[0]], "conv2d: bias \(bias!.shape) for weight \(weight.shape)")
        let g = ConvGeometry(input: shape, weight: weight.shape, stride: stride, padding: padding, reduction: reduction)
        precondition(g.ho > 0 && g.wo > 0, "conv2d: kernel larger than padded input \(shape)")
        let y = Tensor(uninitializedShape: [g.n, g.o, g.ho, g.wo])
        g.forward(x: data, weight: weight.data, bias: bias?.data, y: y.data)
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        Autograd.record(y, inputs: inputs, op: "conv2d", flops: g.flops) { [self] gy in
            if weight.requiresGrad || (bias?.requiresGrad ?? false) {
                g.weightGradient(x: data, gy: gy.data, dw: weight.requiresGrad ? weight : nil,
                                 db: (bias?.requiresGrad ?? false) ? bias : nil)
            }
            if requiresGrad {
                accumulateGrad { dx, overwrite in g.inputGradient(gy: gy.data, weight: weight.data, dx: dx, overwrite: overwrite) }
            }
        }
        return y
    }
}

extension ConvGeometry {
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 y: UnsafeMutablePointer<Float>) {
        let hw = colCols
        if runsShifted {
            shiftedForward(x: x, weight: weight, bias: bias, y: y, accumulate: false)
            return
        }
        if o % ShiftedGemm.tileRows == 0 {
            // Strided: lower each image explicitly; the column rows are the "windows".
            let ld = ShiftedGemm.paddedColumns(hw)
            let cols = Tensor(uninitializedShape: [colRows, ld])   // cols: [C·kh·kw, Ho·Wo (padded)]
            let offsets = (0..<colRows).map { $0 * ld }
            offsets.withUnsafeBufferPointer { off in
                for img in 0..<n {
                    im2col(x + img * inPlane, into: cols.data, ld: ld)
                    let yImg = y + img * outPlane
                    ShiftedGemm.multiply(m: o, n: hw, k: colRows, a: weight, lda: colRows, base: cols.data,
                                         rowOffsets: off.baseAddress!, c: yImg, ldc: hw, accumulate: false)
                    if let bias { for oc in 0..<o { let row = yImg + oc * hw, bv = bias[oc]; for i in 0..<hw { row[i] += bv } } }
                }
            }
            return
        }
        let group = imagesPerGroup
        let cols = Tensor(uninitializedShape: [colRows, group * hw])   // cols: [C·kh·kw, G·Ho·Wo]
        let out = Tensor(uninitializedShape: [o, group * hw])          // out: [O, G·Ho·Wo]
        var first = 0
        while first < n {
            let count = min(group, n - first)
            let width = count * hw
            for j in 0..<count { im2col(x + (first + j) * inPlane, into: cols.data + j * hw, ld: width) }
            BLAS.sgemm(transA: false, transB: false, m: o, n: width, k: colRows,
                       a: weight, lda: colRows, b: cols.data, ldb: width, beta: 0, c: out.data, ldc: width)
            for j in 0..<count {   // [O, G·HW] → y[first + j]: [O, HW] (+ bias)
                let dst = y + (first + j) * outPlane
                for oc in 0..<o {
                    let src = out.data + oc * width + j * hw, row = dst + oc * hw
                    let bv = bias?[oc] ?? 0
                    for i in 0..<hw { row[i] = src[i] + bv }
                }
            }
            first += count
        }
    }

    /// The output gradient of images first..<first+count as one [O, count·HW] matrix: the
    /// image itself when count is 1, else gathered into `scratch`.
    func outputGradientGroup(_ gy: UnsafePointer<Float>, first: Int, count: Int,
                             scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        if count == 1 { return gy + first * outPlane }
        gatherOutputGradient(gy, first: first, count: count, into: scratch)
        return UnsafePointer(scratch)
    }

    /// Copies the output gradients of `count` images from NCHW into one [O, count·HW] matrix
    /// whose rows are `ld` floats apart (default: count·HW).
    func gatherOutputGradient(_ gy: UnsafePointer<Float>, first: Int, count: Int, into dst: UnsafeMutablePointer<Float>) {
        let hw = colCols, width = count * hw
        for j in 0..<count {
            let src = gy + (first + j) * outPlane
            for oc in 0..<o { (dst + oc * width + j * hw).update(from: src + oc * hw, count: hw) }
        }
    }

    /// dW[O, C·kh·kw] += Σ_images dY[O, HW] · colsᵀ and db[O] += Σ dY, per image chunk.
    func weightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>, dw: Tensor?, db: Tensor?) {
        if let dw, runsShifted {
            shiftedWeightGradient(x: x, gy: gy).withUnsafeBufferPointer { dw.accumulatePreciseGrad($0) }
            if let db { biasGradient(gy: gy, db: db) }
            return
        }
        if let dw { chunkedWeightGradient(x: x, gy: gy).withUnsafeBufferPointer { dw.accumulatePreciseGrad($0) } }
        if let db { biasGradient(gy: gy, db: db) }
    }

    /// dW [O, C·kh·kw] as doubles: each image chunk (`BatchReduction`) multiplied on its own,
    /// its images in groups by SGEMM, then the chunks combined by the fixed tree — the same
    /// bits however the batch is split across ranks.
    func chunkedWeightGradient(x: UnsafePointer<Float>, gy: UnsafePointer<Float>) -> [Double] {
        let hw = colCols, group = imagesPerGroup, size = o * colRows
        let cols = Tensor(uninitializedShape: [colRows, group * hw])
        let dy = Tensor(uninitializedShape: [o, group * hw])      // dy of one group: [O, G·HW]
        let partial = Tensor(uninitializedShape: [o, colRows])    // one chunk's dW
        let chunks = reduction.chunks(images: n)
        return BufferPool.shared.withDoubles(chunks * size) { all in   // all: [chunks, O·C·kh·kw]
            for chunk in 0..<chunks {
                let members = Array(reduction.images(inChunk: chunk, of: n))
                var start = 0
                while start < members.count {
                    let count = min(group, members.count - start), width = count * hw
                    for (j, image) in members[start..<(start + count)].enumerated() {
                        im2col(x + image * inPlane, into: cols.data + j * hw, ld: width)
                        for oc in 0..<o { (dy.data + oc * width + j * hw).update(from: gy + image * outPlane + oc * hw, count: hw) }
                    }
                    BLAS.sgemm(transA: false, transB: true, m: o, n: colRows, k: width, a: dy.data, lda: width,
                               b: cols.data, ldb: width, beta: start == 0 ? 0 : 1, c: partial.data, ldc: colRows)
                    start += count
                }
                let sums = all + chunk * size
                for e in 0..<size { sums[e] = Double(partial.data[e]) }
            }
            BatchReduction.combine(all, chunks: chunks, size: size)
            return Array(UnsafeBufferPointer(start: all, count: size))
        }
    }

    func biasGradient(gy: UnsafePointer<Float>, db: Tensor) {
        let sums = reduction.sum(images: n, size: o) { img, chunk in   // sums: Σ dY per output channel [O]
            for oc in 0..<o { chunk[oc] += VectorMath.sumDouble(gy + img * outPlane + oc * colCols, colCols) }
        }
        sums.withUnsafeBufferPointer { db.accumulatePreciseGrad($0) }
    }

    /// The geometry of dX = dY ⋆ flip(W)ᵀ when the input gradient of this (stride-1)
    /// convolution is itself a convolution; nil otherwise.
    var transposedConvolution: ConvGeometry? {
        let p = kh - 1 - padding
        guard stride == 1, kh == kw, p >= 0, c % ShiftedGemm.tileRows == 0 else { return nil }
        return ConvGeometry(input: [n, o, ho, wo], weight: [c, o, kh, kw], stride: 1, padding: p)
    }

    func inputGradient(gy: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, overwrite: Bool) {
        if let t = transposedConvolution {
            // flipped: [C, O, kh, kw] with flipped[c][o][ky][kx] = W[o][c][kh−1−ky][kw−1−kx]
            let flipped = Tensor(uninitializedShape: [c, o, kh, kw])
            let kk = kh * kw
            for oc in 0..<o { for ci in 0..<c { for i in 0..<kk { flipped.data[(ci * o + oc) * kk + (kk - 1 - i)] = weight[(oc * c + ci) * kk + i] } } }
            t.shiftedForward(x: gy, weight: flipped.data, bias: nil, y: dx, accumulate: !overwrite)
            return
        }
        if runsPhasedInputGradient {
            phasedInputGradient(gy: gy, weight: weight, dx: dx, overwrite: overwrite)
            return
        }
        // General case: dcols[C·kh·kw, G·HW] = Wᵀ · dY, scattered back by col2im.
        let hw = colCols, group = imagesPerGroup
        let cols = Tensor(uninitializedShape: [colRows, group * hw])
        let dy = Tensor(uninitializedShape: [o, group * hw])
        var first = 0
        while first < n {
            let count = min(group, n - first)
            let width = count * hw
            let dyGroup = outputGradientGroup(gy, first: first, count: count, scratch: dy.data)
            BLAS.sgemm(transA: true, transB: false, m: colRows, n: width, k: o, a: weight, lda: colRows,
                       b: dyGroup, ldb: width, beta: 0, c: cols.data, ldc: width)
            for j in 0..<count {
                let dxImg = dx + (first + j) * inPlane
                if overwrite { VectorMath.zero(dxImg, inPlane) }
                col2imAdd(cols.data + j * hw, ld: width, into: dxImg)
            }
            first += count
        }
    }
}

/// Sizes of one convolution and its im2col lowering.
@usableFromInline
struct ConvGeometry {
    let n, c, h, w, o, kh, kw, stride, padding, ho, wo: Int
    /// How the weight- and bias-gradient sums over the batch are chunked.
    let reduction: BatchReduction

    init(input: [Int], weight: [Int], stride: Int, padding: Int, reduction: BatchReduction = .singleProcess) {
        self.reduction = reduction
        (n, c, h, w) = (input[0], input[1], input[2], input[3])
        (o, kh, kw) = (weight[0], weight[2], weight[3])
        self.stride = stride
        self.padding = padding
        ho = (h + 2 * padding - kh) / stride + 1
        wo = (w + 2 * padding - kw) / stride + 1
    }

    var inPlane: Int { c * h * w }
    var outPlane: Int { o * ho * wo }
    var colRows: Int { c * kh * kw }
    var colCols: Int { ho * wo }
    /// Floating-point operations of the product forward and of the two gradient products.
    var flops: (forward: Double, backward: Double) { Tensor.gemmFlops(m: n * o, n: colCols, k: colRows) }
    /// Images lowered per GEMM: one when an image alone makes a wide enough GEMM (its output
    /// then needs no reshuffling), else enough for ≥ 512 columns.
    var imagesPerGroup: Int {
        max(1, min(n, (512 + colCols - 1) / colCols))
    }

    /// cols[(ci·kh + ky)·kw + kx, oy·Wo + ox] = x[ci, oy·s − p + ky, ox·s − p + kx] (0 outside);
    /// rows of `cols` are `ld` floats apart.
    func im2col(_ x: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>, ld: Int) {
        // Rows here are short (7–28 floats), so plain loops beat memmove/memset calls.
        forEachLoweredLine { row, inputLine, oy, lo, hi in
            let line = cols + (row &* ld &+ oy &* wo)
            guard let inputLine else {
                for ox in 0..<wo { line[ox] = 0 }
                return
            }
            let src = x + inputLine   // src[ox·s] is the input under output column ox
            for ox in 0..<lo { line[ox] = 0 }
            if stride == 1 {
                for ox in lo..<hi { line[ox] = src[ox] }
            } else {
                for ox in lo..<hi { line[ox] = src[ox &* stride] }
            }
            for ox in hi..<wo { line[ox] = 0 }
        }
    }

    /// The adjoint of `im2col`: adds each column entry back to the pixel it came from.
    func col2imAdd(_ cols: UnsafePointer<Float>, ld: Int, into x: UnsafeMutablePointer<Float>) {
        forEachLoweredLine { row, inputLine, oy, lo, hi in
            guard let inputLine else { return }
            let line = cols + (row &* ld &+ oy &* wo), dst = x + inputLine
            if stride == 1 {
                for ox in lo..<hi { dst[ox] += line[ox] }
            } else {
                for ox in lo..<hi { dst[ox &* stride] += line[ox] }
            }
        }
    }

    /// The lowering's lines, in `cols` order: for each row (ci, ky, kx) of the column matrix
    /// and each output row oy, `body(row, inputLine, oy, lo, hi)` gets the offset in the image
    /// of the input under output column 0 (`x + inputLine + ox·s`), or nil when the input row
    /// oy·s − p + ky is padding, and the output columns lo..<hi that fall inside the image.
    /// Index arithmetic wraps (&+, &*): every index is in range by construction.
    @inline(__always)
    func forEachLoweredLine(_ body: (_ row: Int, _ inputLine: Int?, _ oy: Int, _ lo: Int, _ hi: Int) -> Void) {
        var row = 0
        for ci in 0..<c {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let (lo, hi) = validOutputColumns(kx: kx)
                    for oy in 0..<ho {
                        let iy = oy &* stride &- padding &+ ky
                        body(row, iy < 0 || iy >= h ? nil : ci &* h &* w &+ iy &* w &- padding &+ kx, oy, lo, hi)
                    }
                    row &+= 1
                }
            }
        }
    }

    /// Output columns lo..<hi whose input column ox·s − p + kx lies inside the image.
    @inline(__always)
    func validOutputColumns(kx: Int) -> (Int, Int) {
        // ox·s ≥ p − kx  and  ox·s ≤ w − 1 + p − kx
        let first = padding - kx
        let lo = first <= 0 ? 0 : (first + stride - 1) / stride
        let last = w - 1 + padding - kx
        let hi = last < 0 ? 0 : last / stride + 1
        return (min(lo, wo), max(min(hi, wo), min(lo, wo)))
    }
}
