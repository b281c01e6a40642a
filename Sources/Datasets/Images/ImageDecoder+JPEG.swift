import CTurboJPEG

extension ImageDecoder {
    /// libjpeg-turbo's TurboJPEG API with its default (accurate integer) inverse DCT and
    /// smooth chroma upsampling, as PIL decodes. Of the warnings the library gives about a
    /// file it could still decode, a premature end (truncated data) is an error — not a picture
    /// with a gray bottom —, while harmless ones (extraneous bytes) pass, as they do in PIL.
    func decodeJPEG(_ bytes: UnsafeRawBufferPointer, path: String) throws -> DecodedImage {
        if jpegHandle == nil { jpegHandle = tjInitDecompress() }
        guard let handle = jpegHandle, let source = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw DatasetError("image '\(path)': libjpeg-turbo could not start a decoder (out of memory?)")
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colourspace: Int32 = 0
        guard tjDecompressHeader3(handle, source, UInt(bytes.count), &width, &height, &subsampling, &colourspace) == 0 else {
            throw Self.damaged(path, "JPEG", "libjpeg-turbo: " + String(cString: tjGetErrorStr2(handle)))
        }
        guard width > 0 && height > 0 else { throw Self.damaged(path, "JPEG", "no image size") }
        guard Int(width) * Int(height) <= Self.maximumPixels else { throw Self.tooLarge(path, Int(width), Int(height)) }
        if colourspace == Int32(TJCS_CMYK.rawValue) || colourspace == Int32(TJCS_YCCK.rawValue) {
            throw DatasetError("image '\(path)': a CMYK JPEG, which concord does not convert; save it as RGB")
        }
        let gray = colourspace == Int32(TJCS_GRAY.rawValue)
        let channels = gray ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let format = gray ? TJPF_GRAY : TJPF_RGB
        let status = pixels.withUnsafeMutableBufferPointer {
            tjDecompress2(handle, source, UInt(bytes.count), $0.baseAddress, width, 0, height, Int32(format.rawValue), 0)
        }
        if status != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            let harmless = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue) && !message.contains("Premature end")
            guard harmless else { throw Self.damaged(path, "JPEG", "libjpeg-turbo: " + message) }
        }
        return DecodedImage(channels: channels, height: Int(height), width: Int(width), pixels: pixels)
    }

    func closeJPEG() {
        if let handle = jpegHandle { tjDestroy(handle) }
        jpegHandle = nil
    }
}
