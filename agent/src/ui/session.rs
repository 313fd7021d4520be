//! Browser sessions of the UI: a random id in an HttpOnly, SameSite=Strict
//! cookie, a CSRF token checked on every POST, and auto-lock after
//! inactivity.
//!
//! Every visitor gets a session, locked at first (the setup and unlock forms
//! need a CSRF token too). Unlocking replaces it with a new, unlocked one, so
//! an id seen before the passphrase was typed is worth nothing after. A
//! session idle for `lock_after` is ended at its next request; the clock is a
//! parameter, so tests move it instead of sleeping.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The session cookie's name. Not the dashboard's `lindung_session`:
/// cookies ignore ports, so the agent's UI and a server dashboard on the
/// same machine (127.0.0.1) must not share names.
pub const COOKIE: &str = "lindung_agent_session";

/// Sessions kept at most; the least recently used goes first (a laptop has
/// one officer and a browser or two).
const MAX_SESSIONS: usize = 32;

/// One browser session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Its id (the cookie's value).
    pub id: String,
    /// The token every POST must carry.
    pub csrf: String,
    /// Whether the passphrase was given.
    pub unlocked: bool,
    /// Its last request.
    pub last_seen: Instant,
}

/// What became of a request's session.
#[derive(Debug)]
pub struct Visit {
    /// The session, after this request.
    pub session: Session,
    /// The session is new: its cookie must be set.
    pub new: bool,
    /// An unlocked session was ended for inactivity just now.
    pub auto_locked: bool,
}

/// Every live session.
#[derive(Debug)]
pub struct Sessions {
    sessions: HashMap<String, Session>,
    lock_after: Duration,
}

impl Sessions {
    /// No session yet; unlocked ones lock after `lock_after` without a request.
    pub fn new(lock_after: Duration) -> Sessions {
        Sessions {
            sessions: HashMap::new(),
            lock_after,
        }
    }

    /// The session of a request carrying `cookie` at `now`: the same one
    /// (its clock restarted), or a new locked one when there is none, it is
    /// unknown, or it was unlocked and idle for too long.
    pub fn visit(&mut self, cookie: Option<&str>, now: Instant) -> Result<Visit, getrandom::Error> {
        let mut auto_locked = false;
        if let Some(session) = cookie.and_then(|id| self.sessions.get_mut(id)) {
            let idle = now.saturating_duration_since(session.last_seen);
            if session.unlocked && idle >= self.lock_after {
                auto_locked = true;
                let id = session.id.clone();
                self.sessions.remove(&id);
            } else {
                session.last_seen = now;
                return Ok(Visit {
                    session: session.clone(),
                    new: false,
                    auto_locked: false,
                });
            }
        }
        let session = self.create(false, now)?;
        Ok(Visit {
            session,
            new: true,
            auto_locked,
        })
    }

    /// Ends a session and opens a new unlocked one in its place (after the
    /// right passphrase).
    pub fn unlock(&mut self, old_id: &str, now: Instant) -> Result<Session, getrandom::Error> {
        self.sessions.remove(old_id);
        self.create(true, now)
    }

    /// Ends a session (the officer pressed "lock").
    pub fn end(&mut self, id: &str) {
        self.sessions.remove(id);
    }

    fn create(&mut self, unlocked: bool, now: Instant) -> Result<Session, getrandom::Error> {
        if self.sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .sessions
                .values()
                .min_by_key(|s| s.last_seen)
                .map(|s| s.id.clone())
        {
            self.sessions.remove(&oldest);
        }
        let session = Session {
            id: random_token()?,
            csrf: random_token()?,
            unlocked,
            last_seen: now,
        };
        self.sessions.insert(session.id.clone(), session.clone());
        Ok(session)
    }
}

/// 128 random bits as hex.
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlocked_session_locks_after_the_idle_time_and_not_before() {
        let start = Instant::now();
        let mut sessions = Sessions::new(Duration::from_secs(15 * 60));
        let anonymous = sessions.visit(None, start).unwrap();
        assert!(anonymous.new && !anonymous.session.unlocked);
        let unlocked = sessions.unlock(&anonymous.session.id, start).unwrap();
        assert!(unlocked.unlocked);
        assert_ne!(
            unlocked.id, anonymous.session.id,
            "a new id after unlocking"
        );
        assert_ne!(unlocked.csrf, anonymous.session.csrf);
        // The id seen before unlocking is gone.
        let old = sessions.visit(Some(&anonymous.session.id), start).unwrap();
        assert!(old.new && !old.session.unlocked);

        // 14 minutes later: still unlocked, and the clock restarts.
        let later = start + Duration::from_secs(14 * 60);
        let visit = sessions.visit(Some(&unlocked.id), later).unwrap();
        assert!(visit.session.unlocked && !visit.new && !visit.auto_locked);
        // 14 more minutes: still fine, since the last request restarted it.
        let visit = sessions
            .visit(Some(&unlocked.id), later + Duration::from_secs(14 * 60))
            .unwrap();
        assert!(visit.session.unlocked);
        // 15 idle minutes: locked, a new locked session instead.
        let visit = sessions
            .visit(
                Some(&unlocked.id),
                later + Duration::from_secs(28 * 60 + 15 * 60),
            )
            .unwrap();
        assert!(visit.auto_locked && visit.new && !visit.session.unlocked);
        assert_ne!(visit.session.id, unlocked.id);
    }

    #[test]
    fn ending_a_session_forgets_it_and_sessions_stay_bounded() {
        let now = Instant::now();
        let mut sessions = Sessions::new(Duration::from_secs(60));
        let first = sessions.visit(None, now).unwrap().session;
        sessions.end(&first.id);
        assert!(sessions.visit(Some(&first.id), now).unwrap().new);
        for i in 0..100 {
            sessions
                .visit(None, now + Duration::from_millis(i))
                .unwrap();
        }
        assert!(sessions.sessions.len() <= MAX_SESSIONS);
    }

    #[test]
    fn tokens_are_random_hex_and_compared_exactly() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token("", ""));
        assert!(!same_token(&a, &a[..31]));
    }
}
