import ArgumentParser
import Datasets
import Engine
import Foundation
import MPI
import Tools

/// `concord bench`: training-step throughput as one JSON line.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure steady-state training throughput (one JSON line).",
        discussion: """
            Workloads match shared/bench/torch_ref/bench.py: resnet20 (batch 128, flip + pad-crop \
            augmentation), mlp 784-1024-1024-10 (batch 256) and moco (MoCo v2 on a ResNet-20 \
            trunk, batch 128, two views, queue 4096, shuffle-BN across ranks), SGD momentum 0.9; \
            vit (configs/fashion-vit.yaml's ViT, batch 128, flip + pad-crop, AdamW lr 1e-3 wd 0.05); \
            mocov3 (MoCo v3 on that ViT, two views), simclr (SimCLR on ResNet-20, two views) and mae \
            (MAE on that ViT, 75 % masked); \
            the step is the one training runs.
            OPENBLAS_CORETYPE is read when OpenBLAS loads; the chosen kernel family is reported \
            as blas_core. Convolutions run on Concord's own kernels, reported as conv_kernels.
            Under mpirun every rank trains its shard and gradients are averaged: images_per_s \
            is global, with the step's compute / communication breakdown.
            --collective allreduce instead prints one JSON line per size (4 KiB to 64 MiB) with \
            the bus bandwidth through Concord's wrapper and through plain MPI_Allreduce; with \
            --sweep, the time per allreduce from 4 bytes to 64 MiB and a last line with the fitted \
            latency α and inverse bandwidth β of the network (docs/scaling.md uses them).
            """)

    @Option(help: "Workload.") var model: ThroughputBench.Model = .resnet20
    @Option(help: "Threads per process.") var threads: Int = 1
    @Option(help: "Batch size (default 128 for resnet20, moco and vit, 256 for mlp).") var batch: Int?
    @Option(help: "Timed steps.") var steps: Int = 30
    @Option(help: "Warm-up steps (not timed).") var warmup: Int = 8
    @Option(help: "Fashion-MNIST directory.") var dataDir: String = FashionMNIST.defaultDirectory
    @Flag(help: "Use random images instead of Fashion-MNIST.") var synthetic = false
    @Option(help: "Measure a collective instead of training.") var collective: Collective?
    @Flag(help: "With --collective: time every size from 4 bytes to 64 MiB and fit latency α and inverse bandwidth β.")
    var sweep = false
    @Option(help: "Convolution kernels (default: the widest this CPU runs).") var kernels: ShiftedGemm.Kernels?
    @Flag(help: "Time every op of the timed steps: a table on standard error (rank 0), profile.* fields in the JSON.")
    var profile = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard !sweep || collective != nil else { throw ValidationError("--sweep measures a collective: add --collective allreduce") }
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be ≥ 1 and --warmup ≥ 0") }
        if kernels == .avx512 && !CPUFeatures.hasAVX512 {
            throw ValidationError("--kernels avx512: this CPU lacks AVX-512 (F, CD, BW, DQ, VL); use avx2")
        }
        if let batch, batch < 2 || batch > 60000 {
            throw ValidationError("--batch must be between 2 (batch norm needs it) and 60000 (the training set)")
        }
    }

    func run() throws {
        if let kernels { ShiftedGemm.kernels = kernels }
        let world = try RankErrors.beforeWorld { try Communicator.world() }
        try RankErrors.withWorld(world) {
            func report(_ line: String) { if world.rank == 0 { print(line) } }
            if collective != nil && sweep {
                let (times, fit) = try CollectiveBench.sweep(world)
                for (bytes, seconds) in times {
                    report(String(format: "{\"collective\":\"allreduce\",\"ranks\":%d,\"bytes\":%d,\"seconds\":%.9f}", world.size, bytes, seconds))
                }
                report(String(format: "{\"fit\":\"a + b*bytes\",\"ranks\":%d,\"a_us\":%.3f,\"b_ns_per_byte\":%.5f,\"alpha_us\":%.3f,\"beta_ns_per_byte\":%.5f,\"link_GBps\":%.3f}",
                              world.size, fit.a * 1e6, fit.b * 1e9, fit.alpha * 1e6, fit.beta * 1e9, fit.beta > 0 ? 1 / fit.beta / 1e9 : 0))
                return
            }
            if collective != nil {
                for sample in try CollectiveBench.allreduce(world) { report(sample.json(ranks: world.size)) }
                return
            }
            var bench = ThroughputBench(model: model, threads: threads, batch: batch, steps: steps, warmup: warmup)
            bench.profile = profile
            let batches = synthetic
                ? BenchBatches(synthetic: model, batch: bench.batch, world: world)
                : try BenchBatches(fashionMNIST: dataDir, model: model, batch: bench.batch, world: world)
            let result = try bench.run(batches: batches, world: world)
            if world.rank == 0, let table = result.profile { FileHandle.standardError.write(Data((table + "\n").utf8)) }
            report(result.json)
        }
    }
}
