import CMPI
import Engine
import Foundation

/// Element types the communicator moves: Float, Double, Int64 and UInt8 (no others conform).
public protocol CommunicatorScalar {}
extension Float: CommunicatorScalar {}
extension Double: CommunicatorScalar {}
extension Int64: CommunicatorScalar {}
extension UInt8: CommunicatorScalar {}

/// Reduction applied element-wise across ranks.
public enum ReduceOperation: Sendable { case sum, max, min }

/// The processes of one training job: rank, size, and the collectives on raw buffers.
///
/// ```swift
/// let world = try Communicator.world()      // rank 0 of 1 when not started by mpirun
/// try world.allreduce(gradients, op: .sum)  // in place
/// try Communicator.finalize()
/// ```
///
/// Without a launcher the communicator is a single process and every collective is the
/// identity, so the same training code runs alone. Started by `mpirun` (its environment says
/// so) but unable to join the world, `world()` throws: never a silent single-process run.
/// MPI errors come back as `MPIError` (the world uses `MPI_ERRORS_RETURN`).
/// Collectives are called from one thread (the training thread).
public final class Communicator: @unchecked Sendable {
    /// This process's index in `0..<size`.
    public let rank: Int
    /// Number of processes.
    public let size: Int
    /// Index among the processes on this node.
    public let localRank: Int
    /// Number of processes on this node.
    public let localSize: Int
    /// nil for the single-process communicator.
    let handle: MPI_Comm?
    private let ownsHandle: Bool
    /// Limits how long any blocking call of this communicator (and its duplicates made
    /// afterwards) may wait; nil: no limit. Set once, before the first collective.
    public var watchdog: CollectiveWatchdog?
    nonisolated(unsafe) private static var initialized = false

    /// Whether more than one process takes part.
    public var isDistributed: Bool { size > 1 }

    private init(rank: Int, size: Int, localRank: Int, localSize: Int, handle: MPI_Comm?, ownsHandle: Bool) {
        self.rank = rank
        self.size = size
        self.localRank = localRank
        self.localSize = localSize
        self.handle = handle
        self.ownsHandle = ownsHandle
    }

    /// A communicator of one process: rank 0 of 1, every collective the identity.
    public static func single() -> Communicator {
        Communicator(rank: 0, size: 1, localRank: 0, localSize: 1, handle: nil, ownsHandle: false)
    }

    /// This process's rank according to the launcher's environment, before MPI starts (nil
    /// when no launcher started it): lets errors that every rank hits be printed once.
    public static func launcherRank(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        for key in ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"] {
            if let value = environment[key], let r = Int(value) { return r }
        }
        return nil
    }

    /// The launcher's process count if this process was started by one (Open MPI's `mpirun`,
    /// a PMIx or PMI launcher), else nil.
    public static func launcherWorldSize(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"] {
            if let value = environment[key], let n = Int(value) { return n }
        }
        if environment["PMIX_RANK"] != nil || environment["PMI_RANK"] != nil { return 0 }   // size unknown
        return nil
    }

    /// All processes of the job. Initialises MPI when a launcher started this process;
    /// otherwise returns `single()`.
    public static func world(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Communicator {
        guard let expected = launcherWorldSize(environment) else {
            try checkSlurmStep(worldSize: 1, environment)
            return single()
        }
        if !initialized {
            var provided: Int32 = 0
            let code = MPI_Init_thread(nil, nil, concord_mpi_thread_funneled(), &provided)
            guard code == concord_mpi_success() else {
                throw MPIError(operation: "MPI_Init_thread", code: code,
                               message: "this process was started by an MPI launcher but could not join its world")
            }
            // Only the training thread calls MPI (loaders never do): FUNNELED is all it needs.
            guard provided >= concord_mpi_thread_funneled() else {
                throw DistributedError("the MPI library offers thread level \(provided), below MPI_THREAD_FUNNELED, which concord needs (its data loader runs on a second thread)")
            }
            initialized = true
        }
        let world = concord_mpi_comm_world()
        try MPIError.check(MPI_Comm_set_errhandler(world, concord_mpi_errors_return()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try MPIError.check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try MPIError.check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        if expected > 0 && Int(size) != expected {
            throw LaunchError("the launcher started \(expected) processes but this one joined a world of \(size); check that mpirun and the MPI library concord was built against are the same installation")
        }
        try checkSlurmStep(worldSize: Int(size), environment)
        var node = concord_mpi_comm_null()
        try MPIError.check(MPI_Comm_split_type(world, concord_mpi_comm_type_shared(), rank, concord_mpi_info_null(), &node),
                           "MPI_Comm_split_type")
        var localRank: Int32 = 0, localSize: Int32 = 0
        try MPIError.check(MPI_Comm_rank(node, &localRank), "MPI_Comm_rank")
        try MPIError.check(MPI_Comm_size(node, &localSize), "MPI_Comm_size")
        try MPIError.check(MPI_Comm_free(&node), "MPI_Comm_free")
        return Communicator(rank: Int(rank), size: Int(size), localRank: Int(localRank), localSize: Int(localSize),
                            handle: world, ownsHandle: false)
    }

    /// Set to 1 to let the tasks of one `srun` step run as separate one-process jobs.
    public static let separateTasksOverride = "CONCORD_ALLOW_SEPARATE_TASKS"

    /// Inside an `srun` step of N > 1 tasks (`SLURM_STEP_NUM_TASKS`), a world of one process
    /// means each task would train alone — what Open MPI 5 does under `srun --mpi=pmi2` or
    /// `--mpi=none`, silently. A batch script's own step (one task: `concord probe` in an
    /// `sbatch` script) is not an `srun` step of several and passes.
    static func checkSlurmStep(worldSize: Int, _ environment: [String: String]) throws {
        guard worldSize == 1, let tasks = environment["SLURM_STEP_NUM_TASKS"].flatMap({ Int($0) }), tasks > 1,
              environment[separateTasksOverride] != "1" else { return }
        throw LaunchError("Slurm started \(tasks) tasks in this step (SLURM_STEP_NUM_TASKS=\(tasks)) but MPI sees a world of 1 process, so each would train alone — Open MPI 5 under `srun --mpi=pmi2` (or `--mpi=none`) starts separate one-process jobs; launch with `srun --mpi=pmix` or mpirun inside the allocation (launch/slurm), or set \(separateTasksOverride)=1 if separate jobs are meant")
    }

    /// A communicator over the same processes with its own message space: collectives on it
    /// never match collectives on this one (the consistency guard uses one).
    public func duplicate() throws -> Communicator {
        guard let handle else { return .single() }
        var copy = concord_mpi_comm_null()
        try MPIError.check(MPI_Comm_dup(handle, &copy), "MPI_Comm_dup")
        try MPIError.check(MPI_Comm_set_errhandler(copy, concord_mpi_errors_return()), "MPI_Comm_set_errhandler")
        let duplicate = Communicator(rank: rank, size: size, localRank: localRank, localSize: localSize, handle: copy, ownsHandle: true)
        duplicate.watchdog = watchdog
        return duplicate
    }

    /// The processes of this one on the same node (sharing memory), as a communicator of
    /// their own: rank = `localRank`, size = `localSize`. Collective over this communicator.
    public func node() throws -> Communicator {
        guard let handle else { return .single() }
        var node = concord_mpi_comm_null()
        try MPIError.check(MPI_Comm_split_type(handle, concord_mpi_comm_type_shared(), Int32(rank), concord_mpi_info_null(), &node),
                           "MPI_Comm_split_type")
        try MPIError.check(MPI_Comm_set_errhandler(node, concord_mpi_errors_return()), "MPI_Comm_set_errhandler")
        return Communicator(rank: localRank, size: localSize, localRank: localRank, localSize: localSize, handle: node, ownsHandle: true)
    }

    /// Shuts MPI down (collective: every rank calls it once, at the end). Nothing to do for a
    /// single process.
    public static func finalize() throws {
        guard initialized else { return }
        initialized = false
        try MPIError.check(MPI_Finalize(), "MPI_Finalize")
    }

    /// Ends every process of the job with `code` (after an error one rank cannot report to
    /// the others). A single process just exits.
    public func abort(code: Int32) -> Never {
        if let handle { MPI_Abort(handle, code) }
        exit(code)
    }

    // MARK: Collectives

    /// Blocks until every rank has called it.
    public func barrier() throws {
        guard let handle else { return }
        try timed("MPI_Barrier") { try MPIError.check(MPI_Barrier(handle), "MPI_Barrier") }
    }

    /// Replaces `buffer` on every rank with its contents on `root`.
    public func broadcast<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int = 0) throws {
        guard let handle, let base = buffer.baseAddress, !buffer.isEmpty else { return }
        try timed("MPI_Bcast") {
            try MPIError.check(MPI_Bcast(base, Int32(buffer.count), Self.datatype(T.self), Int32(root), handle), "MPI_Bcast")
        }
    }

    /// Reduces `buffer` element-wise across ranks, in place; every rank gets the result.
    public func allreduce<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>, op: ReduceOperation = .sum) throws {
        guard let handle, let base = buffer.baseAddress, !buffer.isEmpty else { return }
        try timed("MPI_Allreduce") {
            try MPIError.check(MPI_Allreduce(concord_mpi_in_place(), base, Int32(buffer.count), Self.datatype(T.self),
                                             Self.operation(op), handle), "MPI_Allreduce")
        }
    }

    /// The element-wise mean across ranks, in place.
    public func allreduceAverage(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allreduce(buffer, op: .sum)
        guard size > 1 else { return }
        let scale = 1 / Float(size)
        for i in buffer.indices { buffer[i] *= scale }
    }

    /// Starts an in-place sum across ranks and returns at once; `AllreduceRequest.wait()`
    /// completes it. `buffer` must stay alive and untouched until then.
    public func startAllreduce<T: CommunicatorScalar>(_ buffer: UnsafeMutableBufferPointer<T>) throws -> AllreduceRequest {
        guard let handle, let base = buffer.baseAddress, !buffer.isEmpty else { return AllreduceRequest(request: nil) }
        var request = concord_mpi_request_null()
        try MPIError.check(MPI_Iallreduce(concord_mpi_in_place(), base, Int32(buffer.count), Self.datatype(T.self),
                                          concord_mpi_sum(), handle, &request), "MPI_Iallreduce")
        return AllreduceRequest(request: request, watchdog: watchdog)
    }

    /// Every rank's `send` (all the same length), concatenated in rank order into `receive`
    /// (`size × send.count` elements).
    public func allgather<T: CommunicatorScalar>(_ send: UnsafeBufferPointer<T>, into receive: UnsafeMutableBufferPointer<T>) throws {
        precondition(receive.count == send.count * size, "allgather: receive \(receive.count) for \(size) × \(send.count)")
        guard let handle else {
            if let dst = receive.baseAddress, let src = send.baseAddress { dst.update(from: src, count: send.count) }
            return
        }
        guard let s = send.baseAddress, let r = receive.baseAddress else { return }
        try timed("MPI_Allgather") {
            try MPIError.check(MPI_Allgather(s, Int32(send.count), Self.datatype(T.self), r, Int32(send.count),
                                             Self.datatype(T.self), handle), "MPI_Allgather")
        }
    }

    /// Every rank's `send` (rank r sends `counts[r]` elements), concatenated in rank order.
    public func allgatherv<T: CommunicatorScalar>(_ send: UnsafeBufferPointer<T>, counts: [Int],
                                                  into receive: UnsafeMutableBufferPointer<T>) throws {
        precondition(counts.count == size && counts[rank] == send.count, "allgatherv: counts \(counts) for rank \(rank)")
        precondition(receive.count == counts.reduce(0, +), "allgatherv: receive \(receive.count) for counts \(counts)")
        guard let handle else {
            if let dst = receive.baseAddress, let src = send.baseAddress { dst.update(from: src, count: send.count) }
            return
        }
        var displacements = [Int32](), offset: Int32 = 0
        for c in counts { displacements.append(offset); offset += Int32(c) }
        let counts32 = counts.map { Int32($0) }
        let empty = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { empty.deallocate() }
        try timed("MPI_Allgatherv") {
            try MPIError.check(MPI_Allgatherv(send.baseAddress ?? UnsafePointer(empty), Int32(send.count), Self.datatype(T.self),
                                              receive.baseAddress ?? empty, counts32, displacements, Self.datatype(T.self), handle),
                               "MPI_Allgatherv")
        }
    }

    /// Convenience: every rank's values, one array per rank.
    public func allgather<T: CommunicatorScalar & Numeric>(_ values: [T]) throws -> [[T]] {
        var all = [T](repeating: 0, count: values.count * size)
        try values.withUnsafeBufferPointer { s in try all.withUnsafeMutableBufferPointer { try allgather(s, into: $0) } }
        return (0..<size).map { Array(all[($0 * values.count)..<(($0 + 1) * values.count)]) }
    }

    /// `body`, a blocking call, under the watchdog's limit.
    func timed<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        try CollectiveWatchdog.waiting(under: watchdog, name, body)
    }

    // MARK: Types

    static func datatype<T>(_: T.Type) -> MPI_Datatype {
        switch T.self {
        case is Float.Type: return concord_mpi_float()
        case is Double.Type: return concord_mpi_double()
        case is Int64.Type: return concord_mpi_int64()
        case is UInt8.Type: return concord_mpi_uint8()
        default: preconditionFailure("Communicator: no MPI datatype for \(T.self)")
        }
    }

    static func operation(_ op: ReduceOperation) -> MPI_Op {
        switch op {
        case .sum: return concord_mpi_sum()
        case .max: return concord_mpi_max()
        case .min: return concord_mpi_min()
        }
    }

    deinit {
        if ownsHandle, Self.initialized, handle != nil { var h: MPI_Comm? = handle; MPI_Comm_free(&h) }
    }
}

/// An allreduce in flight.
public final class AllreduceRequest {
    private var request: MPI_Request?
    private let watchdog: CollectiveWatchdog?

    init(request: MPI_Request?, watchdog: CollectiveWatchdog? = nil) {
        self.request = request
        self.watchdog = watchdog
    }

    /// Whether it has completed; also lets MPI progress it.
    public func test() throws -> Bool {
        guard request != nil else { return true }
        var r: MPI_Request? = request
        var done: Int32 = 0
        try MPIError.check(MPI_Test(&r, &done, concord_mpi_status_ignore()), "MPI_Test")
        if done != 0 { request = nil } else { request = r }
        return done != 0
    }

    /// Blocks until it has completed.
    public func wait() throws {
        guard request != nil else { return }
        var r: MPI_Request? = request
        try CollectiveWatchdog.waiting(under: watchdog, "MPI_Wait (an allreduce)") {
            try MPIError.check(MPI_Wait(&r, concord_mpi_status_ignore()), "MPI_Wait")
        }
        request = nil
    }
}

extension Communicator {
    /// Runs `body` on rank 0 only and tells every rank whether it succeeded: rank 0 gets the
    /// value (or rethrows the error), the others get nil (or `PeerFailure` carrying the exit
    /// status `status(error)` rank 0 will end with), so no rank goes on alone into a
    /// collective the others will never join, and all end with the same status.
    public func agreeOnRank0<T>(status: (Error) -> Int32 = { ExitStatus.of($0) }, _ body: () throws -> T) throws -> T? {
        var result: Result<T, Error>?
        if rank == 0 { result = Result { try body() } }
        var code: [Int64] = [0]
        if rank == 0, case .failure(let error) = result { code[0] = Int64(status(error)) }
        try code.withUnsafeMutableBufferPointer { try broadcast($0, root: 0) }
        if rank == 0, let result { return try result.get() }
        if code[0] != 0 { throw PeerFailure(status: Int32(code[0])) }
        return nil
    }
}

/// Rank 0 failed and reports why; this rank ends with the same exit status, silently.
public struct PeerFailure: Error, CustomStringConvertible {
    /// The exit status rank 0 ends with.
    public let status: Int32
    public var description: String { "rank 0 could not go on (it reports why)" }
}
