/// One image as a file held it: 8-bit pixels, channels interleaved (gray, or red green blue),
/// before it joins an `ImageDataset`'s planar layout.
public struct DecodedImage: Sendable, Equatable {
    /// 1 (gray) or 3 (RGB).
    public let channels: Int
    /// Rows.
    public let height: Int
    /// Pixels per row.
    public let width: Int
    /// pixels: [height, width, channels]
    public var pixels: [UInt8]

    /// Wraps `pixels` [height, width, channels].
    public init(channels: Int, height: Int, width: Int, pixels: [UInt8]) {
        precondition([1, 3].contains(channels) && pixels.count == channels * height * width,
                     "DecodedImage: \(pixels.count) bytes for \(height)×\(width)×\(channels)")
        (self.channels, self.height, self.width, self.pixels) = (channels, height, width, pixels)
    }

    /// The same picture in `channels` channels: gray repeated into red, green and blue, or
    /// RGB weighted into luma as ITU-R 601 in PIL's fixed point (`convert("L")`, bit for bit).
    public func converted(toChannels target: Int) -> DecodedImage {
        if target == channels { return self }
        let n = height * width
        if target == 3 {
            var rgb = [UInt8](repeating: 0, count: 3 * n)
            for i in 0..<n { let v = pixels[i]; (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]) = (v, v, v) }
            return DecodedImage(channels: 3, height: height, width: width, pixels: rgb)
        }
        var gray = [UInt8](repeating: 0, count: n)
        for i in 0..<n {
            let (r, g, b) = (UInt32(pixels[3 * i]), UInt32(pixels[3 * i + 1]), UInt32(pixels[3 * i + 2]))
            gray[i] = UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
        }
        return DecodedImage(channels: 1, height: height, width: width, pixels: gray)
    }

    /// Appends the pixels one channel plane after another (the `ImageDataset` layout).
    public func appendPlanar(to planes: inout [UInt8]) {
        if channels == 1 { planes += pixels; return }
        let n = height * width
        for c in 0..<channels {
            for i in 0..<n { planes.append(pixels[i * channels + c]) }
        }
    }
}
