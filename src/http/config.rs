//! The `server:` section: where the HTTP edge listens and where the data lives.

use std::path::PathBuf;

use crate::config::Duration;

crate::config_section! {
    pub struct ServerConfig {
        /// Address the HTTP server listens on.
        pub listen: std::net::SocketAddr = default_listen(),
        /// Directory holding the data file; created if missing.
        pub data_dir: PathBuf = PathBuf::from("./panoptes-data"),
        /// Serve `/metrics` without credentials (Prometheus scrapers usually have none).
        pub public_metrics: bool = true,
        /// How long graceful shutdown waits for in-flight requests before giving up.
        pub shutdown_timeout: Duration = Duration::secs(30),
        /// Largest request body the JSON API accepts.
        pub max_body_bytes: u64 = 1024 * 1024,
    }
}

fn default_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
}
