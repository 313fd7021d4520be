//! Prometheus metrics, served at `GET /metrics` to a staff bearer token
//! (OpenMetrics text format).
//!
//! | metric | what |
//! |---|---|
//! | `lindung_sync_requests_total{endpoint}` | enrol, push and pull requests answered (any status) |
//! | `lindung_operations_total{outcome,code}` | pushed operations: `accepted`, `duplicate`, `rejected` with its stable code |
//! | `lindung_push_batch_seconds` | time the store took to apply a push batch (histogram) |
//! | `lindung_db_pool_connections{state}` | PostgreSQL pool: `in_use`, `idle`, `max` (absent on SQLite: one connection) |
//! | `lindung_coverage_recompute_seconds` | duration of the last `coverage recompute` (from the audit log; absent before the first) |
//!
//! Counters live in the server process (they start at zero when it starts,
//! as Prometheus expects); the gauges are read when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

/// Labels of an operation counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
    code: String,
}

/// Labels of the pool gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

/// A sync endpoint, for the request counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/v1/enroll`.
    Enroll,
    /// `POST /api/v1/sync/push`.
    Push,
    /// `GET /api/v1/sync/pull`.
    Pull,
}

impl Endpoint {
    fn as_str(self) -> &'static str {
        match self {
            Endpoint::Enroll => "enroll",
            Endpoint::Push => "push",
            Endpoint::Pull => "pull",
        }
    }
}

/// What the server counts, and the registry that renders it.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<EndpointLabels, Counter>,
    operations: Family<OutcomeLabels, Counter>,
    push_seconds: Histogram,
    pool: Family<PoolLabels, Gauge>,
    recompute_seconds: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The state of a connection pool, for the gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections handed out.
    pub in_use: u64,
    /// Connections open and free.
    pub idle: u64,
    /// The most the pool opens.
    pub max: u64,
}

impl Metrics {
    /// Every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("lindung");
        let requests = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "sync_requests",
            "Enrol, push and pull requests answered",
            requests.clone(),
        );
        let operations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "operations",
            "Pushed operations by outcome (accepted, duplicate, rejected) and rejection code",
            operations.clone(),
        );
        let push_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register(
            "push_batch_seconds",
            "Time the store took to apply one push batch",
            push_seconds.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections by state (PostgreSQL)",
            pool.clone(),
        );
        let recompute_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "coverage_recompute_seconds",
            "Duration of the last full coverage recompute",
            recompute_seconds.clone(),
        );
        Metrics {
            registry,
            requests,
            operations,
            push_seconds,
            pool,
            recompute_seconds,
        }
    }

    /// Counts a request to `endpoint`.
    pub fn request(&self, endpoint: Endpoint) {
        self.requests
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.as_str().to_owned(),
            })
            .inc();
    }

    /// Counts `count` operations with an outcome (`code` empty unless rejected).
    pub fn operations(&self, outcome: &str, code: &str, count: u64) {
        if count == 0 {
            return;
        }
        self.operations
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
                code: code.to_owned(),
            })
            .inc_by(count);
    }

    /// Records how long the store took to apply a push batch.
    pub fn push_took(&self, seconds: f64) {
        self.push_seconds.observe(seconds);
    }

    /// Renders every metric in the OpenMetrics text format, after setting
    /// the gauges read at scrape time.
    pub fn render(
        &self,
        pool: Option<PoolStatus>,
        last_recompute_seconds: Option<f64>,
    ) -> Result<String, std::fmt::Error> {
        if let Some(pool) = pool {
            for (state, value) in [
                ("in_use", pool.in_use),
                ("idle", pool.idle),
                ("max", pool.max),
            ] {
                self.pool
                    .get_or_create(&PoolLabels {
                        state: state.to_owned(),
                    })
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            }
        }
        if let Some(seconds) = last_recompute_seconds {
            self.recompute_seconds.set(seconds);
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_render_as_openmetrics() {
        let metrics = Metrics::new();
        metrics.request(Endpoint::Push);
        metrics.request(Endpoint::Push);
        metrics.operations("accepted", "", 3);
        metrics.operations("rejected", "out_of_scope", 1);
        metrics.push_took(0.02);
        let text = metrics
            .render(
                Some(PoolStatus {
                    in_use: 1,
                    idle: 3,
                    max: 16,
                }),
                Some(4.5),
            )
            .expect("renders");
        assert!(
            text.contains("lindung_sync_requests_total{endpoint=\"push\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("lindung_operations_total{outcome=\"rejected\",code=\"out_of_scope\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("lindung_push_batch_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("lindung_db_pool_connections{state=\"max\"} 16"),
            "{text}"
        );
        assert!(
            text.contains("lindung_coverage_recompute_seconds 4.5"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
