/// Images and labels saved from NumPy, turned into an `ImageDataset`.
///
/// Images: uint8 (0–255) or float32 (0–1, stored as the nearest of the 256 levels) of shape
/// [N, H, W] (gray), [N, C, H, W] or [N, H, W, C] with C in {1, 3}; the layout is read off the
/// shape unless it is ambiguous, then `layout` says. Labels: integers of shape [N], 0 ≤ label;
/// the number of classes is the largest label + 1 unless given.
public enum NumPyImages {
    /// The most classes labels may imply when none are given (a stray huge label is an error,
    /// not a million-way classifier).
    public static let maxClasses = 65_536

    /// Where the channel axis is.
    public enum Layout: String, Sendable, CaseIterable {
        /// From the shape: C first or last, whichever is 1 or 3.
        case auto
        /// [N, C, H, W] (PyTorch's).
        case nchw
        /// [N, H, W, C] (NumPy / TensorFlow images).
        case nhwc
    }

    /// The data set of `images` and `labels`; `classes` fixes the class count (labels must lie
    /// below it).
    /// - Throws: `DatasetError` naming the array and what is wrong.
    public static func dataset(images: NumPyArray, labels: NumPyArray, layout: Layout = .auto, classes: Int? = nil) throws -> ImageDataset {
        let s = images.shape
        let (n, c, h, w, channelsLast): (Int, Int, Int, Int, Bool)
        switch s.count {
        case 3: (n, c, h, w, channelsLast) = (s[0], 1, s[1], s[2], false)
        case 4:
            let first = [1, 3].contains(s[1]), last = [1, 3].contains(s[3])
            let nhwc: Bool
            switch layout {
            case .nchw: nhwc = false
            case .nhwc: nhwc = true
            case .auto:
                guard first != last else {
                    throw DatasetError("\(images.source): shape \(s) does not say where the channels are; set data.layout to nchw or nhwc")
                }
                nhwc = last
            }
            (n, c, h, w, channelsLast) = nhwc ? (s[0], s[3], s[1], s[2], true) : (s[0], s[1], s[2], s[3], false)
            guard [1, 3].contains(c) else {
                throw DatasetError("\(images.source): \(c) channels in shape \(s) (data.layout \(layout.rawValue)); images need 1 (gray) or 3 (RGB)")
            }
        default:
            throw DatasetError("\(images.source): images of rank \(s.count) (shape \(s)); expected [N, H, W], [N, C, H, W] or [N, H, W, C]")
        }
        guard n > 0, h > 0, w > 0 else { throw DatasetError("\(images.source): shape \(s) holds no image") }
        guard images.dtype == .uint8 || images.dtype == .float32 else {
            throw DatasetError("\(images.source): images of dtype \(images.dtype) (\(images.dtype.rawValue)); save them as uint8 (0–255) or float32 (0–1)")
        }
        guard labels.shape.count == 1, labels.dtype.isInteger else {
            throw DatasetError("\(labels.source): labels must be integers of shape [N], got \(labels.dtype) of shape \(labels.shape)")
        }
        guard labels.shape[0] == n else {
            throw DatasetError("\(labels.source): \(labels.shape[0]) labels for the \(n) images of \(images.source); save the two from the same split")
        }
        let limit = classes ?? maxClasses
        var label = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let v = labels.value(at: i)
            guard v >= 0, v < Double(limit) else {
                throw DatasetError("\(labels.source): label \(v < 0 ? String(Int(v)) : String(format: "%.0f", v)) at index \(i) is "
                                   + (v < 0 ? "negative" : "outside 0..<\(limit)") + "; labels are class indices from 0")
            }
            label[i] = Int(v)
        }
        let classCount = classes ?? ((label.max() ?? 0) + 1)
        let names = (0..<classCount).map(String.init)
        // One channel last is planar already.
        if images.dtype == .uint8 && (!channelsLast || c == 1) {
            return ImageDataset(pixels: PixelBuffer(mapped: images.bytes), labels: label, channels: c, height: h, width: w, classNames: names)
        }
        // A copy: to planar channels, and float32 to bytes.
        let plane = h * w, perImage = c * plane
        var out = [UInt8](repeating: 0, count: n * perImage)
        var outOfRange: (index: Int, value: Float)?
        images.bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    for ch in 0..<c {
                        for p in 0..<plane {
                            let from = channelsLast ? i * perImage + p * c + ch : i * perImage + ch * plane + p
                            if images.dtype == .uint8 {
                                dst[i * perImage + ch * plane + p] = raw[from]
                            } else {
                                let v = raw.loadUnaligned(fromByteOffset: from * 4, as: Float.self)
                                guard v >= 0 && v <= 1 else {   // NaN too
                                    if outOfRange == nil { outOfRange = (from, v) }
                                    continue
                                }
                                dst[i * perImage + ch * plane + p] = UInt8((v * 255).rounded())
                            }
                        }
                    }
                }
            }
        }
        if let bad = outOfRange {
            throw DatasetError("\(images.source): float32 pixel \(bad.value) at flat index \(bad.index) is outside 0…1; scale float images to [0, 1] or save them as uint8")
        }
        return ImageDataset(images: out, labels: label, channels: c, height: h, width: w, classNames: names)
    }
}
