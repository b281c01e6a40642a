import Datasets
import Engine
import Foundation
import MPI

/// An `ImageFolder` decoded by the processes of one node together: each decodes a contiguous
/// share of the files, in the folder's order, so the node's shares joined are the whole set.
struct ImageFolderDecoding {
    let folder: ImageFolder
    /// Side of the square every image is resized and centre-cropped to; 0 keeps the files'
    /// own size, which must then be the same for all.
    let imageSize: Int
    /// Channels to produce; nil: 3 when any image of the folder is in colour, else 1.
    let channels: Int?
    /// Leave out (and count) images that cannot be decoded instead of stopping.
    let skipBad: Bool
    let node: Communicator
    /// Say how far decoding has got (every 10 s, on standard error): the world's rank 0.
    var reportsProgress = false

    /// This process's share of the decoded set.
    func part(key: String) throws -> NodeImageCache.Part {
        let range = (folder.count * node.rank / node.size)..<(folder.count * (node.rank + 1) / node.size)
        let decoder = ImageDecoder()
        var images: [(index: Int, image: DecodedImage)] = [], skipped: [String] = []
        images.reserveCapacity(range.count)
        let started = MonotonicClock.seconds()
        var reported = started
        for index in range {
            if reportsProgress, MonotonicClock.seconds() - reported >= 10 {
                reported = MonotonicClock.seconds()
                let done = index - range.lowerBound, rate = Double(done) / (reported - started)
                FileHandle.standardError.write(Data(("data: decoding '\(folder.root)': \(done) of this process's \(range.count) images, "
                    + "\(Int(rate)) images/s, about \(Int(Double(range.count - done) / max(rate, 1e-9))) s to go\n").utf8))
            }
            let path = folder.root + "/" + folder.files[index]
            var decoded: DecodedImage
            do { decoded = try decoder.decode(contentsOf: path) } catch let error as DatasetError where skipBad {
                skipped.append(error.description)
                continue
            }
            if imageSize > 0 { decoded = decoded.resizedAndCropped(to: imageSize) }
            if let first = images.first, (decoded.height, decoded.width) != (first.image.height, first.image.width) {
                throw mixedSizes(first.index, first.image, index, decoded)
            }
            images.append((index, decoded))
        }
        // What every share found: its first image's index and size, and whether any is in colour.
        let mine: [Int64] = images.first.map { [1, Int64($0.index), Int64($0.image.height), Int64($0.image.width)] } ?? [0, 0, 0, 0]
        let colour: Int64 = images.contains { $0.image.channels == 3 } ? 1 : 0
        let all = try node.allgather(mine + [colour])
        let present = all.filter { $0[0] == 1 }
        guard let reference = present.first else {
            throw DatasetError("image folder '\(folder.root)': none of its \(folder.count) images could be decoded (\(skipped.first ?? "")); check the files")
        }
        if let own = images.first, (Int64(own.image.height), Int64(own.image.width)) != (reference[2], reference[3]) {
            throw DatasetError("image folder '\(folder.root)': '\(folder.files[Int(reference[1])])' is \(reference[3])×\(reference[2]) but '\(folder.files[own.index])' is \(own.image.width)×\(own.image.height); set data.image_size to resize every image to one square size")
        }
        let target = channels ?? (all.contains { $0[4] == 1 } ? 3 : 1)
        let (height, width) = (Int(reference[2]), Int(reference[3]))
        var pixels = [UInt8]()
        pixels.reserveCapacity(images.count * target * height * width)
        for i in images.indices {   // each image's own copy released as it joins, so the share is held once
            images[i].image.converted(toChannels: target).appendPlanar(to: &pixels)
            images[i].image.pixels = []
        }
        let header = ImageCacheFile.Header(key: key, count: images.count, shape: ImageShape(channels: target, height: height, width: width),
                                           classNames: folder.classNames, skipped: skipped)
        return NodeImageCache.Part(header: header, labels: images.map { folder.labels[$0.index] }, pixels: pixels)
    }

    private func mixedSizes(_ a: Int, _ first: DecodedImage, _ b: Int, _ image: DecodedImage) -> DatasetError {
        DatasetError("image folder '\(folder.root)': '\(folder.files[a])' is \(first.width)×\(first.height) but '\(folder.files[b])' is \(image.width)×\(image.height); set data.image_size to resize every image to one square size")
    }
}
