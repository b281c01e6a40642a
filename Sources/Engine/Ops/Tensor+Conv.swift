/// 2-d convolution (cross-correlation, as PyTorch) on im2col + SGEMM.
///
/// Images are lowered in groups so each GEMM is wide enough for the BLAS kernel to run near
/// its peak (a 7×7 stage-3 map alone gives N = 49) while the column buffer stays cache-sized.
extension Tensor {
    /// x [N,C,H,W] ⋆ weight [O,C,kh,kw] (+ bias [O]) → [N,O,Ho,Wo]; same stride and padding on
    /// both axes.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && shape[1] == weight.shape[1],
                     "conv2d: input \(shape) with weight \(weight.shape)")
        precondition(bias == nil || bias!.shape == [weight.shape[0]], "conv2d: bias \(bias!.shape) for weight \(weight.shape)")
        let g = ConvGeometry(input: shape, weight: weight.shape, stride: stride, padding: padding)
        precondition(g.ho > 0 && g.wo > 0, "conv2d: kernel larger than padded input \(shape)")
        let y = Tensor(uninitializedShape: [g.n, g.o, g.ho, g.wo])
        let group = g.imagesPerGroup
        let hw = g.colCols
        // cols: [C·kh·kw, G·Ho·Wo]; out: [O, G·Ho·Wo], both for one group of G images
        let cols = Tensor(uninitializedShape: [g.colRows, group * hw])
        let out = Tensor(uninitializedShape: [g.o, group * hw])
        var first = 0
        while first < g.n {
            let count = min(group, g.n - first)
            let width = count * hw
            for j in 0..<count { g.im2col(data + (first + j) * g.inPlane, into: cols.data + j * hw, ld: width) }
            if count == 1 && bias == nil {   // one image: the GEMM writes y[first] directly
                BLAS.sgemm(transA: false, transB: false, m: g.o, n: width, k: g.colRows, a: weight.data, lda: g.colRows,
                           b: cols.data, ldb: width, beta: 0, c: y.data + first * g.outPlane, ldc: width)
                first += 1
                continue
            }
            BLAS.sgemm(transA: false, transB: false, m: g.o, n: width, k: g.colRows,
                       a: weight.data, lda: g.colRows, b: cols.data, ldb: width, beta: 0, c: out.data, ldc: width)
            for j in 0..<count {   // [O, G·HW] → y[first + j]: [O, HW] (+ bias)
                let dst = y.data + (first + j) * g.outPlane
                for oc in 0..<g.o {
                    let src = out.data + oc * width + j * hw, row = dst + oc * hw
                    if let bias {
                        let bv = bias.data[oc]
                        for i in 0..<hw { row[i] = src[i] + bv }
                    } else {
                        row.update(from: src, count: hw)
                    }
                }
            }
            first += count
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        Autograd.record(y, inputs: inputs) { [self] gy in
            let cols = Tensor(uninitializedShape: [g.colRows, group * hw])
            let dy = Tensor(uninitializedShape: [g.o, group * hw])   // dy of one group, [O, G·HW]
            var first = 0
            while first < g.n {
                let count = min(group, g.n - first)
                let width = count * hw
                // dyGroup: [O, G·HW]; one image's gradient is already in that layout.
                let dyGroup: UnsafeMutablePointer<Float>
                if count == 1 {
                    dyGroup = gy.data + first * g.outPlane
                } else {
                    dyGroup = dy.data
                    for j in 0..<count {
                        let src = gy.data + (first + j) * g.outPlane
                        for oc in 0..<g.o { (dy.data + oc * width + j * hw).update(from: src + oc * hw, count: hw) }
                    }
                }
                if weight.requiresGrad {   // dW[O, CKK] += dY[O, G·HW] · colsᵀ
                    for j in 0..<count { g.im2col(data + (first + j) * g.inPlane, into: cols.data + j * hw, ld: width) }
                    weight.accumulateGrad { dw, overwrite in
                        BLAS.sgemm(transA: false, transB: true, m: g.o, n: g.colRows, k: width,
                                   a: dyGroup, lda: width, b: cols.data, ldb: width,
                                   beta: (overwrite && first == 0) ? 0 : 1, c: dw, ldc: g.colRows)
                    }
                }
                if let bias, bias.requiresGrad {
                    bias.accumulateGrad { db, overwrite in
                        for oc in 0..<g.o {
                            let s = VectorMath.sum(dyGroup + oc * width, width)
                            db[oc] = (overwrite && first == 0) ? s : db[oc] + s
                        }
                    }
                }
                if requiresGrad {   // dcols[CKK, G·HW] = Wᵀ · dY, scattered back by col2im
                    BLAS.sgemm(transA: true, transB: false, m: g.colRows, n: width, k: g.o,
                               a: weight.data, lda: g.colRows, b: dyGroup, ldb: width,
                               beta: 0, c: cols.data, ldc: width)
                    accumulateGrad { dx, overwrite in
                        for j in 0..<count {
                            let dxImg = dx + (first + j) * g.inPlane
                            if overwrite { dxImg.update(repeating: 0, count: g.inPlane) }
                            g.col2imAdd(cols.data + j * hw, ld: width, into: dxImg)
                        }
                    }
                }
                first += count
            }
        }
        return y
    }
}

/// Sizes of one convolution and its im2col lowering.
@usableFromInline
struct ConvGeometry {
    let n, c, h, w, o, kh, kw, stride, padding, ho, wo: Int

    init(input: [Int], weight: [Int], stride: Int, padding: Int) {
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
    /// Images lowered per GEMM: one when an image alone makes a wide enough GEMM (its output
    /// then needs no reshuffling), else enough for ≥ 512 columns.
    var imagesPerGroup: Int {
        max(1, min(n, (512 + colCols - 1) / colCols))
    }

    /// cols[(ci·kh + ky)·kw + kx, oy·Wo + ox] = x[ci, oy·s − p + ky, ox·s − p + kx] (0 outside);
    /// rows of `cols` are `ld` floats apart.
    func im2col(_ x: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>, ld: Int) {
        var row = 0
        for ci in 0..<c {
            let plane = x + ci * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let dst = cols + row * ld
                    for oy in 0..<ho {
                        let iy = oy * stride - padding + ky
                        let line = dst + oy * wo
                        if iy < 0 || iy >= h { line.update(repeating: 0, count: wo); continue }
                        let src = plane + iy * w
                        if stride == 1 {
                            // Valid ox range: 0 ≤ ox − p + kx < w.
                            let lo = min(max(0, padding - kx), wo), hi = min(wo, w + padding - kx)
                            if lo > 0 { line.update(repeating: 0, count: lo) }
                            if hi > lo { (line + lo).update(from: src + (lo - padding + kx), count: hi - lo) }
                            if hi < wo { (line + max(hi, 0)).update(repeating: 0, count: wo - max(hi, 0)) }
                        } else {
                            for ox in 0..<wo {
                                let ix = ox * stride - padding + kx
                                line[ox] = (ix >= 0 && ix < w) ? src[ix] : 0
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each column entry back to the pixel it came from.
    func col2imAdd(_ cols: UnsafePointer<Float>, ld: Int, into x: UnsafeMutablePointer<Float>) {
        var row = 0
        for ci in 0..<c {
            let plane = x + ci * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let src = cols + row * ld
                    for oy in 0..<ho {
                        let iy = oy * stride - padding + ky
                        if iy < 0 || iy >= h { continue }
                        let line = src + oy * wo
                        let dst = plane + iy * w
                        if stride == 1 {
                            let lo = min(max(0, padding - kx), wo), hi = min(wo, w + padding - kx)
                            if hi > lo {
                                let d = dst + (lo - padding + kx)
                                for j in 0..<(hi - lo) { d[j] += line[lo + j] }
                            }
                        } else {
                            for ox in 0..<wo {
                                let ix = ox * stride - padding + kx
                                if ix >= 0 && ix < w { dst[ix] += line[ox] }
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
