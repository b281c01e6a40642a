/// An MNIST-family split — MNIST, Fashion-MNIST, KMNIST, EMNIST — from its two IDX files
/// (images `[N, rows, cols]`, labels `[N]`; gzipped or not), as an `ImageDataset` of gray images.
///
/// EMNIST stores each image transposed (rows are the glyph's columns); `transpose` reads them
/// the right way up. torchvision's `EMNIST` leaves them as stored.
public enum IDXImages {
    /// The data set in `images` and `labels`; `classNames` fixes the classes (labels must lie
    /// below their count), else there are as many as the largest label + 1, named by number.
    /// - Throws: `DatasetError` naming the file and what is wrong.
    public static func load(images imagesPath: String, labels labelsPath: String, transpose: Bool = false,
                            classNames: [String]? = nil) throws -> ImageDataset {
        let imageFile = try IDXFile(path: imagesPath)
        guard imageFile.magic == IDXFile.imagesMagic else {
            throw DatasetError("\(imagesPath): holds 1-d data \(IDXFile.shapeText(imageFile.dimensions)), "
                            + "expected 3-d images (magic 0x00000803); is it a labels file under the wrong name?")
        }
        let labelFile = try IDXFile(path: labelsPath)
        guard labelFile.magic == IDXFile.labelsMagic else {
            throw DatasetError("\(labelsPath): holds 3-d data \(IDXFile.shapeText(labelFile.dimensions)), "
                            + "expected 1-d labels (magic 0x00000801); is it an images file under the wrong name?")
        }
        let dims = imageFile.dimensions
        guard labelFile.itemCount == imageFile.itemCount else {
            throw DatasetError("\(labelsPath): \(labelFile.itemCount) labels for \(imageFile.itemCount) images in "
                            + "\(imagesPath); the two files must come from the same split — reinstall them")
        }
        let limit = classNames?.count ?? 256
        var labels = [Int](repeating: 0, count: labelFile.itemCount)
        for (i, byte) in labelFile.bytes.enumerated() {
            guard Int(byte) < limit else {
                throw DatasetError("\(labelsPath): label \(byte) at index \(i) is not a class "
                                + "(0..<\(limit)); the file is corrupt — reinstall it")
            }
            labels[i] = Int(byte)
        }
        let names = classNames ?? (0...(labels.max() ?? 0)).map(String.init)
        var pixels = imageFile.bytes
        var (height, width) = (dims[1], dims[2])
        if transpose {
            let plane = height * width
            pixels.withUnsafeMutableBufferPointer { out in
                imageFile.bytes.withUnsafeBufferPointer { stored in
                    for n in 0..<dims[0] {
                        for r in 0..<width {
                            for c in 0..<height { out[n * plane + r * height + c] = stored[n * plane + c * width + r] }
                        }
                    }
                }
            }
            (height, width) = (width, height)
        }
        return ImageDataset(images: pixels, labels: labels, channels: 1, height: height, width: width, classNames: names)
    }
}
