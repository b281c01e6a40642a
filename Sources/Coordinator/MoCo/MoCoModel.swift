import Engine

/// MoCo v2 (momentum contrast, as facebookresearch/moco defines it): a query encoder trained
/// by back-propagation, a key encoder that follows it as an exponential moving average, and a
/// queue of earlier keys as the negatives.
///
/// One step, in the reference's order:
/// 1. q = normalize(f_q(im_q))
/// 2. without gradients: key encoder ← m·key + (1 − m)·query (parameters only; the key
///    encoder's batch-norm statistics are its own), k = normalize(f_k(im_k))
/// 3. logits = [q·k, q·queueᵀ] / T, loss = CE(logits, 0)
/// 4. after backward: the keys are enqueued (`ContrastiveQueue.enqueue`).
///
/// Steps 1 and 2 are independent (the EMA reads only parameters), so they run as 2 then 1:
/// the same numbers, with the key encoder's scratch freed before the query's activations
/// are saved.
///
/// Parameter and buffer names are the reference's: `encoder_q.…`, `encoder_k.…`, `queue`,
/// `queue_ptr`.
public final class MoCoModel {
    /// f_q: the trunk and its projection head, trained.
    public let encoderQ: ResNet
    /// f_k: the same architecture, an EMA of f_q; never receives gradients.
    public let encoderK: ResNet
    /// The negatives.
    public let queue: ContrastiveQueue
    /// Softmax temperature T.
    public let temperature: Float

    /// Wraps two encoders of the same architecture; the key encoder's parameters are made
    /// non-trainable (copy the query encoder's into it first, or load both).
    public init(encoderQ: ResNet, encoderK: ResNet, queue: ContrastiveQueue, temperature: Float) {
        let q = encoderQ.namedParameters(), k = encoderK.namedParameters()
        precondition(q.map(\.0) == k.map(\.0) && zip(q, k).allSatisfy { $0.1.shape == $1.1.shape },
                     "MoCoModel: the key encoder must have the query encoder's architecture")
        precondition(temperature > 0, "MoCoModel: temperature \(temperature)")
        self.encoderQ = encoderQ
        self.encoderK = encoderK
        self.queue = queue
        self.temperature = temperature
        for (_, p) in k { p.requiresGrad = false }
    }

    /// A CIFAR-style ResNet-(6n+2) pair with MoCo v2's MLP head (`fc.0` Linear 4·width→hidden,
    /// ReLU, `fc.2` Linear hidden→dim), the key encoder starting as a copy of the query
    /// encoder, and a queue of `queueSize` random unit keys.
    public static func cifar(depth: Int, width: Int = 16, inputChannels: Int = 1, hidden: Int = 64, dim: Int,
                             queueSize: Int, temperature: Float, rng: inout RandomGenerator) -> MoCoModel {
        let q = encoder(depth: depth, width: width, inputChannels: inputChannels, hidden: hidden, dim: dim, rng: &rng)
        let k = encoder(depth: depth, width: width, inputChannels: inputChannels, hidden: hidden, dim: dim, rng: &rng)
        for ((_, dst), (_, src)) in zip(k.namedParameters() + k.namedBuffers(), q.namedParameters() + q.namedBuffers()) {
            dst.assign(src)
        }
        return MoCoModel(encoderQ: q, encoderK: k, queue: ContrastiveQueue(capacity: queueSize, dim: dim, rng: &rng),
                         temperature: temperature)
    }

    /// One encoder: a CIFAR-style ResNet-(6n+2) trunk of the given width whose `fc` is MoCo
    /// v2's MLP head (`fc.0` Linear 4·width→hidden, ReLU, `fc.2` Linear hidden→dim).
    public static func encoder(depth: Int, width: Int = 16, inputChannels: Int = 1, hidden: Int = 64, dim: Int,
                               rng: inout RandomGenerator) -> ResNet {
        let head = Sequential([Linear(4 * width, hidden, rng: &rng), ReLU(), Linear(hidden, dim, rng: &rng)])
        return ResNet.cifar(depth: depth, width: width, inputChannels: inputChannels, head: head, rng: &rng)
    }

    /// Every parameter of both encoders, with the reference's names.
    public func namedParameters() -> [(String, Tensor)] {
        encoderQ.namedParameters(prefix: "encoder_q.") + encoderK.namedParameters(prefix: "encoder_k.")
    }

    /// Every buffer of both encoders, with the reference's names (the queue is separate:
    /// its pointer is an integer).
    public func namedBuffers() -> [(String, Tensor)] {
        encoderQ.namedBuffers(prefix: "encoder_q.") + encoderK.namedBuffers(prefix: "encoder_k.")
    }

    /// key ← m·key + (1 − m)·query for every parameter.
    public func momentumUpdate(_ m: Float) {
        precondition((0...1).contains(m), "momentumUpdate: m \(m) outside [0, 1]")
        for ((_, k), (_, q)) in zip(encoderK.namedParameters(), encoderQ.namedParameters()) {
            let pk = k.data, pq = q.data
            for i in 0..<k.count { pk[i] = pk[i] * m + pq[i] * (1 - m) }
        }
    }

    /// One forward pass (steps 1–3 above). Returns the loss (on the tape, for backward), the
    /// logits [N, 1+K] (detached, for the instance accuracy) and the keys [N, dim] to enqueue
    /// once backward has run (the loss's backward reads the queue as it is now).
    ///
    /// `keyGroups` > 1 splits the key batch into that many groups on a shuffled assignment
    /// (`split`), each run through the key encoder on its own so its batch-norm statistics
    /// cover only that group: in one process, the effect of the reference's shuffle-BN across
    /// that many ranks (a query and its key no longer share statistics, which would let the
    /// task be solved through them). The key encoder's running statistics then move once per
    /// group.
    public func forward(query imQ: Tensor, key imK: Tensor, momentum m: Float,
                        keyGroups split: KeyGroups = .none) -> (loss: Tensor, logits: Tensor, keys: Tensor) {
        precondition(imQ.shape == imK.shape, "MoCo: query images \(imQ.shape) and key images \(imK.shape)")
        let k = Autograd.noGrad { () -> Tensor in
            momentumUpdate(m)
            return keys(imK, split)   // k: [N, dim]
        }
        let q = encoderQ(imQ).l2Normalized(dim: 1)   // q: [N, dim]
        let (loss, logits) = q.infoNCE(keys: k, queue: queue.keys, temperature: temperature)
        return (loss, logits, k)
    }

    /// How the key batch is divided for its batch-norm statistics.
    public enum KeyGroups {
        /// One batch, as the reference in one process.
        case none
        /// Image `order[i]` goes to group i·groups / N; each group is encoded separately.
        case shuffled(groups: Int, order: [Int])
    }

    /// Normalised keys of `images` [N, C, H, W], in the images' order.
    func keys(_ images: Tensor, _ split: KeyGroups) -> Tensor {
        guard case let .shuffled(groups, order) = split, groups > 1 else { return encoderK(images).l2Normalized(dim: 1) }
        let n = images.shape[0], plane = images.count / max(n, 1)
        precondition(order.count == n && Set(order) == Set(0..<n), "MoCo key groups: order must be a permutation of 0..<\(n)")
        precondition(groups <= n, "MoCo key groups: \(groups) groups for \(n) images")
        let dim = queue.dim
        let keys = Tensor(uninitializedShape: [n, dim])   // keys: [N, dim]
        for g in 0..<groups {
            let members = Array(order[(g * n / groups)..<((g + 1) * n / groups)])
            let batch = Tensor(uninitializedShape: [members.count] + Array(images.shape.dropFirst()))   // batch: [n_g, C, H, W]
            for (j, i) in members.enumerated() { (batch.data + j * plane).update(from: images.data + i * plane, count: plane) }
            let encoded = encoderK(batch).l2Normalized(dim: 1)   // encoded: [n_g, dim]
            for (j, i) in members.enumerated() { (keys.data + i * dim).update(from: encoded.data + j * dim, count: dim) }
        }
        return keys
    }
}
