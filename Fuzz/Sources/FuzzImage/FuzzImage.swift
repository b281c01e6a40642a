import Datasets
import Foundation
import FuzzSupport

/// A PNG or JPEG file (libpng / libjpeg-turbo behind Concord's checks); a decoded image is
/// also converted and resized as `data.image_size` would.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let decoder = ImageDecoder()
    guard let image = try? decoder.decode(Data(FuzzInput.bytes(data, size)), path: "fuzz.img") else { return 0 }
    _ = image.converted(toChannels: 3).converted(toChannels: 1)
    if image.height * image.width <= 1 << 16 { _ = image.resizedAndCropped(to: 5) }
    return 0
}
