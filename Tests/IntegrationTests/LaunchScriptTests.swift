import Foundation
import TestSupport
import XCTest

/// The launch scripts as a user runs them, with the suite's own build of concord.
final class LaunchScriptTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(MPIRun.isAvailable, "mpirun is not installed; launch/setup installs openmpi-bin")
        scratch = try makeTemporaryDirectory(self)
    }

    private func script(_ path: String, _ args: [String], environment: [String: String] = [:]) throws -> Concord.Result {
        var env = ["CONCORD_BIN": Concord.productsDirectory.appendingPathComponent("concord").path]
        env.merge(environment) { $1 }
        let executable = path.hasPrefix("/") ? path : Concord.repositoryRoot.appendingPathComponent(path).path
        let r = try MPIRun.execute(executable, args, environment: env, directory: scratch, timeout: 300)
        XCTAssertFalse(r.timedOut, "\(path) did not finish")
        return Concord.Result(status: r.status, output: r.output)
    }

    private var smoke: String { Concord.repositoryRoot.appendingPathComponent("configs/smoke.yaml").path }

    func testRunStartsTwoRanks() throws {
        let dir = scratch.appendingPathComponent("run").path
        let r = try script("launch/run", [smoke, "-n", "2", "--", "--set", "train.iterations=30", "--set", "train.eval_every=0", "--set", "run.dir=" + dir])
        XCTAssertEqual(r.status, 0, r.output)
        // Output to a pipe: plain progress lines, no bar redrawn with control characters
        // (mpirun gives its ranks a pseudo-terminal; launch/run knows better).
        XCTAssertTrue(r.output.contains("iter 20/"), r.output)
        XCTAssertFalse(r.output.contains("\u{1B}[") || r.output.contains("\r"), r.output)
        let log = try String(contentsOfFile: dir + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("2 rank(s)"), log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/model.safetensors"))
    }

    /// `-n 1`: one process with every core (not one thread, even with OMP_NUM_THREADS=1 in
    /// the environment, which GNU nproc would otherwise obey).
    func testOneProcessGetsEveryCore() throws {
        let dir = scratch.appendingPathComponent("one").path
        let r = try script("launch/run", [smoke, "-n", "1", "--", "--set", "train.iterations=5", "--set", "train.eval_every=0",
                                          "--set", "run.dir=" + dir], environment: ["OMP_NUM_THREADS": "1"])
        XCTAssertEqual(r.status, 0, r.output)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let config = try String(contentsOfFile: dir + "/config.yaml", encoding: .utf8)
        XCTAssertTrue(config.contains("threads: \(cores)"), "expected train.threads = \(cores):\n\(config)")
        let log = try String(contentsOfFile: dir + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("1 rank(s)") && log.contains("\(cores) thread(s) per rank"), log)
    }

    func testBadArgumentsAreOneLineErrors() throws {
        let badN = try script("launch/run", [smoke, "-n", "zero"])
        XCTAssertEqual(badN.status, 2)
        XCTAssertTrue(badN.output.contains("-n 'zero'"), badN.output)
        XCTAssertEqual(badN.output.split(separator: "\n").count, 1, badN.output)
        let missing = try script("launch/cluster", ["/nonexistent/hosts", smoke])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.output.contains("/nonexistent/hosts"), missing.output)
        XCTAssertEqual(missing.output.split(separator: "\n").count, 1, missing.output)
        let hosts = scratch.appendingPathComponent("hosts")
        try "node1 slots=1\nnode2 slots=two\n".write(to: hosts, atomically: true, encoding: .utf8)
        let malformed = try script("launch/cluster", [hosts.path, smoke])
        XCTAssertEqual(malformed.status, 2)
        XCTAssertTrue(malformed.output.contains("hosts:2"), malformed.output)
        XCTAssertEqual(malformed.output.split(separator: "\n").count, 1, malformed.output)
        try "node1 slots=1\nnode2 slots=2\nnode1 slots=1\n".write(to: hosts, atomically: true, encoding: .utf8)
        let duplicate = try script("launch/cluster", [hosts.path, smoke])
        XCTAssertEqual(duplicate.status, 2)
        XCTAssertTrue(duplicate.output.contains("hosts:3: host 'node1' is listed again (first on line 1)"), duplicate.output)
        XCTAssertEqual(duplicate.output.split(separator: "\n").count, 1, duplicate.output)
    }

    /// `launch/slurm` under a stand-in `srun` (there is no Slurm here): with PMIx offered it
    /// trains on the step's tasks under launch/supervise; a launcher that starts the tasks as
    /// separate one-process jobs (what Open MPI 5 does under `srun --mpi=pmi2`) is stopped by
    /// concord's guard with exit 2, which the supervisor does not retry.
    func testSlurmLaunchesThroughPMIxAndSeparateTasksAreStopped() throws {
        let outside = try script("launch/slurm", [smoke], environment: ["SLURM_JOB_ID": ""])
        XCTAssertEqual(outside.status, 2, outside.output)
        XCTAssertTrue(outside.output.contains("not inside a Slurm allocation"), outside.output)
        let bin = scratch.appendingPathComponent("bin").path
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        // srun --mpi=list → offers pmix; srun --mpi=pmix … CMD → mpirun -np $SLURM_NTASKS CMD;
        // srun --mpi=pmi2 … CMD → $SLURM_NTASKS separate CMDs, each told it is in a step of that many.
        let srun = """
        #!/usr/bin/env bash
        if [ "$1" = "--mpi=list" ]; then echo "MPI plugin types are..."; echo "	pmix"; exit 0; fi
        mode=$1; shift
        while [[ "$1" == --* ]]; do shift; done
        if [ "$mode" = "--mpi=pmix" ] && [ -z "${FAKE_PMI2:-}" ]; then exec mpirun -np "$SLURM_NTASKS" --oversubscribe --bind-to none "$@"; fi
        status=0
        for i in $(seq 1 "$SLURM_NTASKS"); do SLURM_STEP_NUM_TASKS=$SLURM_NTASKS "$@" || status=$?; done
        exit $status
        """
        try srun.write(toFile: bin + "/srun", atomically: true, encoding: .utf8)
        chmod(bin + "/srun", 0o755)
        let slurm = ["SLURM_JOB_ID": "77", "SLURM_NTASKS": "2", "SLURM_SUBMIT_DIR": Concord.repositoryRoot.path,
                     "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        let dir = scratch.appendingPathComponent("slurm").path
        let r = try script("launch/slurm", [smoke, "--", "--set", "train.iterations=10", "--set", "train.eval_every=0", "--set", "run.dir=" + dir],
                           environment: slurm)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("supervise:") && r.output.contains("finished"), r.output)
        let log = try String(contentsOfFile: dir + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("2 rank(s)"), log)
        let separate = try script("launch/slurm", [smoke, "--", "--set", "train.iterations=10", "--set", "run.dir=" + dir + "-separate"],
                                  environment: slurm.merging(["FAKE_PMI2": "1"]) { $1 })
        XCTAssertEqual(separate.status, 2, separate.output)
        XCTAssertTrue(separate.output.contains("Slurm started 2 tasks in this step"), separate.output)
        XCTAssertTrue(separate.output.contains("not restarting"), separate.output)
    }

    /// A whole host lost — rank 0's — on three namespace hosts under launch/supervise: every
    /// process of the job on the other hosts ends within 30 s, launch/cluster finds the host
    /// gone and (--min-hosts 2) the job comes back on the two that remain from rank 0's last
    /// checkpoint, ending with the model of a run that changed world size at that checkpoint.
    func testLosingRank0sHostEndsTheJobAndItResumesOnTheRemainingHosts() throws {
        let r = try hostKillDemo(["1", "remaining"])
        XCTAssertTrue(r.output.contains("did not answer; starting on the 2 hosts that did"), r.output)
        XCTAssertTrue(r.output.contains("resumed from") && r.output.contains("saved on 3 rank(s), now 2"), r.output)
        XCTAssertTrue(r.output.contains("final model equal to the reference that changed world size at iter-") && r.output.contains(".ckpt: yes"), r.output)
    }

    /// A host lost and back a few seconds later: launch/supervise keeps trying (launch/cluster
    /// exits 75 while a host does not answer) and the job resumes on all three hosts, ending
    /// bit for bit with the uninterrupted three-host run.
    func testAHostThatComesBackRejoinsAndTheRunEqualsTheUninterruptedOne() throws {
        let r = try hostKillDemo(["2", "back"])
        XCTAssertTrue(r.output.contains("exit status 75"), r.output)
        XCTAssertTrue(r.output.contains("resumed from") && !r.output.contains("now 2"), r.output)
        XCTAssertTrue(r.output.contains("final model equal to the uninterrupted run on three hosts: yes"), r.output)
    }

    /// launch/host-kill-demo with 300 iterations: its status is 0 and every process ended
    /// within 30 s of the kill.
    private func hostKillDemo(_ args: [String]) throws -> Concord.Result {
        let hasIP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipUnless(getuid() == 0 && hasIP, "skipped: the multi-host test needs root and iproute2 (ip) to make network namespaces")
        let r = try script("launch/host-kill-demo", args, environment: ["HOST_KILL_ITERATIONS": "300", "HOST_DOWN_S": "4"])
        XCTAssertEqual(r.status, 0, r.output)
        let ended = r.output.split(separator: "\n").first { $0.contains(" lost; every process") }.map(String.init) ?? ""
        let seconds = Double(ended.components(separatedBy: " ended ").last?.split(separator: " ").first ?? "") ?? 999
        XCTAssertLessThanOrEqual(seconds, 30, r.output)
        return r
    }

    /// Three "nodes" that talk only TCP (network namespaces on this machine): a real
    /// multi-host mpirun through launch/cluster. Needs root and iproute2.
    func testClusterTrainsAcrossThreeTCPHosts() throws {
        let tool = Concord.repositoryRoot.appendingPathComponent("Tests/Tools/netns-hosts").path
        let hasIP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].contains { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipUnless(getuid() == 0 && hasIP, "skipped: the multi-host test needs root and iproute2 (ip) to make network namespaces")
        let up = try script(tool, ["up", "3"])
        defer { _ = try? script(tool, ["down"]) }
        guard up.status == 0 else { throw XCTSkip("skipped: could not create network namespaces here: \(up.output)") }
        let hosts = scratch.appendingPathComponent("hosts")
        try up.output.write(to: hosts, atomically: true, encoding: .utf8)
        // routed=direct: every daemon talks straight to mpirun, so a daemon whose address
        // arrives late cannot leave another without a route (ORTE's own advice for "no path").
        let flags = "--mca btl self,tcp --mca btl_tcp_if_include 198.18.0.0/24 "
            + "--mca oob_tcp_if_include 198.18.0.0/24,cbr0 --mca routed direct"
        let dir = scratch.appendingPathComponent("cluster").path
        let r = try script("launch/cluster", [hosts.path, smoke, "--", "--set", "train.iterations=30", "--set", "train.eval_every=0", "--set", "run.dir=" + dir],
                           environment: ["CONCORD_MPIRUN_ARGS": flags, "CONCORD_RSH": tool + " rsh"])
        XCTAssertEqual(r.status, 0, r.output)
        let log = try String(contentsOfFile: dir + "/log.txt", encoding: .utf8)
        XCTAssertTrue(log.contains("3 rank(s)"), log)
    }
}
