//! Convergence simulation: a deterministic model test of sync. Each seed runs
//! three or four agents (real encrypted stores on disk, clocks up to a year
//! ahead or behind) of two officers whose regions overlap, and one server
//! (the real API router over a real SQLite database, called in-process), for
//! a few dozen random steps: registrations (sometimes of a NIK registered
//! elsewhere), edits, moves between villages, NIK corrections, withdrawals,
//! staff decisions (conflicts, merges, undos), and sync runs through a
//! network that drops requests, loses answers after the commit, delivers
//! twice, delivers late and out of order, and partitions agents; agents and
//! the server restart from disk. Then the network heals, everyone syncs until
//! nothing moves, and the invariants of `simulation::checks` must hold.
//!
//! - default: [`DEFAULT_SEEDS`] seeds of [`DEFAULT_STEPS`] steps;
//! - `LINDUNG_SIM_SEEDS=5000` runs that many seeds (from
//!   `LINDUNG_SIM_FIRST_SEED`, default 0), `LINDUNG_SIM_STEPS=N` longer runs;
//! - `LINDUNG_SIM_SEED=N` replays one seed and prints its whole log
//!   (with `-- --nocapture`).
//!
//! A failure names its seed and the last steps. Decisions (actions, faults,
//! clocks) depend only on the seed; the server stamps with its real clock,
//! so a replay can differ in timestamps, rarely in outcome.

mod checks;
mod net;
mod rng;
mod server;
mod world;

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::Instant;

use world::{Stats, World};

/// Seeds run by default (CI): about 30 s in the test profile on 2 cores.
const DEFAULT_SEEDS: u64 = 300;
/// Steps per seed by default.
const DEFAULT_STEPS: u64 = 50;
/// Lines of the log shown with a failure.
const LOG_TAIL: usize = 60;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Runs one seed: `Err` with what failed, the seed and the log's end.
fn run(seed: u64, steps: u64, print_log: bool) -> Result<Stats, String> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut world = World::new(seed, log.clone());
        for _ in 0..steps {
            world.step();
        }
        let mut problems = Vec::new();
        if let Err(problem) = world.heal() {
            problems.push(problem);
        }
        problems.extend(
            world
                .net
                .borrow()
                .refusals
                .iter()
                .map(|r| format!("the server refused an agent's request: {r}")),
        );
        if problems.is_empty() {
            problems = checks::violations(&mut world);
        }
        world.stats.faults = world.net.borrow().faults.clone();
        (problems, world.stats.clone())
    }));
    let log = log.borrow();
    if print_log {
        for line in log.iter() {
            println!("{line}");
        }
    }
    let problems = match outcome {
        Ok((problems, stats)) if problems.is_empty() => return Ok(stats),
        Ok((problems, _)) => problems,
        Err(panic) => vec![format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("?")
        )],
    };
    let tail: Vec<&str> = log
        .iter()
        .skip(log.len().saturating_sub(LOG_TAIL))
        .map(String::as_str)
        .collect();
    Err(format!(
        "convergence simulation failed for seed {seed} ({steps} steps):\n  - {}\n\
         replay: LINDUNG_SIM_SEED={seed} LINDUNG_SIM_STEPS={steps} \
         cargo test -p lindung-tests --test e2e simulation -- --nocapture\n\
         last {} lines of the log:\n{}",
        problems.join("\n  - "),
        tail.len(),
        tail.join("\n")
    ))
}

/// Runs `seeds`, prints the figures, and panics with the first failure
/// and the list of every failing seed.
fn run_seeds(seeds: impl Iterator<Item = u64>, steps: u64, print_log: bool) -> Stats {
    let started = Instant::now();
    let mut total = Stats::default();
    let mut count = 0u64;
    let mut failures: Vec<(u64, String)> = Vec::new();
    for seed in seeds {
        match run(seed, steps, print_log) {
            Ok(stats) => total.add(&stats),
            Err(failure) => {
                // Every failing seed says what failed as it goes (a long
                // run reports them all at the end).
                for line in failure
                    .lines()
                    .skip(1)
                    .take_while(|l| l.starts_with("  - "))
                {
                    eprintln!("seed {seed}: {}", line.trim_start_matches("  - "));
                }
                failures.push((seed, failure))
            }
        }
        count += 1;
    }
    println!(
        "simulation: {count} seeds, {} steps, {} agents, {:.1} s\n  \
         registrations {} (same NIK elsewhere {}), edits {}, withdrawals/reactivations {}, \
         refused on the laptop {}\n  \
         syncs {} (ended by a fault {}), staff decisions {} (refused {}), \
         agent restarts {}, server restarts {}, partitions {}\n  \
         faults {}: dropped {}, answers lost {}, duplicated {}, delayed {}, replayed {}, \
         refused by partitions {}, late deliveries {}\n  \
         server operations {}, refused {}, conflicts {}, healing rounds {}\n  \
         USB bundles {} (lost {}), imports {}, receipts applied {}",
        total.steps,
        total.agents,
        started.elapsed().as_secs_f64(),
        total.registrations,
        total.same_nik,
        total.edits,
        total.status_changes,
        total.refused_locally,
        total.syncs,
        total.failed_syncs,
        total.staff_actions,
        total.staff_refused,
        total.agent_restarts,
        total.server_restarts,
        total.partitions,
        total.faults.total(),
        total.faults.dropped,
        total.faults.lost_responses,
        total.faults.duplicated,
        total.faults.delayed,
        total.faults.replayed,
        total.faults.partitioned,
        total.faults.late_deliveries,
        total.server_operations,
        total.rejections,
        total.conflicts,
        total.heal_rounds,
        total.bundles_written,
        total.bundles_lost,
        total.bundle_imports,
        total.receipts_applied,
    );
    if let Some((_, first)) = failures.first() {
        let seeds: Vec<String> = failures.iter().map(|(seed, _)| seed.to_string()).collect();
        panic!(
            "{} of {count} seeds failed: {}\n\n{first}",
            failures.len(),
            seeds.join(", ")
        );
    }
    total
}

#[test]
fn replicas_converge_whatever_the_network_and_restarts_do() {
    let steps = env_number("LINDUNG_SIM_STEPS").unwrap_or(DEFAULT_STEPS);
    let total = if let Some(seed) = env_number("LINDUNG_SIM_SEED") {
        run_seeds(std::iter::once(seed), steps, true)
    } else {
        let first = env_number("LINDUNG_SIM_FIRST_SEED").unwrap_or(0);
        let seeds = env_number("LINDUNG_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
        run_seeds(first..first + seeds, steps, false)
    };
    // The runs exercised what they claim to (else the test proves little).
    assert!(total.registrations > 0 && total.edits > 0 && total.syncs > 0);
    if total.steps >= 1_000 {
        assert!(
            total.faults.lost_responses > 0
                && total.faults.delayed > 0
                && total.staff_actions > 0
                && total.server_restarts > 0
                && total.server_operations > 0
                && total.bundle_imports > 0
                && total.receipts_applied > 0,
            "the runs injected too little: {total:?}"
        );
    }
}
