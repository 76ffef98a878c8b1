//! `panoptes backup --server`: the client side of the online backup, streaming
//! `GET /api/v1/backup` of a running server into a file.
//!
//! Owns: the download's bounds (connect, idle), the partial-file-then-rename rule, short error
//! messages. Depends on: `outbound` (the shared client factory), `config::Duration` (display).

use std::path::Path;

use panoptes::config;

/// Bounds on `backup --server`: connecting, and then every wait for the server (its answer,
/// each piece of the download). A stalled server fails the backup; a long healthy download of a
/// large file does not.
#[derive(Clone, Copy)]
struct BackupTimeouts {
    connect: std::time::Duration,
    idle: std::time::Duration,
}

const BACKUP_TIMEOUTS: BackupTimeouts = BackupTimeouts {
    connect: std::time::Duration::from_secs(10),
    idle: std::time::Duration::from_secs(60),
};

/// Bytes of an error answer read (and at most 300 characters of them shown).
const MAX_ERROR_BODY: usize = 4096;

/// Streams `GET /api/v1/backup` of a running server into `to` (via a temporary file, renamed
/// once complete, so a broken transfer never leaves a truncated backup behind).
pub async fn backup_online(base: &str, token: &str, to: &Path) -> Result<u64, String> {
    backup_online_with(base, token, to, BACKUP_TIMEOUTS).await
}

async fn backup_online_with(
    base: &str,
    token: &str,
    to: &Path,
    limits: BackupTimeouts,
) -> Result<u64, String> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let idle = limits.idle;
    let client =
        panoptes::outbound::default_clients().client(&panoptes::outbound::ClientOptions {
            connect_timeout: Some(limits.connect),
            ..Default::default()
        })?;
    let url = format!("{}/api/v1/backup", base.trim_end_matches('/'));
    let stalled = || format!("{url}: no answer within {}", config::Duration(idle));
    let resp = tokio::time::timeout(idle, client.get(&url).bearer_auth(token).send())
        .await
        .map_err(|_| stalled())?
        .map_err(|e| format!("{url}: {}", panoptes::outbound::error_chain(&e)))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = error_body(resp, idle).await;
        return Err(format!(
            "{url}: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
                .chars()
                .take(300)
                .collect::<String>()
        ));
    }
    let partial = to.with_extension("partial");
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    let mut written = 0u64;
    let mut stream = resp.bytes_stream();
    let copied: Result<(), String> = async {
        while let Some(chunk) = tokio::time::timeout(idle, stream.next())
            .await
            .map_err(|_| format!("{url}: the transfer stalled for {}", config::Duration(idle)))?
        {
            let chunk = chunk.map_err(|e| format!("{url}: transfer broke: {e}"))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
            written += chunk.len() as u64;
        }
        file.sync_all()
            .await
            .map_err(|e| format!("cannot write {}: {e}", partial.display()))
    }
    .await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, to).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    Ok(written)
}

/// At most [`MAX_ERROR_BODY`] bytes of an error answer, each piece within `idle`: whatever the
/// server sends, the message stays short and arrives.
async fn error_body(mut resp: reqwest::Response, idle: std::time::Duration) -> Vec<u8> {
    let mut out = Vec::new();
    while out.len() < MAX_ERROR_BODY {
        match tokio::time::timeout(idle, resp.chunk()).await {
            Ok(Ok(Some(c))) => {
                let room = MAX_ERROR_BODY - out.len();
                out.extend_from_slice(&c[..c.len().min(room)]);
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const QUICK: BackupTimeouts = BackupTimeouts {
        connect: Duration::from_secs(2),
        idle: Duration::from_millis(300),
    };

    /// A fake server running `answer` on every connection.
    async fn server<F, Fut>(answer: F) -> String
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(answer(sock));
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_server_that_never_answers_fails_the_backup() {
        let base = server(|mut sock| async move {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        })
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let to = dir.path().join("b.redb");
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            backup_online_with(&base, "t", &to, QUICK),
        )
        .await
        .expect("the backup gives up on its own");
        let e = r.expect_err("no answer");
        assert!(e.contains("no answer within"), "{e}");
    }

    #[tokio::test]
    async fn a_stalled_download_fails_and_leaves_nothing_behind() {
        let base = server(|mut sock| async move {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nsome bytes")
                .await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        })
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let to = dir.path().join("b.redb");
        let e = tokio::time::timeout(
            Duration::from_secs(10),
            backup_online_with(&base, "t", &to, QUICK),
        )
        .await
        .expect("the backup gives up on its own")
        .expect_err("stalled");
        assert!(e.contains("stalled"), "{e}");
        assert!(!to.exists());
        assert!(!to.with_extension("partial").exists());
    }

    /// An error answer is read only up to a bound: an endless one cannot hold the command.
    #[tokio::test]
    async fn an_endless_error_body_is_cut_short() {
        let base = server(|mut sock| async move {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(
                    b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n",
                )
                .await;
            let chunk = format!("{:x}\r\n{}\r\n", 8192, "e".repeat(8192));
            while sock.write_all(chunk.as_bytes()).await.is_ok() {}
        })
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let e = tokio::time::timeout(
            Duration::from_secs(10),
            backup_online_with(&base, "t", &dir.path().join("b.redb"), QUICK),
        )
        .await
        .expect("the error is reported without reading the whole body")
        .expect_err("HTTP 500");
        assert!(e.contains("HTTP 500"), "{e}");
        assert!(e.len() < 600, "{} bytes", e.len());
    }
}
