import ArgumentParser
import Engine
import Foundation
import MPI

/// How a command run by every rank of a job reports errors: once, without leaving a rank
/// behind, and with an exit status that tells a supervisor whether trying again can help
/// (`ExitStatus`: 2 for the user's input, 1 for the rest).
enum RankErrors {
    /// Errors before MPI starts (config, flags, data files) are the same on every rank: only
    /// rank 0 prints them; the others just exit.
    static func beforeWorld<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            if Communicator.launcherRank() ?? 0 == 0 { FileHandle.standardError.write(Data("Error: \(error)\n".utf8)) }
            throw ExitCode(ExitStatus.of(error))
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
            guard world.isDistributed else {
                FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
                throw ExitCode(ExitStatus.of(error))
            }
            if let peer = error as? PeerFailure { world.abort(code: peer.status) }
            FileHandle.standardError.write(Data("concord: rank \(world.rank): \(error)\n".utf8))
            world.abort(code: ExitStatus.of(error))
        }
    }
}

/// A one-line error about the command line itself.
struct CLIError: UserInputError {
    let description: String
    init(_ description: String) { self.description = description }
}
