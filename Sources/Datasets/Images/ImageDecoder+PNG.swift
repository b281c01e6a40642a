import CPNG

extension ImageDecoder {
    /// libpng's simplified reader: palette, 16-bit and low-bit-depth images expanded to
    /// 8 bits; the alpha channel, if any, read and dropped.
    func decodePNG(_ bytes: UnsafeRawBufferPointer, path: String) throws -> DecodedImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            throw Self.damaged(path, "PNG", Self.message(of: &image))
        }
        let (width, height) = (Int(image.width), Int(image.height))
        guard width * height <= Self.maximumPixels else { throw Self.tooLarge(path, width, height) }
        let colour = image.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
        let alpha = image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
        image.format = (colour ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0) | (alpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
        let stored = (colour ? 3 : 1) + (alpha ? 1 : 0)
        var raw = [UInt8](repeating: 0, count: width * height * stored)
        guard raw.withUnsafeMutableBytes({ png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }) != 0 else {
            throw Self.damaged(path, "PNG", Self.message(of: &image))
        }
        let channels = colour ? 3 : 1
        guard alpha else { return DecodedImage(channels: channels, height: height, width: width, pixels: raw) }
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        for i in 0..<(width * height) {
            for c in 0..<channels { pixels[i * channels + c] = raw[i * stored + c] }
        }
        return DecodedImage(channels: channels, height: height, width: width, pixels: pixels)
    }

    private static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "libpng gave no reason" : "libpng: " + text
        }
    }
}
