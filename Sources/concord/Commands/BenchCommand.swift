import ArgumentParser
import Coordinator
import Engine
import Foundation

/// `concord bench`: training-step throughput as one JSON line.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure steady-state training throughput (one JSON line).",
        discussion: """
            Workloads match shared/bench/torch_ref/bench.py: resnet20 (batch 128, flip + pad-crop \
            augmentation) and mlp 784-1024-1024-10 (batch 256), SGD momentum 0.9.
            OPENBLAS_CORETYPE is read when OpenBLAS loads; the chosen kernel family is reported \
            as blas_core.
            """)

    @Option(help: "Model: resnet20 or mlp.") var model: String = "resnet20"
    @Option(help: "BLAS threads.") var threads: Int = 1
    @Option(help: "Batch size (default 128 for resnet20, 256 for mlp).") var batch: Int?
    @Option(help: "Timed steps.") var steps: Int = 30
    @Option(help: "Warm-up steps (not timed).") var warmup: Int = 8
    @Flag(help: "Use random images instead of Fashion-MNIST.") var synthetic = false

    func validate() throws {
        guard ThroughputBench.Model(rawValue: model) != nil else {
            throw ValidationError("--model '\(model)' is not a bench workload; use resnet20 or mlp")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be ≥ 1 and --warmup ≥ 0") }
        if let batch, batch < 2 { throw ValidationError("--batch must be at least 2 (batch norm needs it)") }
    }

    func run() throws {
        let bench = ThroughputBench(model: ThroughputBench.Model(rawValue: model)!, threads: threads,
                                    batch: batch, steps: steps, warmup: warmup)
        var rng = RandomGenerator(seed: 1234)
        let b = bench.batch
        let result = bench.run(dataSource: "synthetic") { _ in
            (Tensor.randn([b, 1, 28, 28], rng: &rng), (0..<b).map { _ in rng.int(below: 10) })
        }
        print(result.json)
    }
}
