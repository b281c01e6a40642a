import Engine

/// Converts uint8 images (one plane per channel) to normalised Float, optionally with the
/// standard CIFAR-style augmentation: random horizontal flip, then a random crop out of the
/// image zero-padded by `padding` pixels on every side — the same placement for every channel.
///
/// Matches the PyTorch reference `aug_flip_padcrop`: flip first, pad with the *normalised*
/// value of a black pixel, `(0 − mean) / std`, then crop at offsets drawn uniformly from
/// `0...2·padding` in each direction. Pixel values are `(p / 255 − mean[c]) / std[c]` in channel c
/// (one mean and std serve every channel).
///
/// Random draws per image, in this order: `uniform()` for the flip (`< flipProbability` flips),
/// then `int(below: 2·padding + 1)` for the row offset, then the same for the column offset.
/// Every image consumes these three draws whatever the settings, so the generator's position
/// depends only on how many images were augmented.
public struct Augmentation: Sendable {
    /// Where an image lands: whether it is mirrored, and the crop's top-left corner in the
    /// padded image (`0...2·padding`; `padding` means no shift).
    public struct Placement: Equatable, Sendable {
        /// Mirror left–right before cropping.
        public var flip: Bool
        /// Crop row offset in the padded image.
        public var offsetY: Int
        /// Crop column offset in the padded image.
        public var offsetX: Int
    }

    /// Pixels of padding on each side before the random crop.
    public let padding: Int
    /// Probability of a horizontal flip.
    public let flipProbability: Float
    /// Per-channel mean subtracted after scaling pixels to [0, 1] (one entry: every channel).
    public let mean: [Float]
    /// Per-channel standard deviation divided by after subtracting the mean.
    public let std: [Float]
    /// `(p / 255 − mean[c]) / std[c]` for every byte value, per channel: one load per pixel in
    /// the hot loops. tables: [mean.count][256]
    @usableFromInline let tables: [[Float]]

    /// Creates the transform; defaults are the Fashion-MNIST recipe of the reference.
    public init(padding: Int = 2, flipProbability: Float = 0.5,
                mean: [Float] = [FashionMNIST.mean], std: [Float] = [FashionMNIST.std]) {
        precondition(padding >= 0, "padding \(padding)")
        precondition(!mean.isEmpty && mean.count == std.count && std.allSatisfy { $0 > 0 }, "mean \(mean), std \(std)")
        self.padding = padding
        self.flipProbability = flipProbability
        self.mean = mean
        self.std = std
        self.tables = zip(mean, std).map { m, s in (0..<256).map { (Float($0) / 255 - m) / s } }
    }

    /// The normalised value of a pixel byte of `channel`.
    @inlinable public func normalized(_ pixel: UInt8, channel: Int = 0) -> Float { table(channel)[Int(pixel)] }

    /// The value padding pixels of channel 0 get: the normalised value of a black (0) pixel.
    public var padValue: Float { tables[0][0] }

    @usableFromInline func table(_ channel: Int) -> [Float] { tables[channel % tables.count] }

    /// Draws one image's placement (three draws, see the type's documentation).
    public func drawPlacement(using rng: inout RandomGenerator) -> Placement {
        let flip = rng.uniform() < flipProbability
        let offsetY = rng.int(below: 2 * padding + 1)
        let offsetX = rng.int(below: 2 * padding + 1)
        return Placement(flip: flip, offsetY: offsetY, offsetX: offsetX)
    }

    /// Normalises one `channels × height × width` image with a random flip and crop.
    ///
    /// - Parameters:
    ///   - source: pixels. source: [channels, height, width]
    ///   - destination: output. destination: [channels, height, width]
    public func augment(_ source: UnsafePointer<UInt8>, channels: Int = 1, height: Int, width: Int,
                        into destination: UnsafeMutablePointer<Float>, rng: inout RandomGenerator) {
        let placement = drawPlacement(using: &rng)
        let plane = height * width
        for c in 0..<channels {
            augment(source + c * plane, height: height, width: width, into: destination + c * plane, placement: placement, channel: c)
        }
    }

    /// Normalises one image plane of `channel` placed as given (the deterministic core of
    /// `augment(…rng:)`).
    ///
    /// Output pixel `(y, x)` comes from the flipped image at `(y + offsetY − padding,
    /// x + offsetX − padding)`, or is the normalised black where that falls outside the image.
    public func augment(_ source: UnsafePointer<UInt8>, height: Int, width: Int,
                        into destination: UnsafeMutablePointer<Float>, placement: Placement, channel: Int = 0) {
        let values = table(channel)
        let pad = values[0]
        let shiftY = placement.offsetY - padding
        let shiftX = placement.offsetX - padding
        // Output columns whose source column lies inside the image: x + shiftX in 0..<width.
        let xStart = min(width, max(0, -shiftX))
        let xEnd = max(xStart, min(width, width - shiftX))
        values.withUnsafeBufferPointer { lut in
            let lut = lut.baseAddress!
            for y in 0..<height {
                let out = destination + y * width
                let sy = y + shiftY
                guard sy >= 0 && sy < height else {
                    out.update(repeating: pad, count: width)
                    continue
                }
                let row = source + sy * width
                if xStart > 0 { out.update(repeating: pad, count: xStart) }
                if placement.flip {
                    // Flipped column c reads original column width − 1 − c.
                    let mirrored = row + (width - 1 - shiftX)
                    for x in xStart..<xEnd { out[x] = lut[Int(mirrored[-x])] }
                } else {
                    let shifted = row + shiftX
                    for x in xStart..<xEnd { out[x] = lut[Int(shifted[x])] }
                }
                if xEnd < width { (out + xEnd).update(repeating: pad, count: width - xEnd) }
            }
        }
    }

    /// Normalises one image without augmentation (the evaluation path).
    ///
    /// - Parameters:
    ///   - source: source: [channels, planeSize]
    ///   - destination: destination: [channels, planeSize]
    public func normalize(_ source: UnsafePointer<UInt8>, channels: Int = 1, planeSize: Int,
                          into destination: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            table(c).withUnsafeBufferPointer { lut in
                let lut = lut.baseAddress!, from = source + c * planeSize, to = destination + c * planeSize
                for i in 0..<planeSize { to[i] = lut[Int(from[i])] }
            }
        }
    }
}
