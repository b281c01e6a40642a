import Engine

/// MoCo v2 (momentum contrast, as facebookresearch/moco defines it): a query encoder trained
/// by back-propagation, a key encoder that follows it as an exponential moving average, and a
/// queue of earlier keys as the negatives — and its step, the one path both training and the
/// `moco_v2_step` golden case run.
///
/// One step, in the reference's order:
/// 1. q = normalize(f_q(im_q))
/// 2. without gradients: key encoder ← m·key + (1 − m)·query (parameters only; the key
///    encoder's batch-norm statistics are its own), k = normalize(f_k(im_k)) — encoded as the
///    injected `KeyEncoding` says (one batch, split-BN groups, or shuffled across ranks)
/// 3. logits = [q·k, q·queueᵀ] / T, loss = CE(logits, 0)
/// 4. after backward and the optimizer step: the keys of every rank are enqueued.
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

    /// A CIFAR-style ResNet-(6n+2) pair with MoCo v2's MLP head (`ResNet.cifarEncoder`), the
    /// key encoder starting as a copy of the query encoder, and a queue of `queueSize` random
    /// unit keys.
    public static func cifar(depth: Int, width: Int = 16, inputChannels: Int = 1, hidden: Int = 64, dim: Int,
                             queueSize: Int, temperature: Float, rng: inout RandomGenerator) -> MoCoModel {
        let q = ResNet.cifarEncoder(depth: depth, width: width, inputChannels: inputChannels, hidden: hidden, dim: dim, rng: &rng)
        let k = ResNet.cifarEncoder(depth: depth, width: width, inputChannels: inputChannels, hidden: hidden, dim: dim, rng: &rng)
        for ((_, dst), (_, src)) in zip(k.namedParameters() + k.namedBuffers(), q.namedParameters() + q.namedBuffers()) {
            dst.assign(src)
        }
        return MoCoModel(encoderQ: q, encoderK: k, queue: ContrastiveQueue(capacity: queueSize, dim: dim, rng: &rng),
                         temperature: temperature)
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

    /// What one forward pass gives.
    public struct Forward {
        /// The InfoNCE loss, on the tape (backward runs through the query encoder).
        public let loss: Tensor
        /// [q·k, q·queueᵀ] / T, detached. logits: [B, 1+K]
        public let logits: Tensor
        /// Every rank's keys in global position order, to enqueue once the step is final
        /// (the loss's backward reads the queue as it is now). keys: [N·B, dim]
        public let keysToEnqueue: Tensor
    }

    /// Steps 1–3 above on the query images `imQ` and key images `imK` [B, C, H, W] with EMA
    /// momentum `m`; `keys` encodes the key batch (`iteration` picks shuffle-BN's permutation).
    public func forward(query imQ: Tensor, key imK: Tensor, momentum m: Float, iteration: Int,
                        keys encoding: KeyEncoding) throws -> Forward {
        precondition(imQ.shape == imK.shape, "MoCo: query images \(imQ.shape) and key images \(imK.shape)")
        momentumUpdate(m)
        let (k, all) = try encoding.encode(imK, iteration: iteration, with: encoderK)   // k: [B, dim], all: [N·B, dim]
        let q = encoderQ(imQ).l2Normalized(dim: 1)   // q: [B, dim]
        let (loss, logits) = q.infoNCE(keys: k, queue: queue.keys, temperature: temperature)   // logits: [B, 1+K]
        return Forward(loss: loss, logits: logits, keysToEnqueue: all)
    }

    /// Step 4: every rank's keys into the queue.
    public func enqueue(_ keys: Tensor) { queue.enqueue(keys) }
}
