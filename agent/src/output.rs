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
    time::OffsetDateTime::now_local()
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .date()
}

/// Turns a typed problem into an error whose text is in the chosen language.
pub fn problem(
    error: impl lindung_shared::lang::Problem,
    lang: lindung_shared::lang::Lang,
) -> anyhow::Error {
    anyhow::anyhow!("{} [{}]", error.message(lang), error.code())
}

/// Now, in UTC.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
