//! Regressions, cron check-ins, CSP reports, minidumps, legacy bodies and CORS.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolved_issues_reopen_as_regressions_and_check_ins_feed_push_monitors() {
    let s = Server::start();
    let e = exception_event("RegressError", "comes back");
    assert_eq!(s.send_event(7, KEY, &e).await.status(), StatusCode::OK);
    let issue = s.issue(7, "RegressError", 1).await;
    let id = issue["id"].as_u64().expect("id");
    let resp = s
        .http
        .patch(s.run.url(&format!("/api/v1/issues/{id}")))
        .bearer_auth(&s.token)
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["status"], "resolved");
    let resolved = s.get("/api/v1/projects/7/issues?status=resolved").await;
    assert_eq!(resolved["items"].as_array().map(Vec::len), Some(1));
    let again = exception_event("RegressError", "comes back");
    assert_eq!(s.send_event(7, KEY, &again).await.status(), StatusCode::OK);
    let back = s.issue(7, "RegressError", 2).await;
    assert_eq!(back["status"], "unresolved");
    assert_eq!(back["regressed"], true);
    assert_eq!(back["regressions"], 1);
    let bad = s
        .http
        .patch(s.run.url(&format!("/api/v1/issues/{id}")))
        .bearer_auth(&s.token)
        .json(&json!({"status": "gone"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // A cron check-in item beats the push monitor of that name.
    let check_in = json!({"check_in_id": event_id(), "monitor_slug": "nightly-backup", "status": "ok", "duration": 2.5});
    let p = check_in.to_string();
    let body = format!(
        "{{}}\n{{\"type\":\"check_in\",\"length\":{}}}\n{p}\n",
        p.len()
    );
    let r = s
        .post(
            &format!("/api/7/envelope/?sentry_key={KEY}"),
            &[],
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = s.get("/api/v1/monitors").await;
        let m = list["items"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["name"] == "nightly-backup").cloned())
            .expect("monitor");
        if m["state"] == "UP" || m["state"] == "up" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "check-in did not reach the monitor: {m:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csp_reports_minidumps_legacy_bodies_and_cors() {
    let s = Server::start();
    // A browser's CSP report: key in the query string.
    let report = json!({"csp-report": {
        "document-uri": "https://shop.example/checkout",
        "violated-directive": "script-src 'self'",
        "effective-directive": "script-src",
        "blocked-uri": "https://evil.example/x.js",
        "original-policy": "script-src 'self'"}});
    let r = s
        .post(
            &format!("/api/7/security/?sentry_key={KEY}&sentry_release=web@1"),
            &[("content-type", "application/csp-report")],
            report.to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csp = s.issue(7, "Blocked 'script' from 'evil.example'", 1).await;
    assert_eq!(csp["culprit"], "script-src");
    assert_eq!(csp["releases"], json!(["web@1"]));

    // A minidump upload (multipart, as Crashpad and Breakpad send it).
    let form = reqwest::multipart::Form::new()
        .text(
            "sentry",
            json!({"release": "native@2", "tags": {"os": "linux"}}).to_string(),
        )
        .part(
            "upload_file_minidump",
            reqwest::multipart::Part::bytes(b"MDMP\x93\xa7fake-dump".to_vec())
                .file_name("crash.dmp"),
        );
    let r = s
        .http
        .post(s.run.url(&format!("/api/7/minidump/?sentry_key={KEY}")))
        .multipart(form)
        .send()
        .await
        .expect("minidump");
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.text().await.expect("text");
    assert_eq!(id.len(), 36, "hyphenated event id: {id}");
    let dump = s.issue(7, "Minidump", 1).await;
    assert_eq!(dump["level"], "fatal");
    let e = s.event(&id).await;
    assert_eq!(e["attachments"][0]["filename"], "crash.dmp");
    assert_eq!(e["attachments"][0]["attachment_type"], "event.minidump");
    let idx = e["attachments"][0]["index"].as_u64().expect("index");
    let bytes = s
        .http
        .get(s.run.url(&format!("/api/v1/events/{id}/attachments/{idx}")))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&bytes[..], b"MDMP\x93\xa7fake-dump");

    // Legacy store body: base64(zlib(JSON)), auth in the header, duplicate slashes in the path.
    use base64::Engine;
    let legacy = json!({"event_id": event_id(), "message": "legacy body 42", "level": 30});
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(legacy.to_string().as_bytes()).expect("w");
    let b64 = base64::engine::general_purpose::STANDARD.encode(z.finish().expect("zlib"));
    let r = s
        .post(
            "/api//7//store/",
            &[(
                "x-sentry-auth",
                &format!("Sentry sentry_version=6, sentry_key={KEY}"),
            )],
            b64.into_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["id"], legacy["event_id"]);
    let l = s.issue(7, "legacy body 42", 1).await;
    assert_eq!(l["level"], "warning");
    // `/api/store/`: the project comes from the key.
    let r = s
        .post(
            &format!("/api/store/?sentry_key={KEY}"),
            &[],
            json!({"message": "no project in path"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    s.issue(7, "no project in path", 1).await;

    // CORS preflight and headers for browser SDKs.
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, s.run.url("/api/7/envelope/"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("options");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let allow = r.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii");
    assert!(allow.contains("x-sentry-auth") && allow.contains("content-type"));
    let r = s
        .send_event(7, KEY, &exception_event("CorsError", "x"))
        .await;
    assert!(
        r.headers()["access-control-expose-headers"]
            .to_str()
            .expect("ascii")
            .contains("x-sentry-rate-limits")
    );
    // The issue API needs a credential; ingest does not use it.
    let r = s
        .http
        .get(s.run.url("/api/v1/projects/7/issues"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
