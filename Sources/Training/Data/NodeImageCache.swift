import Datasets
import Engine
import Foundation
import MPI
import Persistence

/// Data sets made once per node — decoded from image files, or read from formats that cannot
/// be mapped — and kept in an `ImageCacheFile` every process of the node maps, so no process
/// holds its own copy and no later run decodes again.
///
/// Nodes need not share a file system: each node's processes check the cache directory as
/// they see it and, if the file is missing or was made from other files, make it together —
/// every process its share (`Part`), written beside the target; the node's first process
/// joins the shares into the cache file in one atomic write.
struct NodeImageCache {
    /// Where the cache files are.
    let directory: String
    /// The processes of this node.
    let node: Communicator

    /// One process's share of a data set being made, in node-rank order.
    struct Part {
        var header: ImageCacheFile.Header
        var labels: [Int]
        /// pixels: [header.count, C, H, W]
        var pixels: any ContiguousBytes
    }

    /// What `dataset` found or made, for the run log.
    enum Origin { case cached, made(seconds: Double), remade(reason: String, seconds: Double) }

    /// The data set cached as `name` under `key`, made with `make` when the node has no such
    /// file. `make` runs on every process of the node (it may use `node` collectively) and
    /// returns that process's share.
    func dataset(name: String, key: String, make: () throws -> Part) throws -> (set: ImageDataset, header: ImageCacheFile.Header, origin: Origin) {
        let path = directory + "/" + name + ".images"
        var problem: String?
        var found: [Int64] = [0]
        if node.rank == 0 {
            if ImageCacheFile.open(path, key: key, problem: &problem) != nil { found[0] = 1 }
        }
        try found.withUnsafeMutableBufferPointer { try node.broadcast($0, root: 0) }
        let started = MonotonicClock.seconds()
        if found[0] == 0 {
            // Part files carry a token of this node's making, so nodes sharing the directory
            // never read or remove one another's (nor a killed run's).
            var token: [Int64] = [Int64.random(in: 0...Int64.max)]
            try token.withUnsafeMutableBufferPointer { try node.broadcast($0, root: 0) }
            let parts = (0..<node.size).map { path + ".part-\(StableHash.hex(UInt64(token[0])))-\($0)" }
            if node.rank == 0 { try makeDirectory() }
            try node.barrier()
            let part = try make()
            let prefix = ImageCacheFile.prefix(header: part.header, labels: part.labels)
            if node.rank > 0 { try AtomicFile.write(parts: [prefix, part.pixels], to: parts[node.rank]) }
            try node.barrier()
            if node.rank == 0 { try join(part, parts: Array(parts.dropFirst()), into: path, key: key) }
            try node.barrier()
        }
        var unusable: String?
        guard let opened = ImageCacheFile.open(path, key: key, problem: &unusable) else {
            throw TrainingError("data cache '\(path)': \(unusable ?? "it is missing") (it was \(found[0] == 1 ? "there a moment ago" : "just written")); check the disk under data.cache_dir")
        }
        let seconds = MonotonicClock.seconds() - started
        let origin: Origin = found[0] == 1 ? .cached : problem.map { .remade(reason: $0, seconds: seconds) } ?? .made(seconds: seconds)
        return (opened.dataset, opened.header, origin)
    }

    /// Node rank 0: its own share and the others' part files as one cache file; the part
    /// files are removed once it is written.
    private func join(_ first: Part, parts: [String], into path: String, key: String) throws {
        var header = first.header, labels = first.labels
        var pixels: [any ContiguousBytes] = [first.pixels]
        for file in parts {
            var problem: String?
            guard let share = ImageCacheFile.open(file, key: key, problem: &problem) else {
                throw TrainingError("data cache part '\(file)': \(problem ?? "missing"); check that data.cache_dir is writable on this node")
            }
            guard share.header.count == 0 || share.header.shape == header.shape || header.count == 0 else {
                throw TrainingError("data cache part '\(file)': images of \(share.header.shape), the first share's are \(header.shape); the processes of this node read different files")
            }
            if header.count == 0 { (header.channels, header.height, header.width) = (share.header.channels, share.header.height, share.header.width) }
            header.count += share.header.count
            header.skipped += share.header.skipped
            labels += share.dataset.labels
            pixels.append(share.dataset.images)
        }
        header.key = key
        try AtomicFile.write(parts: [ImageCacheFile.prefix(header: header, labels: labels)] + pixels, to: path)
        for file in parts { try? FileManager.default.removeItem(atPath: file) }
    }

    private func makeDirectory() throws {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw TrainingError("data.cache_dir '\(directory)' cannot be created (\(SystemError.reason(error))); choose a writable directory")
        }
    }
}
