import Engine

/// Tensors in and out of a checkpoint by name: the one way a model's state enters or leaves
/// a `.ckpt` file.
extension CheckpointFile {
    /// Adds each named tensor as a float32 entry `prefix + name`.
    public mutating func set(_ tensors: [(String, Tensor)], prefix: String) {
        for (name, t) in tensors { set(prefix + name, floats: t.values, shape: t.shape) }
    }

    /// The float32 entries whose names start with `prefix`, keyed by the rest of the name.
    public func tensors(prefix: String) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for e in entries where e.dtype == .f32 && e.name.hasPrefix(prefix) {
            let values = e.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            out[String(e.name.dropFirst(prefix.count))] = Tensor(shape: e.shape, values: values)
        }
        return out
    }

    /// Copies the entries `prefix + name` into `targets` (`Tensor.load`): all of them must be
    /// there with the targets' shapes and no other entry may carry the prefix; otherwise
    /// nothing is copied and the error names the checkpoint, every mismatch (the first few)
    /// and `hint` — what the user should do.
    public func load(into targets: [(String, Tensor)], prefix: String, what: String, hint: String) throws {
        do { try Tensor.load(tensors(prefix: prefix), into: targets) } catch let error as ModuleError {
            throw CheckpointError(source, "\(what): \(error.listed); \(hint)")
        }
    }

    /// The model entries (`model.*`) as a safetensors file with PyTorch's names, for
    /// `model.load_state_dict(safetensors.torch.load_file(FILE))`; the metadata comes along.
    public func exportModel(source: String) throws -> SafeTensors {
        let model = tensors(prefix: "model.")
        guard !model.isEmpty else {
            throw CheckpointError(self.source, "holds no model tensors (model.*); pass a checkpoint written by concord train")
        }
        var out = SafeTensors(source: source)
        for e in entries where e.dtype == .f32 && e.name.hasPrefix("model.") {
            let name = String(e.name.dropFirst("model.".count))
            if let t = model[name] { out.set(name, t) }
        }
        out.metadata = metadata.merging(["source": self.source]) { $1 }
        return out
    }
}
