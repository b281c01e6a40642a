import CZstd

/// zstd frames with a content checksum: the only Swift code that calls libzstd.
enum Zstd {
    /// A zstd failure, with the library's own name for it.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One frame holding `bytes`, its size and an XXH64-based checksum of the content.
    static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 3) throws -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw Failure(description: "zstd: cannot create a compression context") }
        defer { ZSTD_freeCCtx(context) }
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1))
        // Uninitialised: only the pages zstd writes are touched (the bound exceeds the frame).
        var code = 0
        let frame = [UInt8](unsafeUninitializedCapacity: ZSTD_compressBound(bytes.count)) { out, count in
            code = ZSTD_compress2(context, out.baseAddress, out.count, bytes.baseAddress, bytes.count)
            count = ZSTD_isError(code) != 0 ? 0 : code
        }
        try check(code)
        return frame
    }

    /// The most a zstd frame can expand: a run-length block is 4 bytes for up to 128 KiB.
    static let maximumExpansion = (128 * 1024) / 4

    /// The content of one frame, which must hold exactly `size` bytes and pass its checksum.
    static func decompress(_ frame: UnsafeRawBufferPointer, size: Int) throws -> [UInt8] {
        let declared = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        guard declared == UInt64(size) else {
            throw Failure(description: "zstd frame declares \(declared > UInt64(Int.max) ? "no valid" : String(declared)) bytes, expected \(size)")
        }
        // No zstd frame expands more than a run-length block does (4 bytes for 128 KiB), so a
        // larger declared size is a damaged or crafted file: refused before it is allocated.
        guard size / Self.maximumExpansion <= frame.count else {
            throw Failure(description: "zstd frame of \(frame.count) bytes cannot hold the \(size) it declares")
        }
        var out = [UInt8](repeating: 0, count: size)
        let produced = out.withUnsafeMutableBytes { dst in
            ZSTD_decompress(dst.baseAddress, dst.count, frame.baseAddress, frame.count)
        }
        try check(produced)
        guard produced == size else { throw Failure(description: "zstd frame produced \(produced) bytes, expected \(size)") }
        return out
    }

    private static func check(_ code: Int) throws {
        if ZSTD_isError(code) != 0 { throw Failure(description: "zstd: " + String(cString: ZSTD_getErrorName(code))) }
    }
}
