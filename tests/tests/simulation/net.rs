//! The network between the agents and the server: it delivers the agent's
//! requests to [`SimServer`], or, when the run asks for faults, drops them,
//! loses the answer after the server committed, delivers them twice, holds
//! them back and delivers them later (after newer ones), or keeps a copy to
//! deliver again later. A partitioned agent reaches nothing.

use std::cell::RefCell;

use lindung_agent::sync::{SyncError, Transport};
use lindung_shared::ids::StoreId;
use lindung_shared::protocol::{
    ErrorBody, ErrorCode, MAX_PULL_LIMIT, PROTOCOL_VERSION, PullPage, PushRequest, PushResponse,
    WireError,
};
use serde::de::DeserializeOwned;

use super::rng::Rng;
use super::server::{SimServer, WireRequest, WireResponse};

/// What the network does to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Lost before the server: nothing happened there.
    DropRequest,
    /// The server committed, the answer never came back.
    LoseResponse,
    /// Delivered twice; the agent sees the second answer.
    Duplicate,
    /// Held back and delivered some steps later, after newer requests; the
    /// agent times out now.
    Delay,
    /// Delivered now, and a copy again some steps later (a stale retry
    /// from a proxy).
    Replay,
}

/// Faults injected in one run, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// [`Fault::DropRequest`].
    pub dropped: u64,
    /// [`Fault::LoseResponse`].
    pub lost_responses: u64,
    /// [`Fault::Duplicate`].
    pub duplicated: u64,
    /// [`Fault::Delay`].
    pub delayed: u64,
    /// [`Fault::Replay`].
    pub replayed: u64,
    /// Requests refused by a partition.
    pub partitioned: u64,
    /// Late deliveries (of delayed and replayed requests).
    pub late_deliveries: u64,
}

impl FaultCounts {
    fn count(&mut self, fault: Fault) {
        match fault {
            Fault::DropRequest => self.dropped += 1,
            Fault::LoseResponse => self.lost_responses += 1,
            Fault::Duplicate => self.duplicated += 1,
            Fault::Delay => self.delayed += 1,
            Fault::Replay => self.replayed += 1,
        }
    }

    /// Every fault injected.
    pub fn total(&self) -> u64 {
        self.dropped
            + self.lost_responses
            + self.duplicated
            + self.delayed
            + self.replayed
            + self.partitioned
    }

    /// Adds another run's counts.
    pub fn add(&mut self, other: &FaultCounts) {
        self.dropped += other.dropped;
        self.lost_responses += other.lost_responses;
        self.duplicated += other.duplicated;
        self.delayed += other.delayed;
        self.replayed += other.replayed;
        self.partitioned += other.partitioned;
        self.late_deliveries += other.late_deliveries;
    }
}

/// Requests in flight that will arrive late, and what was injected.
#[derive(Debug, Default)]
pub struct Network {
    /// (step at which it arrives, request), in the order they were held.
    held: Vec<(u64, WireRequest)>,
    /// Faults injected so far.
    pub faults: FaultCounts,
    /// HTTP errors the server answered to an agent (must stay empty).
    pub refusals: Vec<String>,
}

impl Network {
    /// The held requests due at `step` (or all of them), oldest first.
    pub fn take_due(&mut self, step: Option<u64>) -> Vec<WireRequest> {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(at, _)| step.is_none_or(|step| *at <= step));
        self.held = later;
        self.faults.late_deliveries += due.len() as u64;
        due.into_iter().map(|(_, request)| request).collect()
    }
}

/// One agent's connection for one sync run.
#[derive(Debug)]
pub struct Link<'a> {
    /// The server.
    pub server: &'a RefCell<SimServer>,
    /// The network.
    pub net: &'a RefCell<Network>,
    /// The device token.
    pub token: String,
    /// Where faults come from (`None`: a healthy network).
    pub faults: Option<RefCell<Rng>>,
    /// Cut off from the server.
    pub partitioned: bool,
    /// The current step (late deliveries are scheduled after it).
    pub step: u64,
    /// What happened, for the run's log.
    pub log: &'a RefCell<Vec<String>>,
}

impl Link<'_> {
    fn fault(&self) -> Option<(Fault, u64)> {
        let mut rng = self.faults.as_ref()?.borrow_mut();
        let fault = match rng.below(100) {
            0..=5 => Fault::DropRequest,
            6..=13 => Fault::LoseResponse,
            14..=19 => Fault::Duplicate,
            20..=24 => Fault::Delay,
            25..=29 => Fault::Replay,
            _ => return None,
        };
        Some((fault, 1 + rng.below(12)))
    }

    fn unreachable(&self, why: &str) -> SyncError {
        SyncError::Unreachable(why.to_owned())
    }

    /// Sends a request through the network.
    fn deliver(&self, request: WireRequest) -> Result<WireResponse, SyncError> {
        let what = if request.is_push() { "push" } else { "pull" };
        if self.partitioned {
            self.net.borrow_mut().faults.partitioned += 1;
            return Err(self.unreachable("partitioned"));
        }
        let Some((fault, later)) = self.fault() else {
            return Ok(self.server.borrow_mut().send(&request));
        };
        self.net.borrow_mut().faults.count(fault);
        self.log
            .borrow_mut()
            .push(format!("    net: {what} {fault:?}"));
        match fault {
            Fault::DropRequest => Err(self.unreachable("request lost")),
            Fault::LoseResponse => {
                self.server.borrow_mut().send(&request);
                Err(self.unreachable("answer lost"))
            }
            Fault::Duplicate => {
                self.server.borrow_mut().send(&request);
                Ok(self.server.borrow_mut().send(&request))
            }
            Fault::Delay => {
                self.net
                    .borrow_mut()
                    .held
                    .push((self.step + later, request));
                Err(self.unreachable("timed out"))
            }
            Fault::Replay => {
                let answer = self.server.borrow_mut().send(&request);
                self.net
                    .borrow_mut()
                    .held
                    .push((self.step + later, request));
                Ok(answer)
            }
        }
    }

    /// Reads an answer as the HTTP client does: JSON on 2xx, else the
    /// server's structured error. Any HTTP error is noted: in this
    /// simulation no request of an agent should ever be refused.
    fn read<R: DeserializeOwned>(&self, response: WireResponse) -> Result<R, SyncError> {
        if (200..300).contains(&response.status) {
            return serde_json::from_slice(&response.body)
                .map_err(|e| SyncError::Protocol(e.to_string()));
        }
        let error = serde_json::from_slice::<ErrorBody>(&response.body)
            .map(|body| body.error)
            .unwrap_or_else(|_| {
                WireError::new(
                    ErrorCode::Unknown,
                    format!("HTTP {}", response.status),
                    "HTTP",
                )
            });
        self.net.borrow_mut().refusals.push(format!(
            "HTTP {} {}: {}",
            response.status,
            error.code.as_str(),
            error.message
        ));
        Err(SyncError::Refused {
            code: response.status,
            error,
        })
    }
}

impl Transport for Link<'_> {
    fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError> {
        let wire = WireRequest::post("/api/v1/sync/push", Some(&self.token), request);
        let response = self.deliver(wire)?;
        self.read(response)
    }

    fn pull(
        &self,
        cursor: u64,
        limit: u32,
        store: Option<StoreId>,
    ) -> Result<Option<PullPage>, SyncError> {
        // The query the HTTP client builds.
        let mut uri = format!("/api/v1/sync/pull?cursor={cursor}");
        if limit != MAX_PULL_LIMIT {
            uri.push_str(&format!("&limit={limit}"));
        }
        if PROTOCOL_VERSION != 1 {
            uri.push_str(&format!("&protocol={PROTOCOL_VERSION}"));
        }
        if let Some(store) = store {
            uri.push_str(&format!("&store={store}"));
        }
        let response = self.deliver(WireRequest::get(uri, &self.token))?;
        if response.status == 204 {
            return Ok(None);
        }
        self.read(response).map(Some)
    }
}
