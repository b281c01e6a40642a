import CZlib

/// An 8-bit gray or RGB picture and its PNG encoding (zlib's deflate and CRC-32): what
/// Concord draws for people to look at, such as MAE's reconstructions.
public struct PNGImage {
    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// 1 (gray) or 3 (RGB).
    public let channels: Int
    /// Row-major, channels interleaved. pixels: [height, width, channels]
    public var pixels: [UInt8]

    /// A picture of one `shade` everywhere.
    public init(width: Int, height: Int, channels: Int = 1, shade: UInt8 = 255) {
        precondition(width >= 1 && height >= 1 && [1, 3].contains(channels), "PNGImage: \(width)×\(height)×\(channels)")
        (self.width, self.height, self.channels) = (width, height, channels)
        pixels = [UInt8](repeating: shade, count: width * height * channels)
    }

    /// Draws `values` [channels, rows, columns] (planar, row-major), each channel mapped
    /// linearly from its range in `ranges` (one range: every channel) to 0…255 and clamped, at
    /// (`x`, `y`), each value a `scale`×`scale` block.
    public mutating func draw(_ values: UnsafePointer<Float>, rows: Int, columns: Int, at x: Int, _ y: Int, scale: Int = 1,
                              ranges: [ClosedRange<Float>]) {
        let plane = rows * columns
        for channel in 0..<channels {
            let range = ranges[channel % ranges.count]
            let span = max(range.upperBound - range.lowerBound, .leastNormalMagnitude)
            for r in 0..<rows {
                for c in 0..<columns {
                    let v = (values[channel * plane + r * columns + c] - range.lowerBound) / span
                    let byte = UInt8(max(0, min(255, (v * 255).rounded())))
                    for dy in 0..<scale {
                        for dx in 0..<scale {
                            let (px, py) = (x + c * scale + dx, y + r * scale + dy)
                            if (0..<width).contains(px) && (0..<height).contains(py) { pixels[(py * width + px) * channels + channel] = byte }
                        }
                    }
                }
            }
        }
    }

    /// `draw` with one range for every channel.
    public mutating func draw(_ values: UnsafePointer<Float>, rows: Int, columns: Int, at x: Int, _ y: Int, scale: Int = 1,
                              range: ClosedRange<Float> = 0...1) {
        draw(values, rows: rows, columns: columns, at: x, y, scale: scale, ranges: [range])
    }

    /// The PNG file's bytes: signature, IHDR (8-bit gray or RGB), one IDAT of the deflated
    /// rows (filter 0), IEND.
    public func encoded() -> [UInt8] {
        let rowBytes = width * channels
        var raw = [UInt8]()
        raw.reserveCapacity(height * (rowBytes + 1))
        for r in 0..<height { raw.append(0); raw += pixels[(r * rowBytes)..<((r + 1) * rowBytes)] }
        var length = compressBound(uLong(raw.count))
        var deflated = [UInt8](repeating: 0, count: Int(length))
        let status = compress2(&deflated, &length, raw, uLong(raw.count), 9)
        precondition(status == Z_OK, "PNGImage: zlib's compress2 failed with \(status)")   // only out of memory
        deflated.removeLast(deflated.count - Int(length))
        func bigEndian(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8((v >> $0) & 0xFF) } }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            return bigEndian(data.count) + body + bigEndian(Int(crc))
        }
        let colourType: UInt8 = channels == 3 ? 2 : 0
        let header = bigEndian(width) + bigEndian(height) + [8, colourType, 0, 0, 0]   // 8-bit, deflate, filter 0, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", deflated) + chunk("IEND", [])
    }
}
