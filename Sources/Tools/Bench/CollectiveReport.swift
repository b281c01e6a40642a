import MPI
import Training

extension CollectiveBench.Sample {
    /// The sample as `concord bench --collective allreduce` prints it: one JSON line.
    public func json(ranks: Int) -> String {
        MetricValue.jsonObject([
            "collective": "allreduce", "bytes": .int(bytes), "ranks": .int(ranks), "repetitions": .int(repetitions),
            "wrapper_busbw_gbps": .double((wrapperBusGBps * 1000).rounded() / 1000),
            "raw_busbw_gbps": .double((rawBusGBps * 1000).rounded() / 1000),
        ])
    }
}
