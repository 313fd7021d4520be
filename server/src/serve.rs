//! Running the service: logging, listening, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::api::{AppState, router};
use crate::storage::Storage;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for journald, Loki, Elasticsearch …).
    Json,
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Serves the API until Ctrl-C or SIGTERM; the request in flight finishes first.
pub async fn serve(storage: Arc<dyn Storage>, listen: SocketAddr) -> anyhow::Result<()> {
    let described = storage.describe();
    let state = Arc::new(
        AppState::new(storage)
            .await
            .context("cannot read the store")?,
    );
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr().context("no local address")?;
    // Parse the embedded region table now rather than inside the first push
    // (it takes tens of milliseconds, under the push lock).
    let regions = lindung_shared::region::regions();
    tracing::debug!(counts = ?regions.counts(), "region table loaded");
    tracing::info!(%address, database = %described, store_id = %state.store_id, "serving");
    // One line on stdout that scripts and tests wait for.
    println!("lindung-server listening on http://{address}");
    // The peer address reaches handlers (login rate limiting per address).
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
