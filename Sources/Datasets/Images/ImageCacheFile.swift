import Engine
import Foundation

/// The file a decoded data set is kept in so that later runs, epochs and processes map it
/// instead of decoding again: a header, the labels, then the pixels exactly as
/// `ImageDataset` holds them, 64-byte aligned so the mapped region is used in place.
///
/// ```
/// "CCIMAGE1" | UInt64 header length | header (JSON) | Int32 labels × count | zero padding | pixels
/// ```
/// Every integer is little-endian. The header's `key` names what the pixels were made from
/// (source files, their sizes and times, the image size asked for); a reader compares it
/// with the key it expects and decodes again on any difference.
public enum ImageCacheFile {
    /// What the pixels are and where they came from.
    public struct Header: Codable, Equatable, Sendable {
        /// Identifies the source and the decoding settings.
        public var key: String
        /// Images, and each one's channels × height × width.
        public var count: Int, channels: Int, height: Int, width: Int
        /// Class names, indexed by label.
        public var classNames: [String]
        /// One line per source image left out (`data.skip_bad_images`), saying why.
        public var skipped: [String]

        public init(key: String, count: Int, shape: ImageShape, classNames: [String], skipped: [String]) {
            (self.key, self.count, self.classNames, self.skipped) = (key, count, classNames, skipped)
            (channels, height, width) = (shape.channels, shape.height, shape.width)
        }

        /// channels × height × width.
        public var shape: ImageShape { ImageShape(channels: channels, height: height, width: width) }
    }

    static let magic = Array("CCIMAGE1".utf8)
    static let alignment = 64

    /// Everything before the pixels: magic, header, labels and padding. The file is this,
    /// then the pixels (written after it, possibly in several pieces).
    public static func prefix(header: Header, labels: [Int]) -> [UInt8] {
        precondition(labels.count == header.count, "ImageCacheFile: \(labels.count) labels for \(header.count) images")
        let json = Array((try? JSONEncoder().encode(header)) ?? Data())   // plain strings and numbers always encode
        var bytes = magic
        bytes += littleEndian(UInt64(json.count)) + json
        for label in labels { bytes += littleEndian(Int32(label)) }
        bytes += [UInt8](repeating: 0, count: (alignment - bytes.count % alignment) % alignment)
        return bytes
    }

    /// The data set in `path`, mapped, if the file is there, whole, and made under `key`
    /// (nil key: any); else nil and, for a file that is there but unusable, why in `problem`.
    public static func open(_ path: String, key: String?, problem: inout String?) -> (dataset: ImageDataset, header: Header)? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = try? FileBytes.read(path, mapped: true) else {
            problem = "it cannot be read"
            return nil
        }
        guard data.count >= 16, Array(data.prefix(8)) == magic else { problem = "it is not a concord image cache"; return nil }
        let length = Int(clamping: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian })
        guard length <= data.count - 16,
              let header = try? JSONDecoder().decode(Header.self, from: data.subdata(in: 16..<(16 + length))) else {
            problem = "its header is damaged"
            return nil
        }
        if let key, header.key != key { problem = "it was made from other files or settings"; return nil }
        let shape = header.shape
        // A damaged header must make the file unusable, never overflow: every size is bounded first.
        let sane = header.count >= 0 && header.count <= data.count && [shape.channels, shape.height, shape.width].allSatisfy { $0 > 0 && $0 <= 1 << 16 }
        let labelsStart = 16 + length, labelsEnd = labelsStart + 4 * (sane ? header.count : 0)
        let pixelsStart = (labelsEnd + alignment - 1) / alignment * alignment
        let (pixelCount, overflow) = (sane ? header.count : 0).multipliedReportingOverflow(by: shape.channels * shape.height * shape.width)
        guard sane, !header.classNames.isEmpty, !overflow, data.count == pixelsStart + pixelCount else {
            problem = "it is \(data.count) bytes, not what its header describes (cut short?)"
            return nil
        }
        let labels = data.withUnsafeBytes { raw in
            (0..<header.count).map { Int(raw.loadUnaligned(fromByteOffset: labelsStart + 4 * $0, as: Int32.self).littleEndian) }
        }
        guard labels.allSatisfy({ (0..<header.classNames.count).contains($0) }) else { problem = "its labels are damaged"; return nil }
        let pixels = PixelBuffer(mapped: data[pixelsStart..<data.count])
        let dataset = ImageDataset(pixels: pixels, labels: labels, channels: shape.channels, height: shape.height,
                                   width: shape.width, classNames: header.classNames)
        return (dataset, header)
    }

    private static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
