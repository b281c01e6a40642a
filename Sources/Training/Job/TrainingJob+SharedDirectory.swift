import Engine
import Foundation
import MPI

extension TrainingJob {
    /// Every rank must see the run directory rank 0 writes: checkpoints live there, and a
    /// job that loses rank 0's node must find them on another. Rank 0 leaves a marker with a
    /// fresh token; a rank that cannot read it stops the job at once, naming itself — before
    /// anything is trained that could not be resumed.
    func checkRunDirectoryIsShared() throws {
        guard world.isDistributed else { return }
        var token: [Int64] = [Int64.random(in: 1...Int64.max)]
        try token.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 0) }
        let marker = config.run.dir + "/.shared-\(token[0])"
        _ = try world.agreeOnRank0 {
            do {
                try FileManager.default.createDirectory(atPath: config.run.dir, withIntermediateDirectories: true)
                try Data("\(token[0])".utf8).write(to: URL(fileURLWithPath: marker))
            } catch {
                throw TrainingError("cannot write into run directory '\(config.run.dir)' (\(SystemError.reason(error))); choose another with --run-dir DIR")
            }
        }
        let hidden = faults?.kind == .hiddenRunDirectory && faults?.rank == world.rank
        let seen = !hidden && FileBytes.text(marker) == "\(token[0])"
        let all = try world.allgather([Int64(seen ? 1 : 0)])
        if world.rank == 0 { try? FileManager.default.removeItem(atPath: marker) }
        let blind = all.indices.filter { all[$0][0] == 0 }
        _ = try world.agreeOnRank0 {   // one line, from rank 0
            guard blind.isEmpty else {
                throw TrainingError("run directory '\(config.run.dir)' is not visible from rank(s) \(blind.map(String.init).joined(separator: ", ")) (another node): put it on storage every node shares (NFS, Lustre, …) so that rank 0's checkpoints outlive its node")
            }
        }
    }
}
