import Engine
import Foundation

/// Reads PNG and JPEG files into `DecodedImage`s: libpng for PNG, libjpeg-turbo for JPEG,
/// chosen by the file's first bytes (not its name). Gray stays gray; colour, palette and
/// images with alpha come out RGB, the alpha dropped as PIL's `convert("RGB")` does.
///
/// One decoder per thread (it keeps libjpeg-turbo's handle between images).
public final class ImageDecoder {
    /// Images larger than this many pixels are refused before any is decoded: a damaged or
    /// hostile header must not make the process allocate gigabytes.
    public static let maximumPixels = 1 << 26
    var jpegHandle: UnsafeMutableRawPointer?

    public init() {}

    deinit { closeJPEG() }

    /// The image in `path`.
    /// - Throws: `DatasetError` naming the file: unreadable, not PNG or JPEG, truncated or
    ///   damaged, or too large.
    public func decode(contentsOf path: String) throws -> DecodedImage {
        let data: Data
        do { data = try FileBytes.read(path) } catch {
            throw DatasetError("image '\(path)': cannot read it (\(SystemError.reason(error))); check the file and its permissions")
        }
        return try decode(data, path: path)
    }

    /// The image in `data`, read from `path` (named in errors).
    public func decode(_ data: Data, path: String) throws -> DecodedImage {
        try data.withUnsafeBytes { bytes in
            if bytes.count >= 8 && bytes.prefix(8).elementsEqual(Self.pngSignature) { return try decodePNG(bytes, path: path) }
            if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return try decodeJPEG(bytes, path: path) }
            let what = bytes.isEmpty ? "an empty file" : "neither PNG nor JPEG (its first bytes say otherwise)"
            throw DatasetError("image '\(path)': \(what); convert it to PNG or JPEG or remove it")
        }
    }

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The error for an image a library could not decode.
    static func damaged(_ path: String, _ kind: String, _ detail: String) -> DatasetError {
        DatasetError("image '\(path)': a truncated or damaged \(kind) (\(detail)); replace or remove it, or set data.skip_bad_images: true to leave such files out")
    }

    /// The error for an image above `maximumPixels`.
    static func tooLarge(_ path: String, _ width: Int, _ height: Int) -> DatasetError {
        DatasetError("image '\(path)': \(width)×\(height) is larger than the \(maximumPixels / (1 << 20)) megapixels concord decodes; shrink it first")
    }
}
