//! The `server:` section: where the HTTP edge listens, where the data lives, and the bounds on
//! every connection (header deadline, request deadline, connections at once).

use std::path::PathBuf;

use crate::config::Duration;
use crate::config::decode::{Decoder, join};

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
        /// Time a client has to send a request's headers (also how long an idle keep-alive
        /// connection stays open); then the connection is closed.
        pub header_read_timeout: Duration = Duration::secs(10),
        /// Time a request has from its headers to its response (body upload and handler); then
        /// it is answered 408. The backup download is exempt.
        pub request_timeout: Duration = Duration::secs(60),
        /// Connections served at once; further clients wait in the listen backlog.
        pub max_connections: usize = 1024,
    }
    check = check_server;
}

fn check_server(c: &ServerConfig, path: &str, d: &mut Decoder) {
    let at = |field: &str| join(path, field);
    if c.header_read_timeout.get().is_zero() {
        d.error_at(&at("header_read_timeout"), "must be positive");
    }
    if c.request_timeout.get().is_zero() {
        d.error_at(&at("request_timeout"), "must be positive");
    }
    if c.max_connections == 0 {
        d.error_at(&at("max_connections"), "must be at least 1");
    }
}

fn default_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
}

#[cfg(test)]
mod tests {
    #[test]
    fn connection_bounds_must_be_positive() {
        let text =
            "server:\n  header_read_timeout: 0s\n  request_timeout: 0s\n  max_connections: 0\n";
        let errs = crate::config::root::parse(text, "s.yaml", &|_| None).expect_err("invalid");
        let text: Vec<String> = errs.0.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:#?}");
        assert!(text[0].contains("server.header_read_timeout: must be positive"));
        assert!(text[1].contains("server.request_timeout: must be positive"));
        assert!(text[2].contains("server.max_connections: must be at least 1"));
        let c = crate::config::root::Config::default();
        assert_eq!(c.server.max_connections, 1024);
        assert_eq!(c.server.header_read_timeout.get().as_secs(), 10);
    }
}
