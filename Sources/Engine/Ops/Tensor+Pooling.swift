/// Max, average and global-average pooling over NCHW images.
extension Tensor {
    @usableFromInline
    static func pooledSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// Max pooling (padding counts as -∞, as in PyTorch).
    public func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        let g = PoolGeometry(shape, kernel: kernel, stride: stride ?? kernel, padding: padding, op: "maxPool2d")
        let y = Tensor(uninitializedShape: [g.n, g.c, g.ho, g.wo])
        // argmax: [N, C, Ho, Wo] flat index into each input plane, for backward.
        var argmax = [Int32](repeating: 0, count: y.count)
        let px = data, py = y.data, planeSize = g.h * g.w
        for plane in 0..<(g.n * g.c) {
            let src = px + plane * planeSize
            for oy in 0..<g.ho {
                for ox in 0..<g.wo {
                    var best = -Float.infinity
                    var bestIndex = -1
                    g.forEachInput(oy: oy, ox: ox) { i in
                        if src[i] > best || bestIndex < 0 { best = src[i]; bestIndex = i }
                    }
                    let o = (plane * g.ho + oy) * g.wo + ox
                    py[o] = best
                    argmax[o] = Int32(bestIndex)
                }
            }
        }
        Autograd.record(y, inputs: [self], op: "max_pool") { [self] gy in
            accumulateGrad { d, overwrite in
                if overwrite { d.update(repeating: 0, count: count) }
                let outPlane = g.ho * g.wo
                for plane in 0..<(g.n * g.c) {
                    for j in 0..<outPlane {
                        let o = plane * outPlane + j
                        d[plane * planeSize + Int(argmax[o])] += gy.data[o]
                    }
                }
            }
        }
        return y
    }

    /// Average pooling; padded zeros count in the divisor (PyTorch's default).
    public func avgPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        let g = PoolGeometry(shape, kernel: kernel, stride: stride ?? kernel, padding: padding, op: "avgPool2d")
        let y = Tensor(uninitializedShape: [g.n, g.c, g.ho, g.wo])
        let scale = 1 / Float(kernel * kernel)
        let px = data, py = y.data, planeSize = g.h * g.w
        for plane in 0..<(g.n * g.c) {
            let src = px + plane * planeSize
            for oy in 0..<g.ho {
                for ox in 0..<g.wo {
                    var acc: Float = 0
                    g.forEachInput(oy: oy, ox: ox) { acc += src[$0] }
                    py[(plane * g.ho + oy) * g.wo + ox] = acc * scale
                }
            }
        }
        Autograd.record(y, inputs: [self], op: "avg_pool") { [self] gy in
            accumulateGrad { d, overwrite in
                if overwrite { d.update(repeating: 0, count: count) }
                for plane in 0..<(g.n * g.c) {
                    let dst = d + plane * planeSize
                    for oy in 0..<g.ho {
                        for ox in 0..<g.wo {
                            let gv = gy.data[(plane * g.ho + oy) * g.wo + ox] * scale
                            g.forEachInput(oy: oy, ox: ox) { dst[$0] += gv }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Mean over H and W: [N,C,H,W] → [N,C].
    public func globalAvgPool2d() -> Tensor {
        precondition(rank == 4, "globalAvgPool2d needs NCHW, got \(shape)")
        let (n, c) = (shape[0], shape[1])
        let hw = shape[2] * shape[3]
        let y = Tensor(uninitializedShape: [n, c])
        let scale = 1 / Float(hw)
        for plane in 0..<(n * c) {
            let src = data + plane * hw
            var acc: Float = 0
            for i in 0..<hw { acc += src[i] }
            y.data[plane] = acc * scale
        }
        Autograd.record(y, inputs: [self], op: "global_avg_pool") { [self] g in
            accumulateGrad { d, overwrite in
                for plane in 0..<(n * c) {
                    let gv = g.data[plane] * scale
                    let dst = d + plane * hw
                    if overwrite { dst.update(repeating: gv, count: hw) }
                    else { for i in 0..<hw { dst[i] += gv } }
                }
            }
        }
        return y
    }
}

/// The shape of a 2-d pooling over NCHW images, and the input positions under each window.
struct PoolGeometry {
    let n, c, h, w, kernel, stride, padding, ho, wo: Int

    init(_ shape: [Int], kernel: Int, stride: Int, padding: Int, op: String) {
        precondition(shape.count == 4, "\(op) needs NCHW, got \(shape)")
        // As PyTorch: every window must overlap the image, or a window would have no maximum.
        precondition(padding <= kernel / 2, "\(op): padding \(padding) must be at most half the kernel \(kernel)")
        (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        (self.kernel, self.stride, self.padding) = (kernel, stride, padding)
        ho = Tensor.pooledSize(h, kernel: kernel, stride: stride, padding: padding)
        wo = Tensor.pooledSize(w, kernel: kernel, stride: stride, padding: padding)
    }

    /// The flat indices into an input plane of the window of output (oy, ox) that lie inside
    /// the image, row by row.
    @inline(__always)
    func forEachInput(oy: Int, ox: Int, _ body: (Int) -> Void) {
        for ky in 0..<kernel {
            let iy = oy * stride - padding + ky
            if iy < 0 || iy >= h { continue }
            for kx in 0..<kernel {
                let ix = ox * stride - padding + kx
                if ix >= 0 && ix < w { body(iy * w + ix) }
            }
        }
    }
}
