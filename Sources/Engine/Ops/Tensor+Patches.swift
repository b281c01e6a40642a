/// Images cut into patches and put back together, in MAE's layout.
extension Tensor {
    /// [N, C, H, W] → [N, L, p²·C]: patch l is the row-major patch index of the (H/p)×(W/p)
    /// grid, its elements in (pixel row, pixel column, channel) order — MAE's `patchify`
    /// (`einsum("nchpwq->nhwpqc")`). Not differentiable (a loss target).
    public func patchified(patch p: Int) -> Tensor {
        precondition(rank == 4 && shape[2] % p == 0 && shape[3] % p == 0, "patchified: \(shape) in \(p)×\(p) patches")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let (gh, gw) = (h / p, w / p)
        let y = Tensor(uninitializedShape: [n, gh * gw, p * p * c])
        for i in 0..<n { for py in 0..<gh { for px in 0..<gw { for dy in 0..<p { for dx in 0..<p { for ch in 0..<c {
            y.data[((i * gh * gw + py * gw + px) * p * p + dy * p + dx) * c + ch] = data[((i * c + ch) * h + py * p + dy) * w + px * p + dx]
        } } } } } }
        return y
    }

    /// The inverse of `patchified`: [N, L, p²·C] → [N, C, H, W] for a square grid of
    /// `height`/p × `width`/p patches. Not differentiable (for pictures).
    public func unpatchified(patch p: Int, channels c: Int, height h: Int, width w: Int) -> Tensor {
        precondition(rank == 3 && shape[1] == (h / p) * (w / p) && shape[2] == p * p * c, "unpatchified: \(shape) as \(c)×\(h)×\(w) in \(p)×\(p) patches")
        let (n, gh, gw) = (shape[0], h / p, w / p)
        let y = Tensor(uninitializedShape: [n, c, h, w])
        for i in 0..<n { for py in 0..<gh { for px in 0..<gw { for dy in 0..<p { for dx in 0..<p { for ch in 0..<c {
            y.data[((i * c + ch) * h + py * p + dy) * w + px * p + dx] = data[((i * gh * gw + py * gw + px) * p * p + dy * p + dx) * c + ch]
        } } } } } }
        return y
    }
}
