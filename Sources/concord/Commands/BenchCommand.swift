import ArgumentParser
import Coordinator
import Data
import Engine
import Foundation
import MPI

/// `concord bench`: training-step throughput as one JSON line.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure steady-state training throughput (one JSON line).",
        discussion: """
            Workloads match shared/bench/torch_ref/bench.py: resnet20 (batch 128, flip + pad-crop \
            augmentation), mlp 784-1024-1024-10 (batch 256) and moco (MoCo v2 on a ResNet-20 \
            trunk, batch 128, two views, queue 4096, shuffle-BN across ranks), SGD momentum 0.9.
            OPENBLAS_CORETYPE is read when OpenBLAS loads; the chosen kernel family is reported \
            as blas_core. Convolutions run on Concord's own kernels, reported as conv_kernels.
            Under mpirun every rank trains its shard and gradients are averaged: images_per_s \
            is global, with the step's compute / communication breakdown.
            --collective allreduce instead prints one JSON line per size (4 KiB to 64 MiB) with \
            the bus bandwidth through Concord's wrapper and through plain MPI_Allreduce.
            """)

    @Option(help: "Model: resnet20, mlp or moco.") var model: String = "resnet20"
    @Option(help: "BLAS threads.") var threads: Int = 1
    @Option(help: "Batch size (default 128 for resnet20, 256 for mlp).") var batch: Int?
    @Option(help: "Timed steps.") var steps: Int = 30
    @Option(help: "Warm-up steps (not timed).") var warmup: Int = 8
    @Option(help: "Fashion-MNIST directory.") var dataDir: String = FashionMNIST.defaultDirectory
    @Flag(help: "Use random images instead of Fashion-MNIST.") var synthetic = false
    @Option(help: "Measure a collective instead of training: allreduce.") var collective: String?
    @Option(help: "Convolution kernels: avx512 or avx2 (default: the widest this CPU runs).") var kernels: String?

    func validate() throws {
        if let collective, collective != "allreduce" {
            throw ValidationError("--collective '\(collective)' is not measured; use allreduce")
        }
        guard ThroughputBench.Model(rawValue: model) != nil else {
            throw ValidationError("--model '\(model)' is not a bench workload; use resnet20, mlp or moco")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be ≥ 1 and --warmup ≥ 0") }
        if let kernels {
            guard let chosen = ShiftedGemm.Kernels(rawValue: kernels) else {
                throw ValidationError("--kernels '\(kernels)' is not a kernel set; use avx512 or avx2")
            }
            if chosen == .avx512 && !CPUFeatures.hasAVX512 {
                throw ValidationError("--kernels avx512: this CPU lacks AVX-512 (F, CD, BW, DQ, VL); use avx2")
            }
        }
        if let batch, batch < 2 || batch > 60000 {
            throw ValidationError("--batch must be between 2 (batch norm needs it) and 60000 (the training set)")
        }
    }

    func run() throws {
        if let kernels, let chosen = ShiftedGemm.Kernels(rawValue: kernels) { ShiftedGemm.kernels = chosen }
        let world = try RankErrors.beforeWorld { try Communicator.world() }
        try RankErrors.withWorld(world) { try measure(world) }
    }

    private func measure(_ world: Communicator) throws {
        func report(_ line: String) { if world.rank == 0 { print(line) } }
        if collective != nil {
            for s in try CollectiveBench.allreduce(world) {
                report(ThroughputBench.Result(fields: [
                    "collective": "allreduce", "bytes": s.bytes, "ranks": world.size, "repetitions": s.repetitions,
                    "wrapper_busbw_gbps": (s.wrapperBusGBps * 1000).rounded() / 1000,
                    "raw_busbw_gbps": (s.rawBusGBps * 1000).rounded() / 1000,
                ]).json)
            }
            return
        }
        let bench = ThroughputBench(model: ThroughputBench.Model(rawValue: model)!, threads: threads,
                                    batch: batch, steps: steps, warmup: warmup)
        let b = bench.batch
        if synthetic {
            var rng = RandomGenerator(seed: 1234, purpose: .augmentation, index: UInt64(world.rank))
            report(try bench.run(dataSource: "synthetic", world: world) { i in
                Batch(images: Tensor.randn([b, 1, 28, 28], rng: &rng), labels: (0..<b).map { _ in rng.int(below: 10) },
                      indices: Array(0..<b), position: i,
                      secondView: bench.model == .moco ? Tensor.randn([b, 1, 28, 28], rng: &rng) : nil)
            }.json)
            return
        }
        // Real batches from the prefetching loader, augmented as the reference does for each
        // workload (resnet20: flip + pad-2 crop; moco: two random-resized-crop views; mlp:
        // none); epochs wrap around as needed.
        let train = try FashionMNIST(split: .train, directory: dataDir)
        let augment = bench.model == .resnet20
        var epoch = 0
        var rng = RandomGenerator(seed: 1234, purpose: .augmentation, index: UInt64(world.rank))
        func loader() -> BatchLoader {
            let sampler = ShardedSampler(datasetCount: train.count, rank: world.rank, worldSize: world.size, seed: 1234, epoch: epoch)
            return BatchLoader(dataset: train, sampler: sampler, batchSize: b, augment: augment,
                               views: bench.model == .moco ? ContrastiveAugmentation(settings: .init()) : nil, rng: rng)
        }
        var current = loader()
        defer { current.stop() }
        let result = try bench.run(dataSource: "fashion-mnist", world: world) { _ in
            if let batch = current.next() { return batch }
            rng = current.randomState
            epoch += 1
            current = loader()
            guard let batch = current.next() else { throw CLIError("\(dataDir): no full batch of \(b) images in the training set") }
            return batch
        }
        report(result.json)
    }
}
