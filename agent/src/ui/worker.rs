//! The background sync while the UI serves.
//!
//! The worker thread owns a second connection to the store (its own
//! [`Store`], opened with the same passphrase), so a sync round that waits on
//! a slow network never holds anything the pages need: the UI stays
//! responsive, and SQLite's WAL lets the two connections read while the other
//! writes. Rounds follow [`Rounds`]: the interval while they work, growing
//! waits while the server cannot be reached, and no retry by itself after a
//! refusal that retrying cannot fix (a revoked device) — "sync now" tries
//! again. A change the server rejected is never sent again (the store's
//! outbox rule). Locking the UI does not stop the worker: the store stays
//! open in this process; the lock protects the screen.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use lindung_shared::lang::Lang;
use time::OffsetDateTime;

use crate::store::Store;
use crate::sync::{Rounds, SyncSummary};

/// How the last sync attempt ended.
#[derive(Clone, Debug)]
pub enum LastAttempt {
    /// It worked: the server was reached.
    Succeeded(SyncSummary),
    /// It failed; the message in both languages.
    Failed {
        /// Bahasa Indonesia.
        message_id: String,
        /// English.
        message_en: String,
        /// Whether the worker retries by itself.
        retrying: bool,
    },
}

impl LastAttempt {
    /// The failure message in a language (`None` after a success).
    pub fn failure(&self, lang: Lang) -> Option<&str> {
        match (self, lang) {
            (LastAttempt::Succeeded(_), _) => None,
            (LastAttempt::Failed { message_id, .. }, Lang::Id) => Some(message_id),
            (LastAttempt::Failed { message_en, .. }, Lang::En) => Some(message_en),
        }
    }
}

/// What the sync page shows about the worker.
#[derive(Clone, Debug, Default)]
pub struct SyncView {
    /// A round is running now.
    pub running: bool,
    /// When the last round ended, and how.
    pub last: Option<(OffsetDateTime, LastAttempt)>,
    /// When the next round is planned, if one is.
    pub next_at: Option<OffsetDateTime>,
    /// The worker is waiting for enrolment.
    pub not_enrolled: bool,
}

#[derive(Debug, Default)]
struct Signals {
    /// "Sync now" (or enrolment) asked for a round.
    wake: bool,
    /// The process is ending.
    stop: bool,
}

/// Shared between the worker and the pages.
#[derive(Debug, Default)]
pub struct SyncShared {
    view: Mutex<SyncView>,
    signals: Mutex<Signals>,
    bell: Condvar,
}

impl SyncShared {
    /// What the worker is doing.
    pub fn view(&self) -> SyncView {
        self.view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Asks for a round now.
    pub fn wake(&self) {
        let mut signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        signals.wake = true;
        self.bell.notify_all();
    }

    /// Asks the worker to stop after its current round.
    pub fn stop(&self) {
        let mut signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        signals.stop = true;
        self.bell.notify_all();
    }

    fn update(&self, change: impl FnOnce(&mut SyncView)) {
        change(&mut self.view.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Waits until woken, stopped, or `timeout` (forever when `None`).
    /// Returns false when the worker must stop.
    fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if signals.stop {
                return false;
            }
            if signals.wake {
                signals.wake = false;
                return true;
            }
            match deadline {
                None => {
                    signals = self
                        .bell
                        .wait(signals)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return true;
                    }
                    signals = self
                        .bell
                        .wait_timeout(signals, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

/// Starts the worker on its own thread with its own connection.
pub fn start(
    mut store: Store,
    interval: Duration,
    shared: Arc<SyncShared>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lindung-sync".into())
        .spawn(move || {
            let mut rounds = Rounds::new(interval);
            loop {
                let enrolled = matches!(store.enrollment(), Ok(Some(_)));
                let wait = if enrolled {
                    shared.update(|v| {
                        v.running = true;
                        v.not_enrolled = false;
                        v.next_at = None;
                    });
                    let (result, wait) = rounds.round(&mut store);
                    let attempt = match result {
                        Ok(summary) => LastAttempt::Succeeded(summary),
                        Err(error) => LastAttempt::Failed {
                            message_id: error.text(Lang::Id),
                            message_en: error.text(Lang::En),
                            retrying: wait.is_some(),
                        },
                    };
                    let now = crate::output::now();
                    shared.update(|v| {
                        v.running = false;
                        v.last = Some((now, attempt));
                        v.next_at = wait
                            .and_then(|w| time::Duration::try_from(w).ok())
                            .map(|w| now + w);
                    });
                    wait
                } else {
                    shared.update(|v| v.not_enrolled = true);
                    None
                };
                if !shared.wait(wait) {
                    break;
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_ends_the_wait_at_once_and_stop_ends_the_worker() {
        let shared = SyncShared::default();
        shared.wake();
        // Woken before waiting: returns at once instead of waiting an hour.
        assert!(shared.wait(Some(Duration::from_secs(3600))));
        // The wake was used up: a short wait now times out.
        assert!(shared.wait(Some(Duration::from_millis(1))));
        shared.stop();
        assert!(!shared.wait(None));
    }
}
