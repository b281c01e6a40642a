/// 2-d convolution (cross-correlation, as PyTorch) on im2col + SGEMM, one image at a time so
/// the column buffer stays in L2.
extension Tensor {
    /// x [N,C,H,W] ⋆ weight [O,C,kh,kw] (+ bias [O]) → [N,O,Ho,Wo]; same stride and padding on
    /// both axes.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && shape[1] == weight.shape[1],
                     "conv2d: input \(shape) with weight \(weight.shape)")
        let g = ConvGeometry(input: shape, weight: weight.shape, stride: stride, padding: padding)
        precondition(g.ho > 0 && g.wo > 0, "conv2d: kernel larger than padded input \(shape)")
        let y = Tensor(uninitializedShape: [g.n, g.o, g.ho, g.wo])
        let direct = g.isPointwise
        // cols: [C·kh·kw, Ho·Wo] for one image
        let cols = direct ? nil : Tensor(uninitializedShape: [g.colRows, g.colCols])
        for img in 0..<g.n {
            let x = data + img * g.inPlane
            let yImg = y.data + img * g.outPlane
            let b: UnsafePointer<Float>
            if let cols { g.im2col(x, into: cols.data); b = UnsafePointer(cols.data) } else { b = UnsafePointer(x) }
            if let bias {
                for oc in 0..<g.o { (yImg + oc * g.colCols).update(repeating: bias.data[oc], count: g.colCols) }
            }
            BLAS.sgemm(transA: false, transB: false, m: g.o, n: g.colCols, k: g.colRows,
                       a: weight.data, lda: g.colRows, b: b, ldb: g.colCols,
                       beta: bias == nil ? 0 : 1, c: yImg, ldc: g.colCols)
        }
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        Autograd.record(y, inputs: inputs) { [self] gy in
            let cols = direct ? nil : Tensor(uninitializedShape: [g.colRows, g.colCols])
            if weight.requiresGrad {   // dW[O, CKK] += dY_n[O, HoWo] · cols_nᵀ
                weight.accumulateGrad { dw, overwrite in
                    for img in 0..<g.n {
                        let x = data + img * g.inPlane
                        let b: UnsafePointer<Float>
                        if let cols { g.im2col(x, into: cols.data); b = UnsafePointer(cols.data) } else { b = UnsafePointer(x) }
                        BLAS.sgemm(transA: false, transB: true, m: g.o, n: g.colRows, k: g.colCols,
                                   a: gy.data + img * g.outPlane, lda: g.colCols, b: b, ldb: g.colCols,
                                   beta: (overwrite && img == 0) ? 0 : 1, c: dw, ldc: g.colRows)
                    }
                }
            }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad { db, overwrite in
                    if overwrite { db.update(repeating: 0, count: g.o) }
                    for img in 0..<g.n {
                        for oc in 0..<g.o {
                            let row = gy.data + img * g.outPlane + oc * g.colCols
                            var acc: Float = 0
                            for j in 0..<g.colCols { acc += row[j] }
                            db[oc] += acc
                        }
                    }
                }
            }
            if requiresGrad {   // dcols[CKK, HoWo] = Wᵀ · dY_n, scattered back by col2im
                accumulateGrad { dx, overwrite in
                    for img in 0..<g.n {
                        let dxImg = dx + img * g.inPlane
                        if let cols {
                            BLAS.sgemm(transA: true, transB: false, m: g.colRows, n: g.colCols, k: g.o,
                                       a: weight.data, lda: g.colRows, b: gy.data + img * g.outPlane, ldb: g.colCols,
                                       beta: 0, c: cols.data, ldc: g.colCols)
                            if overwrite { dxImg.update(repeating: 0, count: g.inPlane) }
                            g.col2imAdd(cols.data, into: dxImg)
                        } else {
                            BLAS.sgemm(transA: true, transB: false, m: g.colRows, n: g.colCols, k: g.o,
                                       a: weight.data, lda: g.colRows, b: gy.data + img * g.outPlane, ldb: g.colCols,
                                       beta: overwrite ? 0 : 1, c: dxImg, ldc: g.colCols)
                        }
                    }
                }
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
    /// A 1×1, stride-1, unpadded convolution needs no lowering: the image is already the column matrix.
    var isPointwise: Bool { kh == 1 && kw == 1 && stride == 1 && padding == 0 }

    /// cols[(ci·kh + ky)·kw + kx, oy·Wo + ox] = x[ci, oy·s − p + ky, ox·s − p + kx] (0 outside).
    func im2col(_ x: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>) {
        var row = 0
        for ci in 0..<c {
            let plane = x + ci * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let dst = cols + row * colCols
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
    func col2imAdd(_ cols: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        var row = 0
        for ci in 0..<c {
            let plane = x + ci * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let src = cols + row * colCols
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
