extension DecodedImage {
    /// Scaled so its shorter side is `size` (the longer one in proportion) and cut to the
    /// central `size`×`size` square, as torchvision's `Resize(size)` then `CenterCrop(size)`.
    /// An image already `size`×`size` comes back unchanged, bit for bit.
    ///
    /// The scaling is a separable triangle (bilinear) filter widened by the scale factor when
    /// shrinking, so every source pixel counts (no aliasing), as PIL's antialiased resize; in
    /// floating point rather than PIL's fixed point, so a pixel may differ from torchvision's
    /// by one level.
    public func resizedAndCropped(to size: Int) -> DecodedImage {
        precondition(size > 0, "resizedAndCropped: size \(size)")
        if height == size && width == size { return self }
        let short = min(height, width)
        // torchvision: the longer side is truncated, never below `size`.
        let (h, w) = height <= width ? (size, max(size, width * size / short)) : (max(size, height * size / short), size)
        let scaled = (h, w) == (height, width) ? self : resized(height: h, width: w)
        let top = Int((Double(h - size) / 2).rounded(.toNearestOrEven)), left = Int((Double(w - size) / 2).rounded(.toNearestOrEven))
        var out = [UInt8](); out.reserveCapacity(size * size * channels)
        for y in top..<(top + size) {
            let row = (y * w + left) * channels
            out += scaled.pixels[row..<(row + size * channels)]
        }
        return DecodedImage(channels: channels, height: size, width: size, pixels: out)
    }

    /// Scaled to `height`×`width` (rows first, then columns).
    func resized(height newHeight: Int, width newWidth: Int) -> DecodedImage {
        let rows = Self.filterTaps(from: height, to: newHeight), columns = Self.filterTaps(from: width, to: newWidth)
        // Vertical pass: [newHeight, width, channels] as Float.
        var vertical = [Float](repeating: 0, count: newHeight * width * channels)
        let stride = width * channels
        for y in 0..<newHeight {
            for (source, weight) in rows[y] {
                for i in 0..<stride { vertical[y * stride + i] += weight * Float(pixels[source * stride + i]) }
            }
        }
        var out = [UInt8](repeating: 0, count: newHeight * newWidth * channels)
        for y in 0..<newHeight {
            for x in 0..<newWidth {
                for c in 0..<channels {
                    var v: Float = 0
                    for (source, weight) in columns[x] { v += weight * vertical[(y * width + source) * channels + c] }
                    out[(y * newWidth + x) * channels + c] = UInt8(max(0, min(255, v.rounded())))
                }
            }
        }
        return DecodedImage(channels: channels, height: newHeight, width: newWidth, pixels: out)
    }

    /// For each of `n` output positions, the source positions of `m` and their weights
    /// (summing to one): a triangle of half-width max(1, m / n) around the output's centre.
    static func filterTaps(from m: Int, to n: Int) -> [[(Int, Float)]] {
        let scale = Double(m) / Double(n), support = max(1, scale)
        return (0..<n).map { i in
            let centre = (Double(i) + 0.5) * scale
            let lo = max(0, Int((centre - support).rounded(.down))), hi = min(m - 1, Int((centre + support).rounded(.up)))
            var taps: [(Int, Double)] = []
            for j in lo...hi {
                let weight = max(0, 1 - abs(Double(j) + 0.5 - centre) / support)
                if weight > 0 { taps.append((j, weight)) }
            }
            if taps.isEmpty { taps = [(min(m - 1, max(0, Int(centre))), 1)] }
            let total = taps.reduce(0) { $0 + $1.1 }
            return taps.map { ($0.0, Float($0.1 / total)) }
        }
    }
}
