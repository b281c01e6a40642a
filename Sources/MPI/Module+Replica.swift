import Engine

extension Module {
    /// Makes this network one replica of a data-parallel job over `world`: its batch sums are
    /// chunked for its share of the global batch (`BatchReduction`), so the job gives the bits
    /// one process with the whole batch would, and its stochastic-depth layers draw by global
    /// sample position (`DropPath`); with `syncBatchNorm` (and more than one rank)
    /// its batch-norm statistics span every rank's batch (SyncBatchNorm).
    ///
    /// - Parameter groupsPerRank: the network encodes each rank's batch in this many groups
    ///   of its own (MoCo's key encoder under shuffle-BN), each then a share of the global
    ///   batch as one of `world.size × groupsPerRank` replicas would hold.
    public func replicate(over world: Communicator, groupsPerRank: Int = 1, syncBatchNorm: Bool = false) {
        setBatchReduction(BatchReduction(replicas: world.size * groupsPerRank))
        setSamplePositions(SamplePositions(rank: world.rank, replicas: world.size))
        if syncBatchNorm && world.isDistributed {
            let sum = CommunicatorSum(communicator: world)
            for bn in layers(of: BatchNorm.self) { bn.crossReplica = sum }
        }
    }
}
