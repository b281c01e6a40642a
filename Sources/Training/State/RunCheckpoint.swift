import Engine
import Foundation
import Persistence

/// The one way a training run becomes a `CheckpointFile`: `model.<name>` and
/// `optimizer.<name>` tensors, then (for a resumable snapshot) `state.json`, then
/// `config.yaml`, with string metadata that `concord checkpoint inspect` shows.
///
/// Two kinds: `iter-<N>.ckpt` snapshots carry a `TrainState` and resume exactly;
/// `final.ckpt` carries the weights and optimizer state at the end of the run (for the probe,
/// `export` and `checkpoint diff`).
enum RunCheckpoint {
    static func file(model: [(String, Tensor)], optimizer: [(String, Tensor)], state: TrainState?,
                     configYAML: String, metadata: [String: String]) throws -> CheckpointFile {
        var file = CheckpointFile()
        file.set(model, prefix: "model.")
        file.set(optimizer, prefix: "optimizer.")
        if let state {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            // A non-finite loss (a skipped step) must not make the state unsavable.
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            file.set("state.json", bytes: Array(try encoder.encode(state)))
        }
        file.set("config.yaml", bytes: Array(configYAML.utf8))
        file.metadata = metadata
        return file
    }

    /// A resumable snapshot of `state`.
    static func snapshot(_ state: TrainState, model: [(String, Tensor)], optimizer: [(String, Tensor)],
                         configYAML: String) throws -> CheckpointFile {
        var metadata = ["kind": "train-state", "iteration": String(state.iteration), "epoch": String(state.epoch),
                        "config_hash": state.configHash, "world_size": String(state.worldSize)]
        for (name, value) in state.counters ?? [:] { metadata[name] = String(value) }
        return try file(model: model, optimizer: optimizer, state: state, configYAML: configYAML, metadata: metadata)
    }
}
