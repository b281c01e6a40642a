import Config
import Engine
import Foundation
import Methods
import Training

/// Whole-model golden cases.
enum GoldenModelCases {
    /// `resnet_sgd_step`: CIFAR ResNet trained for `steps` SGD steps from a given state;
    /// compares each step's loss, step 0's gradients and the final parameters and buffers.
    static func resnetSGDStep(_ c: GoldenCase) throws -> [(String, Tensor, Tensor)] {
        var rng = RandomGenerator(seed: 0)
        let depth: Int = try c.attr("depth")
        let bnMomentum: Float = try c.attr("bn_momentum", default: 0.1)
        let bnEps: Float = try c.attr("bn_eps", default: 1e-5)
        let images0 = try c.tensor("in.images.0")
        let model = ResNet.cifar(depth: depth, inputChannels: images0.shape[1], numClasses: try c.tensor("param.fc.bias").count, rng: &rng)
        var state: [String: Tensor] = [:]
        for n in c.names(withPrefix: "param.") { state[n] = try c.tensor("param." + n) }
        for n in c.names(withPrefix: "buffer.") { state[n] = try c.tensor("buffer." + n) }
        try model.load(state: state)
        for bn in model.layers(of: BatchNorm.self) { bn.momentum = bnMomentum; bn.eps = bnEps }
        model.train()
        let opt = SGD(groups: [ParameterGroup(name: "all", parameters: model.namedParameters(),
                                              weightDecay: try c.attr("weight_decay", default: 0))],
                      lr: try c.attr("lr"), momentum: try c.attr("momentum", default: 0), nesterov: try c.attr("nesterov", default: false))
        var comparisons = try classifierSteps(c, model: model, optimizer: opt)
        for (name, b) in model.namedBuffers() {
            comparisons.append(("after.buffer." + name, b, try c.tensor("after.buffer." + name)))
        }
        return comparisons
    }

    /// `steps` training steps of a classifier on the case's `in.images.<s>` / `in.labels.<s>`
    /// with (label-smoothed) cross-entropy: each step's loss, step 0's gradients and the
    /// parameters afterwards, against the case.
    static func classifierSteps(_ c: GoldenCase, model: any Module, optimizer: any Optimizer) throws -> [(String, Tensor, Tensor)] {
        let steps: Int = try c.attr("steps")
        let smoothing: Float = try c.attr("label_smoothing", default: 0)
        var comparisons: [(String, Tensor, Tensor)] = []
        var losses: [Float] = []
        Autograd.reset()
        for s in 0..<steps {
            optimizer.zeroGrad()
            let loss = model(try c.tensor("in.images.\(s)")).crossEntropy(targets: try c.ints("in.labels.\(s)"), labelSmoothing: smoothing)
            losses.append(loss.item)
            loss.backward()
            if s == 0 {
                for (name, p) in model.namedParameters() where c.has("grad.param." + name) {
                    comparisons.append(("grad.param." + name, p.grad ?? Tensor.zeros(p.shape), try c.tensor("grad.param." + name)))
                }
            }
            optimizer.step()
        }
        comparisons.append(("out.loss", Tensor(shape: [steps], values: losses), try c.tensor("out.loss")))
        for (name, p) in model.namedParameters() {
            comparisons.append(("after.param." + name, p, try c.tensor("after.param." + name)))
        }
        return comparisons
    }

    /// `moco_v2_step`: one MoCo v2 step from a given state (query and key encoders, queue and
    /// pointer) — logits, loss, the query encoder's gradients, and afterwards both encoders,
    /// their buffers and the queue.
    static func mocoV2Step(_ c: GoldenCase) throws -> [(String, Tensor, Tensor)] {
        let encoder: String = try c.attr("encoder")
        guard encoder.hasPrefix("resnet"), let depth = Int(encoder.dropFirst("resnet".count)), depth >= 8, (depth - 2) % 6 == 0 else {
            throw GoldenUnsupported(reason: "MoCo encoder '\(encoder)' (CIFAR-style resnet(6n+2) only)")
        }
        let head: String = try c.attr("head")
        let parts = head.split(separator: "-")
        guard parts.count == 4, parts[0] == "mlp", parts[1] == "64", let hidden = Int(parts[2]), parts[3] == "dim" else {
            throw GoldenUnsupported(reason: "MoCo head '\(head)' (mlp-64-<hidden>-dim only)")
        }
        let dim: Int = try c.attr("dim")
        let imQ = try c.tensor("in.im_q"), imK = try c.tensor("in.im_k")
        var rng = RandomGenerator(seed: 0)
        let q = ResNet.cifarEncoder(depth: depth, inputChannels: imQ.shape[1], hidden: hidden, dim: dim, rng: &rng)
        let k = ResNet.cifarEncoder(depth: depth, inputChannels: imQ.shape[1], hidden: hidden, dim: dim, rng: &rng)
        for (prefix, encoder) in [("encoder_q.", q), ("encoder_k.", k)] {
            var state: [String: Tensor] = [:]
            for n in c.names(withPrefix: "param." + prefix) { state[n] = try c.tensor("param." + prefix + n) }
            for n in c.names(withPrefix: "buffer." + prefix) { state[n] = try c.tensor("buffer." + prefix + n) }
            try encoder.load(state: state)
        }
        let queue = try ContrastiveQueue(keys: try c.tensor("buffer.queue"), pointer: try c.ints("buffer.queue_ptr")[0])
        guard queue.capacity == (try c.attr("K") as Int) else { throw GoldenError("\(c.name): queue rows differ from K") }
        let moco = MoCoModel(encoderQ: q, encoderK: k, queue: queue, temperature: try c.attr("T"))
        let bnMomentum: Float = try c.attr("bn_momentum", default: 0.1), bnEps: Float = try c.attr("bn_eps", default: 1e-5)
        for bn in q.layers(of: BatchNorm.self) + k.layers(of: BatchNorm.self) { bn.momentum = bnMomentum; bn.eps = bnEps }
        q.train()
        k.train()
        let opt = SGD(groups: [ParameterGroup(name: "all", parameters: q.namedParameters(),
                                              weightDecay: try c.attr("weight_decay", default: 0))],
                      lr: try c.attr("lr"), momentum: try c.attr("momentum", default: 0))
        Autograd.reset()
        opt.zeroGrad()
        // The training step's own path: one process, the key batch encoded whole (as the reference).
        let step = try moco.forward(query: imQ, key: imK, momentum: try c.attr("m"), iteration: 0,
                                    keys: KeyEncoding(mode: .local, world: .single(), seed: 0))
        let (loss, logits) = (step.loss, step.logits)
        loss.backward()
        var comparisons: [(String, Tensor, Tensor)] = [("out.logits", logits, try c.tensor("out.logits")),
                                                       ("out.loss", Tensor(shape: [1], values: [loss.item]), try c.tensor("out.loss"))]
        for (name, p) in q.namedParameters(prefix: "encoder_q.") where c.has("grad.param." + name) {
            comparisons.append(("grad.param." + name, p.grad ?? Tensor.zeros(p.shape), try c.tensor("grad.param." + name)))
        }
        opt.step()
        moco.enqueue(step.keysToEnqueue)
        for (name, p) in moco.namedParameters() { comparisons.append(("after.param." + name, p, try c.tensor("after.param." + name))) }
        for (name, b) in moco.namedBuffers() { comparisons.append(("after.buffer." + name, b, try c.tensor("after.buffer." + name))) }
        comparisons.append(("after.buffer.queue", moco.queue.keys, try c.tensor("after.buffer.queue")))
        comparisons.append(("after.buffer.queue_ptr", Tensor(shape: [1], values: [Float(moco.queue.pointer)]),
                            Tensor(shape: [1], values: [Float(try c.ints("after.buffer.queue_ptr")[0])])))
        return comparisons
    }

    /// `schedule`: the per-iteration values of a composed schedule.
    static func schedule(_ c: GoldenCase) throws -> [(String, Tensor, Tensor)] {
        let base: Double = try c.attr("base_lr")
        let iterations: Int = try c.attr("iterations")
        guard let specs = c.attrs["segments"] as? [[String: Any]] else {
            throw GoldenError("\(c.name): attribute 'segments' is not a list of objects")
        }
        let segments = try specs.map { spec -> Schedule.Segment in
            func num(_ k: String) throws -> Double {
                guard let v = spec[k] as? NSNumber else { throw GoldenError("\(c.name): segment needs '\(k)'") }
                return v.doubleValue
            }
            let n = (spec["iterations"] as? NSNumber)?.intValue
            switch spec["kind"] as? String ?? "" {
            case "linear_warmup": return .linearWarmup(iterations: Int(try num("iterations")), startFactor: try num("start_factor"))
            case "cosine": return .cosine(iterations: Int(try num("iterations")), final: (spec["final"] as? NSNumber)?.doubleValue ?? 0)
            case "constant": return .constant(iterations: n)
            case "multistep":
                guard let ms = spec["milestones"] as? [NSNumber] else { throw GoldenError("\(c.name): multistep needs 'milestones'") }
                return .multistep(milestones: ms.map(\.intValue), gamma: try num("gamma"), iterations: n)
            case "step": return .step(stepSize: Int(try num("step_size")), gamma: try num("gamma"), iterations: n)
            case "cosine_restarts":
                guard try num("t0") >= 1, try num("t_mult") >= 1 else { throw GoldenError("\(c.name): cosine_restarts needs t0 ≥ 1 and t_mult ≥ 1") }
                return .cosineRestarts(t0: Int(try num("t0")), tMult: Int(try num("t_mult")),
                                       final: (spec["final"] as? NSNumber)?.doubleValue ?? 0, iterations: n)
            case let kind: throw GoldenUnsupported(reason: "schedule segment kind '\(kind)'")
            }
        }
        let schedule = Schedule(base: base, segments: segments)
        let values = (0..<iterations).map { Float(schedule.value(at: $0)) }
        return [("out.lr", Tensor(shape: [iterations], values: values), try c.tensor("out.lr"))]
    }
}
