/// Max, average and global-average pooling over NCHW images.
extension Tensor {
    @usableFromInline
    static func pooledSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        (size + 2 * padding - kernel) / stride + 1
    }

    /// Max pooling (padding counts as -∞, as in PyTorch).
    public func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        precondition(rank == 4, "maxPool2d needs NCHW, got \(shape)")
        // As PyTorch: every window must overlap the image, or a window would have no maximum.
        precondition(padding <= kernel / 2, "maxPool2d: padding \(padding) must be at most half the kernel \(kernel)")
        let s = stride ?? kernel
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let ho = Tensor.pooledSize(h, kernel: kernel, stride: s, padding: padding)
        let wo = Tensor.pooledSize(w, kernel: kernel, stride: s, padding: padding)
        let y = Tensor(uninitializedShape: [n, c, ho, wo])
        // argmax: [N, C, Ho, Wo] flat index into each input plane, for backward.
        var argmax = [Int32](repeating: 0, count: n * c * ho * wo)
        let px = data, py = y.data
        for plane in 0..<(n * c) {
            let src = px + plane * h * w
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var best = -Float.infinity
                    var bestIndex = -1
                    for ky in 0..<kernel {
                        let iy = oy * s - padding + ky
                        if iy < 0 || iy >= h { continue }
                        for kx in 0..<kernel {
                            let ix = ox * s - padding + kx
                            if ix < 0 || ix >= w { continue }
                            let v = src[iy * w + ix]
                            if v > best || bestIndex < 0 { best = v; bestIndex = iy * w + ix }
                        }
                    }
                    let o = (plane * ho + oy) * wo + ox
                    py[o] = best
                    argmax[o] = Int32(bestIndex)
                }
            }
        }
        Autograd.record(y, inputs: [self]) { [self] g in
            accumulateGrad { d, overwrite in
                if overwrite { d.update(repeating: 0, count: count) }
                for plane in 0..<(n * c) {
                    for j in 0..<(ho * wo) {
                        let o = plane * ho * wo + j
                        d[plane * h * w + Int(argmax[o])] += g.data[o]
                    }
                }
            }
        }
        return y
    }

    /// Average pooling; padded zeros count in the divisor (PyTorch's default).
    public func avgPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        precondition(rank == 4, "avgPool2d needs NCHW, got \(shape)")
        precondition(padding <= kernel / 2, "avgPool2d: padding \(padding) must be at most half the kernel \(kernel)")
        let s = stride ?? kernel
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let ho = Tensor.pooledSize(h, kernel: kernel, stride: s, padding: padding)
        let wo = Tensor.pooledSize(w, kernel: kernel, stride: s, padding: padding)
        let y = Tensor(uninitializedShape: [n, c, ho, wo])
        let scale = 1 / Float(kernel * kernel)
        let px = data, py = y.data
        for plane in 0..<(n * c) {
            let src = px + plane * h * w
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var acc: Float = 0
                    for ky in 0..<kernel {
                        let iy = oy * s - padding + ky
                        if iy < 0 || iy >= h { continue }
                        for kx in 0..<kernel {
                            let ix = ox * s - padding + kx
                            if ix >= 0 && ix < w { acc += src[iy * w + ix] }
                        }
                    }
                    py[(plane * ho + oy) * wo + ox] = acc * scale
                }
            }
        }
        Autograd.record(y, inputs: [self]) { [self] g in
            accumulateGrad { d, overwrite in
                if overwrite { d.update(repeating: 0, count: count) }
                for plane in 0..<(n * c) {
                    let dst = d + plane * h * w
                    for oy in 0..<ho {
                        for ox in 0..<wo {
                            let gv = g.data[(plane * ho + oy) * wo + ox] * scale
                            for ky in 0..<kernel {
                                let iy = oy * s - padding + ky
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<kernel {
                                    let ix = ox * s - padding + kx
                                    if ix >= 0 && ix < w { dst[iy * w + ix] += gv }
                                }
                            }
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
        Autograd.record(y, inputs: [self]) { [self] g in
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
