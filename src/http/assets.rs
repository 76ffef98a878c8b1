//! The embedded dashboard. `build.rs` copies the built front end (`frontend/dist`) into the
//! binary with a precompressed `.gz` beside each text/wasm file; here we pick the variant the
//! client accepts and set caching: content-hashed files under `/assets/` are immutable, everything
//! else revalidates by ETag. Unknown non-API paths get `index.html`, so client-side routes work
//! on reload.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/dist"]
struct Dist;

pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path == "api" {
        return super::ApiError::NotFound(format!("no API route {}", uri.path())).into_response();
    }
    let path = if path.is_empty() { "index.html" } else { path };
    match file_response(path, &headers) {
        Some(r) => r,
        // Missing built files are real 404s; every other path is a client-side route (a
        // service or monitor name may well contain a dot: `/exceptions/api.v2`).
        None if path.starts_with("assets/") || !path.contains('/') && is_root_file(path) => {
            (StatusCode::NOT_FOUND, "not found").into_response()
        }
        None => file_response("index.html", &headers)
            .unwrap_or_else(|| (StatusCode::NOT_FOUND, "dashboard not built").into_response()),
    }
}

/// Files browsers and crawlers ask for at the root.
fn is_root_file(path: &str) -> bool {
    matches!(
        path,
        "favicon.ico" | "robots.txt" | "apple-touch-icon.png" | "manifest.json" | "sitemap.xml"
    ) || path.ends_with(".js")
        || path.ends_with(".css")
        || path.ends_with(".wasm")
        || path.ends_with(".map")
}

fn file_response(path: &str, headers: &HeaderMap) -> Option<Response> {
    let file = Dist::get(path)?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let immutable = path.starts_with("assets/");
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp_headers = HeaderMap::new();
    resp_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    resp_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp_headers.insert(header::ETAG, v);
    }
    security_headers(&mut resp_headers);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Some((StatusCode::NOT_MODIFIED, resp_headers).into_response());
    }
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    if gzip_ok && let Some(gz) = Dist::get(&format!("{path}.gz")) {
        resp_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return Some((resp_headers, gz.data.into_owned()).into_response());
    }
    Some((resp_headers, file.data.into_owned()).into_response())
}

/// The dashboard's own code only: no inline or foreign scripts (the WASM is compiled from our
/// own module), no framing by other sites, no MIME sniffing, no referrer beyond this origin.
pub const DASHBOARD_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DASHBOARD_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
