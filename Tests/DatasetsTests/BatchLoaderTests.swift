import Datasets
import Engine
import Foundation
import TestSupport
import XCTest

final class BatchLoaderTests: XCTestCase {
    /// 103 random 28×28 images: odd, so sharding and the last batch both leave remainders.
    private let dataset: ImageDataset = {
        var rng = RandomGenerator(seed: 2024)
        let n = 103
        let images = (0..<(n * 784)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let labels = (0..<n).map { _ in rng.int(below: 10) }
        return ImageDataset(images: images, labels: labels)
    }()

    private func sampler(rank: Int = 1, epoch: Int = 4) -> ShardedSampler {
        ShardedSampler(datasetCount: dataset.count, rank: rank, worldSize: 2, seed: 77, epoch: epoch)
    }

    /// The reference: every batch built in order on this thread with one generator.
    private func synchronous(_ batches: [[Int]], augment: Bool, rng: RandomGenerator)
        -> (batches: [Batch], states: [RandomGenerator]) {
        var rng = rng
        var out: [Batch] = []
        var states: [RandomGenerator] = []
        for (position, indices) in batches.enumerated() {
            out.append(BatchLoader.makeBatch(dataset: dataset, indices: indices, position: position,
                                             augmentation: Augmentation(), augment: augment, rng: &rng))
            states.append(rng)
        }
        return (out, states)
    }

    private func assertSame(_ a: Batch, _ b: Batch, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.images.shape, b.images.shape, file: file, line: line)
        XCTAssertEqual(a.images.values, b.images.values, "batch \(a.position) pixels", file: file, line: line)
        XCTAssertEqual(a.labels, b.labels, file: file, line: line)
        XCTAssertEqual(a.indices, b.indices, file: file, line: line)
        XCTAssertEqual(a.position, b.position, file: file, line: line)
    }

    private func drain(_ loader: BatchLoader) -> [Batch] {
        var out: [Batch] = []
        while let b = loader.next() { out.append(b) }
        return out
    }

    // MARK: Same output as the synchronous path

    func testBackgroundLoaderEqualsSynchronousBatchForBatch() {
        let rng = RandomGenerator(seed: 5, stream: 1)
        let batches = sampler().batches(batchSize: 8, dropLast: false)  // 51 indices: 6 × 8 + 3
        let reference = synchronous(batches, augment: true, rng: rng)
        XCTAssertEqual(reference.batches.map(\.count), [8, 8, 8, 8, 8, 8, 3])
        XCTAssertNotEqual(reference.states.last, rng, "augmentation must have drawn")

        for prefetch in [0, 1, 2] {
            let loader = BatchLoader(dataset: dataset, sampler: sampler(), batchSize: 8, dropLast: false,
                                     rng: rng, prefetch: prefetch)
            XCTAssertEqual(loader.batchCount, 7)
            let got = drain(loader)
            XCTAssertEqual(got.count, reference.batches.count, "prefetch \(prefetch)")
            for (a, b) in zip(got, reference.batches) { assertSame(a, b) }
            XCTAssertEqual(loader.randomState, reference.states.last, "final state, prefetch \(prefetch)")
            XCTAssertEqual(loader.batchesDelivered, 7)
            XCTAssertNil(loader.next(), "stays finished")
        }
    }

    /// Two-view batches: both views of each image from one stream, in image order, the same
    /// on the worker as on this thread; the views are independent draws.
    func testTwoViewBatchesEqualTheSynchronousPathAndDifferBetweenViews() {
        let views = ContrastiveAugmentation(settings: .init())
        let batches = sampler().batches(batchSize: 8, dropLast: true)
        var rng = RandomGenerator(seed: 9, stream: 3)
        var reference: [Batch] = []
        for (position, indices) in batches.enumerated() {
            reference.append(BatchLoader.makeTwoViewBatch(dataset: dataset, indices: indices, position: position, views: views, rng: &rng))
        }
        let loader = BatchLoader(dataset: dataset, sampler: sampler(), batchSize: 8, views: views,
                                 rng: RandomGenerator(seed: 9, stream: 3), prefetch: 2)
        let got = drain(loader)
        XCTAssertEqual(got.count, reference.count)
        for (a, b) in zip(got, reference) {
            assertSame(a, b)
            XCTAssertEqual(a.secondView?.values, b.secondView?.values, "batch \(a.position) second view")
            XCTAssertEqual(a.secondView?.shape, [8, 1, 28, 28])
            XCTAssertNotEqual(a.images.values, a.secondView?.values, "two independent views")
        }
        XCTAssertEqual(loader.randomState, rng)
        let plain = BatchLoader(dataset: dataset, sampler: sampler(), batchSize: 8, rng: RandomGenerator(seed: 9), prefetch: 0)
        XCTAssertNil(plain.next()?.secondView, "one view unless asked")
    }

    func testImagesHaveTheBatchShapeAndRealPixels() {
        let loader = BatchLoader(dataset: dataset, sampler: sampler(), batchSize: 16, augment: false,
                                 rng: RandomGenerator(seed: 1))
        guard let batch = loader.next() else { return XCTFail("no batch") }
        XCTAssertEqual(batch.images.shape, [16, 1, 28, 28])
        XCTAssertFalse(batch.images.requiresGrad)
        let aug = Augmentation()
        let first = batch.indices[0]
        XCTAssertEqual(batch.images[flat: 0], aug.normalized(dataset.images[first * 784]))
        XCTAssertEqual(batch.images[flat: 783], aug.normalized(dataset.images[first * 784 + 783]))
        XCTAssertEqual(batch.labels[0], dataset.labels[first])
    }

    func testRandomStateFollowsDeliveredBatchesNotTheWorker() {
        let rng = RandomGenerator(seed: 11)
        let batches = sampler().batches(batchSize: 4, dropLast: true)
        let reference = synchronous(batches, augment: true, rng: rng)
        let loader = BatchLoader(dataset: dataset, batches: batches, augment: true, rng: rng, prefetch: 2)
        XCTAssertEqual(loader.randomState, rng)
        for k in 0..<5 {
            _ = loader.next()
            Thread.sleep(forTimeInterval: 0.01)  // let the worker run ahead
            XCTAssertEqual(loader.batchesDelivered, k + 1)
            XCTAssertEqual(loader.randomState, reference.states[k], "after \(k + 1) batches")
        }
    }

    func testResumingMidEpochContinuesIdentically() {
        let rng = RandomGenerator(seed: 3)
        let batches = sampler().batches(batchSize: 8, dropLast: true)
        let reference = synchronous(batches, augment: true, rng: rng)

        let first = BatchLoader(dataset: dataset, batches: batches, augment: true, rng: rng)
        for _ in 0..<2 { _ = first.next() }
        let (position, state) = (first.batchesDelivered, first.randomState)
        first.stop()
        XCTAssertNil(first.next())

        let resumed = BatchLoader(dataset: dataset, batches: batches, augment: true, rng: state,
                                  startBatch: position)
        let rest = drain(resumed)
        XCTAssertEqual(rest.map(\.position), Array(2..<batches.count))
        for (a, b) in zip(rest, reference.batches.dropFirst(2)) { assertSame(a, b) }
        XCTAssertEqual(resumed.randomState, reference.states.last)
    }

    func testNextEpochUsesANewPermutationAndContinuesTheStream() {
        let rng = RandomGenerator(seed: 8)
        let e0 = BatchLoader(dataset: dataset, sampler: sampler(epoch: 0), batchSize: 10, rng: rng)
        let b0 = drain(e0)
        let e1 = BatchLoader(dataset: dataset, sampler: sampler(epoch: 1), batchSize: 10, rng: e0.randomState)
        let b1 = drain(e1)
        XCTAssertEqual(b0.count, 5)
        XCTAssertNotEqual(b0.flatMap(\.indices), b1.flatMap(\.indices))
        XCTAssertNotEqual(e1.randomState, e0.randomState)
    }

    // MARK: Evaluation

    func testEvaluationVisitsEveryExampleOnceWithoutAugmentation() {
        let aug = Augmentation()
        var seen: [Int] = []
        for rank in 0..<2 {
            let loader = BatchLoader.evaluation(dataset: dataset, rank: rank, worldSize: 2, batchSize: 20)
            let before = loader.randomState
            let batches = drain(loader)
            XCTAssertEqual(loader.randomState, before, "evaluation draws nothing")
            let indices = batches.flatMap(\.indices)
            XCTAssertEqual(indices, Array(stride(from: rank, to: dataset.count, by: 2)))
            XCTAssertEqual(batches.map(\.count), rank == 0 ? [20, 20, 12] : [20, 20, 11])
            for batch in batches {
                XCTAssertEqual(batch.labels, batch.indices.map { dataset.labels[$0] })
                let want = batch.indices.flatMap { i in (0..<784).map { aug.normalized(dataset.images[i * 784 + $0]) } }
                XCTAssertEqual(batch.images.values, want)
            }
            seen += indices
        }
        XCTAssertEqual(seen.sorted(), Array(0..<dataset.count))
    }

    // MARK: Stopping early

    /// Runs `body` on a thread; false if it has not returned after `seconds` (a hang).
    private func finishes(within seconds: Double, _ body: @escaping () -> Void) -> Bool {
        let done = DispatchSemaphore(value: 0)
        Thread { body(); done.signal() }.start()
        return done.wait(timeout: .now() + seconds) == .success
    }

    /// Live threads named like the loader's worker.
    private func loaderThreads() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return comm.hasPrefix(BatchLoader.threadName)
        }.count
    }

    private func waitForLoaderThreads(toReach count: Int) -> Int {
        for _ in 0..<200 where loaderThreads() > count { Thread.sleep(forTimeInterval: 0.01) }
        return loaderThreads()
    }

    func testStopAfterOneBatchDoesNotHangAndEndsTheThread() {
        let baseline = waitForLoaderThreads(toReach: 0)
        // Many batches, a tiny queue: the worker is certainly blocked waiting for room.
        let batches = (0..<500).map { b in (0..<8).map { (b * 8 + $0) % dataset.count } }
        let loader = BatchLoader(dataset: dataset, batches: batches, augment: true,
                                 rng: RandomGenerator(seed: 1), prefetch: 1)
        XCTAssertNotNil(loader.next())
        // The name reaches /proc a moment after the thread sets it: poll rather than sleep once.
        for _ in 0..<200 where loaderThreads() < baseline + 1 { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(loaderThreads(), baseline + 1, "the worker runs under its name")
        XCTAssert(finishes(within: 10) { loader.stop() }, "stop() hung")
        XCTAssertNil(loader.next())
        XCTAssert(finishes(within: 10) { loader.stop() }, "a second stop() hung")
        XCTAssertEqual(waitForLoaderThreads(toReach: baseline), baseline, "worker thread leaked")
    }

    func testDroppingTheLoaderMidEpochEndsTheThread() {
        let baseline = waitForLoaderThreads(toReach: 0)
        let batches = (0..<500).map { b in (0..<8).map { (b * 8 + $0) % dataset.count } }
        let ok = finishes(within: 10) { [dataset] in
            for round in 0..<5 {
                let loader = BatchLoader(dataset: dataset, batches: batches, augment: true,
                                         rng: RandomGenerator(seed: UInt64(round)), prefetch: 2)
                for batch in loader where batch.position == round { break }
            }
        }
        XCTAssert(ok, "breaking out of the loop and dropping the loader hung")
        XCTAssertEqual(waitForLoaderThreads(toReach: baseline), baseline, "worker threads leaked")
    }

    func testUnusedLoaderShutsDown() {
        let baseline = waitForLoaderThreads(toReach: 0)
        let ok = finishes(within: 10) { [dataset] in
            _ = BatchLoader(dataset: dataset, batches: [[0, 1], [2, 3], [4, 5], [6, 7]], augment: false,
                            rng: RandomGenerator(seed: 0), prefetch: 1)
        }
        XCTAssert(ok, "dropping an unused loader hung")
        XCTAssertEqual(waitForLoaderThreads(toReach: baseline), baseline)
    }
}
