/// Sums over the batch that do not depend on how the batch is split across processes.
///
/// The global batch is cut into `globalChunks` chunks by position (chunk j holds the positions
/// ≡ j mod K). A reduction sums each chunk's per-image values in position order, in double, and
/// combines the chunks with a fixed tree that splits on the lowest bit of the chunk index
/// first: S = S(even chunks) + S(odd chunks), recursively. With w ranks (w dividing K) taking
/// the positions ≡ r mod w — the sharded sampler's layout — rank r's images are exactly the
/// chunks ≡ r mod w, in the same order, so each rank computes one subtree over its K/w local
/// chunks (local image i is in local chunk i mod K/w), and the top of the tree is the sum
/// across ranks (for two ranks one addition, which is commutative). N ranks with batch B then
/// produce the same bits as one process with batch N·B.
public enum BatchReduction {
    /// Chunks of the global batch (a power of two; world sizes dividing it get identical results).
    public static let globalChunks = 8

    /// Chunks of this process's batch: `globalChunks / worldSize` when that divides evenly.
    nonisolated(unsafe) public private(set) static var localChunks = globalChunks

    /// Sets the chunking for a process that is one of `worldSize` ranks.
    public static func configure(worldSize: Int) {
        localChunks = worldSize >= 1 && globalChunks % worldSize == 0 ? globalChunks / worldSize : globalChunks
    }

    /// Local chunk of the local image `index`.
    @inlinable public static func chunk(of index: Int) -> Int { index % localChunks }

    /// Adds the chunk sums [chunks, size] with the lowest-bit-first tree; the total ends in
    /// the first `size` values.
    public static func combine(_ sums: UnsafeMutablePointer<Double>, chunks: Int, size: Int) {
        // Bottom-up form of S(set) = S(set's even members) + S(set's odd members): at each
        // level, member j absorbs member j + half.
        var count = chunks
        while count > 1 {
            let half = (count + 1) / 2
            for j in 0..<(count - half) {
                let dst = sums + j * size, src = sums + (j + half) * size
                for i in 0..<size { dst[i] += src[i] }
            }
            count = half
        }
    }

    /// Per-image contributions summed per local chunk, in image order, then combined by the
    /// tree: `body(image, chunkSums)` adds the image's values into the `size` sums of its chunk.
    public static func sum(images n: Int, size: Int, _ body: (Int, UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        let chunks = min(localChunks, max(n, 1))
        var all = [Double](repeating: 0, count: chunks * size)   // all: [chunks, size]
        all.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            for image in 0..<n { body(image, base + chunk(of: image) * size) }
            combine(base, chunks: chunks, size: size)
        }
        all.removeLast(all.count - size)
        return all
    }
}
