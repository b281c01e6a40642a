import Engine

/// One mini-batch of images, ready for the model.
public struct Batch {
    /// Normalised (and possibly augmented) images, no autograd history. images: [B, 1, H, W]
    public let images: Tensor
    /// Class of each image. labels: [B]
    public let labels: [Int]
    /// Data-set index of each image, in batch order. indices: [B]
    public let indices: [Int]
    /// Position of this batch in the epoch (0-based), counting batches skipped on resume.
    public let position: Int
    /// A second, independently augmented view of the same images (contrastive training's key
    /// view), nil for ordinary batches. secondView: [B, 1, H, W]
    public let secondView: Tensor?

    /// Number of images.
    public var count: Int { labels.count }

    /// Assembles a batch; the arrays must have `images.shape[0]` entries.
    public init(images: Tensor, labels: [Int], indices: [Int], position: Int, secondView: Tensor? = nil) {
        precondition(images.shape.first == labels.count && labels.count == indices.count,
                     "batch of \(images.shape) with \(labels.count) labels, \(indices.count) indices")
        precondition(secondView.map { $0.shape == images.shape } ?? true, "second view \(secondView?.shape ?? []) for images \(images.shape)")
        self.secondView = secondView
        self.images = images
        self.labels = labels
        self.indices = indices
        self.position = position
    }
}
