//! TCP: connect, optionally send a line and read the first line back (as [BODY]).

use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Outcome;
use crate::probe::condition::Observation;
use crate::probe::config::TcpCheck;

const MAX_LINE: u64 = 4096;

/// Connects to `host:port`, from `source` when given (the first address of the host's family).
/// TLS checks connect through it too.
pub(super) async fn connect(
    host: &str,
    port: u16,
    source: Option<std::net::IpAddr>,
) -> std::io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect((host, port)).await;
    };
    let target = tokio::net::lookup_host((host, port))
        .await?
        .find(|a| a.is_ipv4() == source.is_ipv4())
        .ok_or_else(|| std::io::Error::other(format!("no address of {host} like {source}")))?;
    let socket = if source.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(std::net::SocketAddr::new(source, 0))?;
    socket.connect(target).await
}

pub async fn check(t: &TcpCheck, source: Option<std::net::IpAddr>) -> Outcome {
    let started = Instant::now();
    let stream = match connect(&t.host, t.port, source).await {
        Ok(s) => s,
        Err(e) => return Outcome::failed(started, format!("connect {}:{}: {e}", t.host, t.port)),
    };
    let ip = stream.peer_addr().ok().map(|a| a.ip().to_string());
    let mut obs = Observation {
        connected: true,
        ip,
        ..Default::default()
    };
    let mut error = None;
    if t.send.is_some() || t.expect.is_some() {
        let (read, mut write) = stream.into_split();
        if let Some(line) = &t.send
            && let Err(e) = write.write_all(format!("{line}\n").as_bytes()).await
        {
            error = Some(format!("send: {e}"));
        }
        if error.is_none() && t.expect.is_some() {
            let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_LINE));
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(_) => {
                    let line = line.trim_end_matches(['\r', '\n']).to_string();
                    if let Some(want) = &t.expect
                        && !line.contains(want.as_str())
                    {
                        error = Some(format!("expected a line containing `{want}`, got `{line}`"));
                    }
                    obs.body = Some(line);
                }
                Err(e) => error = Some(format!("read: {e}")),
            }
        }
    }
    obs.response_time_ms = started.elapsed().as_millis() as u64;
    Outcome { obs, error }
}
