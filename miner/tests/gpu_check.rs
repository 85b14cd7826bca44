//! `scripts/gpu-check` in its CPU mode (`--backend cpu`): the command that
//! will settle the CUDA backend's figures on a lent GPU runs here on the
//! candle CPU backend, so its report format, its time limits and its exit
//! codes are checked by scripts/test, not only on the day a GPU appears.
//!
//! The script runs the binaries of this build: `upow-miner` (cargo's) and the
//! `bit_exact` and `cuda_kernels` test binaries beside this test's own in
//! `<target>/release/deps` (`cargo test --workspace` builds every test before
//! running any; the newest of each is taken).

// A test crate: helpers may unwrap too (a panic is how a test fails).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, Instant, SystemTime},
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The newest test binary `<name>-<hash>` beside this one.
fn sibling_test(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let prefix = format!("{name}-");
    let newest = std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.strip_prefix(&prefix)
                .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file()
                .then(|| (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), e.path()))
        })
        .max();
    match newest {
        Some((_, path)) => path,
        None => panic!(
            "no {name} test binary in {}: build the miner's tests first \
             (`cargo test --release -p upow-miner --no-run`; scripts/test does)",
            deps.display()
        ),
    }
}

/// A folder with the three binaries under the names the script expects.
fn bin_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = |from: PathBuf, name: &str| {
        std::os::unix::fs::symlink(from, bin.join(name)).unwrap();
    };
    link(env!("CARGO_BIN_EXE_upow-miner").into(), "upow-miner");
    link(sibling_test("bit_exact"), "bit_exact");
    link(sibling_test("cuda_kernels"), "cuda_kernels");
    bin
}

/// One row of `parts.tsv`.
#[derive(Debug)]
struct Part {
    name: String,
    status: String,
    seconds: f64,
    limit: u64,
    note: String,
}

struct Run {
    output: Output,
    elapsed: Duration,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    fn report(&self) -> String {
        std::fs::read_to_string(self.out.join("report.md")).unwrap_or_else(|e| {
            panic!(
                "no report.md ({e}); stderr:\n{}",
                String::from_utf8_lossy(&self.output.stderr)
            )
        })
    }
    fn parts(&self) -> Vec<Part> {
        let text = std::fs::read_to_string(self.out.join("parts.tsv")).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("part\tstatus\tseconds\tlimit\tnote"),
            "parts.tsv header"
        );
        lines
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 5, "parts.tsv row {l:?}");
                Part {
                    name: f[0].into(),
                    status: f[1].into(),
                    seconds: f[2].parse().unwrap(),
                    limit: f[3].parse().unwrap(),
                    note: f[4].into(),
                }
            })
            .collect()
    }
    fn part(&self, name: &str) -> Part {
        self.parts()
            .into_iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no part {name} in parts.tsv"))
    }
    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.out.join("logs").join(format!("{name}.log")))
            .unwrap_or_else(|e| panic!("logs/{name}.log: {e}"))
    }
    fn context(&self) -> String {
        format!(
            "exit {:?}\nstderr:\n{}\nreport:\n{}",
            self.code(),
            String::from_utf8_lossy(&self.output.stderr),
            std::fs::read_to_string(self.out.join("report.md")).unwrap_or_default()
        )
    }
}

/// Runs `scripts/gpu-check --backend cpu --out <tmp>/out --bin-dir <tmp>/bin`
/// with `args` and `env`.
fn gpu_check(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let bin = bin_dir(dir.path());
    let started = Instant::now();
    let mut cmd = Command::new(repo().join("scripts/gpu-check"));
    cmd.current_dir(repo())
        .args(["--backend", "cpu", "--out"])
        .arg(&out)
        .arg("--bin-dir")
        .arg(&bin)
        .args(args)
        .env_remove("UPOW_GPU_CHECK_LIMITS")
        .env_remove("UPOW_GPU_CHECK_BUDGET")
        .env_remove("UPOW_GPU_CHECK_BACKEND");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    Run {
        output,
        elapsed: started.elapsed(),
        out,
        _dir: dir,
    }
}

const PARTS: [&str; 12] = [
    "env",
    "test-cuda-kernels",
    "test-bit-exact",
    "trajectory",
    "bench-784-128-10-b64",
    "bench-784-128-10-b256",
    "bench-784-128-10-b1024",
    "bench-1024-1000-10-b64",
    "bench-1024-1000-10-b256",
    "bench-1024-1000-10-b1024",
    "memory",
    "kernels",
];

/// A Markdown table row's cells (`| a | b |` → ["a", "b"]).
fn cells(row: &str) -> Vec<String> {
    row.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// The rows of the Markdown table under heading `heading` (without its header
/// and separator rows).
fn table(report: &str, heading: &str) -> Vec<Vec<String>> {
    let section = report
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading:?} in the report:\n{report}"));
    section
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(2)
        .map(cells)
        .collect()
}

fn number(cell: &str) -> f64 {
    cell.replace(' ', "")
        .parse()
        .unwrap_or_else(|e| panic!("{cell:?} is not a number: {e}"))
}

#[test]
fn cpu_mode_runs_every_part_and_writes_the_report() {
    let run = gpu_check(&[], &[]);
    let ctx = run.context();
    assert_eq!(run.code(), Some(0), "{ctx}");
    eprintln!("gpu-check --backend cpu took {:?}", run.elapsed);

    // parts.tsv: every part, in order; the GPU-only ones skipped by design.
    let parts = run.parts();
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, PARTS, "{ctx}");
    for p in &parts {
        match p.name.as_str() {
            "memory" | "kernels" => {
                assert_eq!(p.status, "SKIPPED", "{p:?}");
                assert!(p.note.contains("cpu mode"), "{p:?}");
            }
            _ => {
                assert_eq!(p.status, "PASSED", "{p:?}\n{ctx}");
                assert!(p.seconds <= p.limit as f64 + 1.0, "{p:?}");
                assert!(!run.log(&p.name).is_empty(), "empty log of {}", p.name);
            }
        }
    }
    assert!(run.part("trajectory").note.starts_with("2 of 2 "), "{ctx}");

    let report = run.report();
    assert!(report.starts_with("# upow gpu-check report\n"), "{report}");
    assert!(report.contains("- mode: **cpu**"), "{report}");
    assert!(
        report.contains("exit code **0** (every part passed)"),
        "{report}"
    );

    // The parts table mirrors parts.tsv, each run part with its log.
    let rows = table(&report, "Parts");
    assert_eq!(rows.len(), PARTS.len(), "{report}");
    for (row, name) in rows.iter().zip(PARTS) {
        assert_eq!(row[0], name);
        assert_eq!(row[1], run.part(name).status);
        assert_eq!(row[5], format!("logs/{name}.log"), "{row:?}");
    }

    // Tests: the CPU backend's bit-exact cases and the kernels' host
    // arithmetic ran and passed, each with libtest's summary.
    let tests = table(&report, "Tests");
    for (part, test) in [
        ("test-bit-exact", "candle_cpu_matches_reference"),
        (
            "test-bit-exact",
            "cuda_without_feature_or_gpu_is_a_clear_error",
        ),
        (
            "test-cuda-kernels",
            "kernel_arithmetic_matches_the_puzzle_on_the_host",
        ),
    ] {
        assert!(
            tests
                .iter()
                .any(|r| r[0] == part && r[1] == test && r[2] == "ok"),
            "{part} {test} not ok in {tests:?}"
        );
    }
    for part in ["test-bit-exact", "test-cuda-kernels"] {
        assert!(
            tests
                .iter()
                .any(|r| r[0] == part && r[1] == "*summary*" && r[2].starts_with("ok.")),
            "{part} summary in {tests:?}"
        );
    }

    // Trajectories: the cpu backend's final weights equal the reference's.
    let traj = table(&report, "Trajectories");
    assert_eq!(traj.len(), 2, "{traj:?}");
    for r in &traj {
        assert_eq!(r[3], "cpu");
        assert_eq!(r[6], "**yes**", "{r:?}");
        assert_eq!(r[4], r[5], "{r:?}");
        assert_eq!(r[4].len(), 16 + 2, "a hash prefix in backquotes: {r:?}");
    }

    // Bench: every model × batch with the float32 row, the candle cpu row
    // (its ratio to float32) and the verification.
    let bench = table(&report, "Steps per second");
    for model in ["784-128-10", "1024-1000-10"] {
        for batch in ["64", "256", "1024"] {
            let shape: Vec<&Vec<String>> = bench
                .iter()
                .filter(|r| r[0] == model && r[1] == batch)
                .collect();
            let labels: Vec<&str> = shape.iter().map(|r| r[2].as_str()).collect();
            assert_eq!(
                labels,
                ["float32 candle cpu", "candle cpu", "reference verify"],
                "{model} b{batch}: {bench:?}"
            );
            for r in &shape {
                assert!(number(&r[4]) > 0.0, "steps/s {r:?}");
                assert!(number(&r[5]) > 0.0, "ms/step {r:?}");
            }
            let ratio = number(&shape[1][6]);
            assert!(ratio > 0.0 && ratio.is_finite(), "×float32 {:?}", shape[1]);
            assert!(number(&shape[1][8]) > 0.0, "op rate {:?}", shape[1]);
            assert_eq!(shape[1][9], "-", "no peak share on the CPU");
        }
    }

    // The GPU-only parts say why they did not run.
    for heading in ["Device memory", "Kernel timings"] {
        let section = report
            .split("\n## ")
            .find(|s| s.starts_with(heading))
            .unwrap();
        assert!(section.contains("SKIPPED: cpu mode"), "{section}");
    }
    assert!(!report.contains("## Logs of the parts that did not pass"));
    assert!(run.out.join("logs.tar.gz").is_file());
}

#[test]
fn a_part_past_its_limit_is_a_timeout_with_exit_code_2() {
    // The bench needs at least 3 × 3 s here: it must be stopped at 1 s.
    let run = gpu_check(
        &[
            "--only",
            "env,bench-784-128-10-b64,memory",
            "--seconds",
            "3",
        ],
        &[("UPOW_GPU_CHECK_LIMITS", "bench-784-128-10-b64=1")],
    );
    let ctx = run.context();
    assert_eq!(run.code(), Some(2), "{ctx}");
    let bench = run.part("bench-784-128-10-b64");
    assert_eq!(bench.status, "TIMEOUT", "{ctx}");
    assert_eq!(bench.limit, 1);
    assert!(bench.seconds < 8.0, "stopped at its limit: {bench:?}");
    assert!(bench.note.contains("stopped at the 1 s limit"), "{bench:?}");
    assert_eq!(run.part("env").status, "PASSED", "{ctx}");
    assert_eq!(run.part("memory").status, "SKIPPED");
    let other = run.part("trajectory");
    assert_eq!(other.status, "SKIPPED");
    assert!(other.note.starts_with("not selected"), "{other:?}");

    let report = run.report();
    assert!(
        report.contains("exit code **2** (a part timed out or was not run)"),
        "{report}"
    );
    let parts = table(&report, "Parts");
    assert!(
        parts
            .iter()
            .any(|r| r[0] == "bench-784-128-10-b64" && r[1] == "TIMEOUT"),
        "{parts:?}"
    );
    let bench_rows = table(&report, "Steps per second");
    assert!(
        bench_rows
            .iter()
            .any(|r| r[0] == "784-128-10" && r[1] == "64" && r[2] == "*TIMEOUT*"),
        "{bench_rows:?}"
    );
    // Its log is kept and its tail is in the report.
    assert!(
        report.contains("### bench-784-128-10-b64: TIMEOUT"),
        "{report}"
    );
    run.log("bench-784-128-10-b64");
}

#[test]
fn a_failing_part_is_failed_with_exit_code_1_and_a_spent_budget_is_2() {
    // Trajectories over a folder without data: train fails.
    let empty = tempfile::tempdir().unwrap();
    let run = gpu_check(
        &[
            "--only",
            "trajectory",
            "--data",
            empty.path().to_str().unwrap(),
        ],
        &[],
    );
    let ctx = run.context();
    assert_eq!(run.code(), Some(1), "{ctx}");
    let traj = run.part("trajectory");
    assert_eq!(traj.status, "FAILED", "{ctx}");
    assert!(traj.note.contains("0 of 2"), "{traj:?}");
    let report = run.report();
    assert!(
        report.contains("exit code **1** (a part FAILED)"),
        "{report}"
    );
    assert!(report.contains("| **NO** |"), "{report}");
    assert!(report.contains("### trajectory: FAILED"), "{report}");

    // No budget left: nothing runs, every part says so, exit 2.
    let run = gpu_check(&["--budget", "0"], &[]);
    assert_eq!(run.code(), Some(2), "{}", run.context());
    for p in run.parts() {
        assert_eq!(p.status, "NOT RUN", "{p:?}");
        assert!(p.note.contains("budget"), "{p:?}");
    }
}

#[test]
fn usage_errors_are_exit_code_64() {
    for args in [
        &["--backend", "tpu"][..],
        &["--limit", "bench"],
        &["--budget", "soon"],
        &["--frobnicate"],
    ] {
        let run = gpu_check(args, &[]);
        assert_eq!(run.code(), Some(64), "{args:?}: {}", run.context());
        assert!(!run.out.join("report.md").exists());
    }
    let out = Command::new(repo().join("scripts/gpu-check"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "no arguments");
}
