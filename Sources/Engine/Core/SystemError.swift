import Foundation

/// What the operating system said about a failed file operation.
public enum SystemError {
    /// The OS reason ("Permission denied", "Not a directory") rather than Foundation's generic
    /// "The operation could not be completed".
    public static func reason(_ error: Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(nsError.code)))
        }
        if nsError.domain == NSCocoaErrorDomain && nsError.code == CocoaError.fileWriteVolumeReadOnly.rawValue {
            return String(cString: strerror(EROFS))
        }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
           underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}
