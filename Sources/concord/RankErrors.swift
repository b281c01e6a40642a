import ArgumentParser
import Foundation
import MPI

/// How a command run by every rank of a job reports errors: once, and without leaving a
/// rank behind.
enum RankErrors {
    /// Errors before MPI starts (config, flags, data files) are the same on every rank: only
    /// rank 0 prints them; the others just exit non-zero.
    static func beforeWorld<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            if let rank = Communicator.launcherRank(), rank != 0 { throw ExitCode.failure }
            throw error
        }
    }

    /// Runs `body` and shuts MPI down. An error on one rank of a distributed job is printed
    /// with the rank and ends the whole job: the other ranks may be waiting in a collective
    /// that will never complete, and some launchers would leave them there.
    static func withWorld(_ world: Communicator, _ body: () throws -> Void) throws {
        do {
            try body()
            try Communicator.finalize()
        } catch {
            guard world.isDistributed else { throw error }
            FileHandle.standardError.write(Data("concord: rank \(world.rank): \(error)\n".utf8))
            world.abort(code: 1)
        }
    }
}
