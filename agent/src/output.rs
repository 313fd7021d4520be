//! How results reach the terminal.

use std::io::{self, Write};

use serde::Serialize;

/// How a command that ran to the end went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked out (exit code 0).
    Success,
    /// The command ran, but what it checked was invalid or not found (exit code 1).
    Negative,
}

impl Outcome {
    /// `Success` when `ok`, else `Negative`.
    pub fn from_bool(ok: bool) -> Outcome {
        if ok {
            Outcome::Success
        } else {
            Outcome::Negative
        }
    }
}

/// Writes `value` as pretty JSON and a newline to standard output.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Whether an error is a closed pipe (`lindung-agent … | head`), which is not a failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                .is_some_and(|kind| kind == io::ErrorKind::BrokenPipe)
    })
}

/// Today's date on this laptop (local time when the offset is known, else UTC).
pub fn today() -> time::Date {
    (time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        + clock_skew())
    .date()
}

/// Turns a typed problem into an error whose text is in the chosen language.
pub fn problem(
    error: impl lindung_shared::lang::Problem,
    lang: lindung_shared::lang::Lang,
) -> anyhow::Error {
    anyhow::anyhow!("{} [{}]", error.message(lang), error.code())
}

/// Environment variable that shifts the agent's clock by a number of seconds,
/// to reproduce a laptop whose clock is wrong (tests and demonstrations).
pub const CLOCK_SKEW_ENV: &str = "LINDUNG_CLOCK_SKEW_SECONDS";

fn clock_skew() -> time::Duration {
    std::env::var(CLOCK_SKEW_ENV)
        .ok()
        .and_then(|value| value.trim().parse::<i64>().ok())
        .map(time::Duration::seconds)
        .unwrap_or_default()
}

/// Now, in UTC (as this laptop's clock says).
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + clock_skew()
}

/// Unix milliseconds of a time (0 before 1970).
pub fn unix_ms(at: time::OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}
