//! The official SDKs send unchanged: Python (three encodings), raven, Node, the Rust crate.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_events_are_grouped_with_their_fields_in_every_compression() {
    let s = Server::start();
    let dsn = s.dsn(KEY, 7);
    let mut ids = Vec::new();
    for algo in ["gzip", "br", "none"] {
        let v = run_client(clean_env(
            Command::new(PYTHON).args([PY_SDK, &dsn, algo, algo]),
        ));
        // What went over the wire, as the client's transport sent it: without the `brotli`
        // module the SDK sends gzip when asked for br, and this is where that would show.
        let want = if algo == "none" {
            Value::Null
        } else {
            json!(algo)
        };
        let sent = v["sent"].as_array().expect("the requests sent");
        assert!(!sent.is_empty(), "{algo}: nothing sent: {v}");
        for r in sent {
            assert_eq!(r["content_encoding"], want, "{algo}: {v}");
            assert_eq!(r["decodes"], true, "{algo}: the body is not {algo}: {v}");
            assert_eq!(r["status"], 200, "{algo}: {v}");
        }
        ids.push((algo, v));
    }
    // Three runs of the same code: one issue for the exception, one for the message.
    let exc = s.issue(7, "ZeroDivisionError: division by zero", 3).await;
    assert_eq!(exc["count"], 3, "{exc:#}");
    assert_eq!(exc["users"], 3, "three distinct users: {exc:#}");
    assert_eq!(exc["level"], "error");
    assert_eq!(exc["platform"], "python");
    assert_eq!(exc["status"], "unresolved");
    assert_eq!(exc["releases"], json!(["shop@2.4.1"]));
    assert_eq!(exc["environments"], json!(["production"]));
    assert!(
        exc["culprit"]
            .as_str()
            .unwrap_or("")
            .contains("price_per_unit"),
        "{exc:#}"
    );
    let msg = s.issue(7, "Payment provider timed out", 3).await;
    assert_eq!(msg["level"], "info");
    assert_ne!(msg["id"], exc["id"]);
    for (algo, v) in &ids {
        let id = v["exception"].as_str().expect("exception id");
        let e = s.event(id).await;
        assert_eq!(e["issue_id"], exc["id"], "{algo}");
        let ev = &e["event"];
        assert_eq!(ev["tags"]["run"], *algo);
        assert_eq!(ev["user"]["email"], format!("{algo}@example.com"));
        let frames = ev["exception"]["values"][0]["stacktrace"]["frames"]
            .as_array()
            .expect("frames");
        let last = frames.last().expect("a frame");
        assert_eq!(last["function"], "price_per_unit");
        assert!(
            last["context_line"].as_str().is_some(),
            "context lines kept"
        );
        assert!(
            ev["breadcrumbs"]["values"]
                .as_array()
                .is_some_and(|b| b.iter().any(|c| c["message"] == "cart loaded")),
            "breadcrumbs kept: {ev:#}"
        );
        assert!(ev["contexts"].is_object(), "contexts kept");
        let m = s.event(v["message"].as_str().expect("message id")).await;
        assert_eq!(m["issue_id"], msg["id"]);
    }
    // The issue's events, newest first, paginated.
    let page = s
        .get(&format!("/api/v1/issues/{}/events?limit=2", exc["id"]))
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let next = page["next_cursor"].as_str().expect("a second page");
    let page2 = s
        .get(&format!(
            "/api/v1/issues/{}/events?limit=2&cursor={next}",
            exc["id"]
        ))
        .await;
    assert_eq!(page2["items"].as_array().map(Vec::len), Some(1));
    let detail = s.get(&format!("/api/v1/issues/{}", exc["id"])).await;
    assert_eq!(detail["latest_event"]["event_id"], detail["last_event_id"]);
    let projects = s.get("/api/v1/projects").await["items"].clone();
    assert_eq!(
        projects[0]["dsn"][0],
        format!("http://{KEY}@{}/7", s.run.addr)
    );
    assert_eq!(projects[0]["issues"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raven_legacy_store_events_arrive() {
    let s = Server::start();
    let v = run_client(clean_env(
        Command::new(PYTHON).args([RAVEN, &s.dsn(KEY, 7)]),
    ));
    let exc = s.issue(7, "ZeroDivisionError", 1).await;
    assert_eq!(exc["level"], "error", "numeric level 40 is error");
    assert_eq!(exc["releases"], json!(["billing@0.3.0"]));
    let msg = s.issue(7, "Nightly invoice job took", 1).await;
    assert_eq!(msg["level"], "warning");
    let e = s.event(v["exception"].as_str().expect("id")).await;
    assert_eq!(e["issue_id"], exc["id"]);
    assert_eq!(e["event"]["tags"]["region"], "eu-west-1");
    assert_eq!(e["event"]["user"]["id"], "u-77");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_events_and_sessions_arrive() {
    let s = Server::start();
    let v = run_client(clean_env(
        Command::new("node")
            .current_dir(NODE_DIR)
            .args(["sentry_client.js", &s.dsn(KEY, 7)]),
    ));
    assert_eq!(v["flushed"], true);
    let exc = s
        .issue(7, "TypeError: quantity must be positive, got 0", 1)
        .await;
    assert_eq!(exc["platform"], "node");
    let msg = s.issue(7, "inventory sync lagging by 312 s", 1).await;
    assert_eq!(msg["level"], "warning");
    assert_ne!(exc["id"], msg["id"]);
    let e = s.event(v["exception"].as_str().expect("id")).await;
    assert_eq!(e["event"]["user"]["id"], "u-1842");
    assert_eq!(e["event"]["tags"]["region"], "eu-west-1");
    // The SDK's release-health session is counted per release.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = s.get("/api/v1/ingest/stats").await;
        let p = &stats["projects"][0];
        if p["releases"]["orders@1.9.0"]["sessions.started"].as_u64() == Some(1) {
            assert!(p["items"]["session"].as_u64() >= Some(1), "{p:#}");
            assert_eq!(p["accepted"], 2);
            assert_eq!(p["stored"], 2);
            break;
        }
        assert!(Instant::now() < deadline, "no session counted: {stats:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentry_crate_sends_errors_and_messages() {
    let s = Server::start();
    let dsn = s.dsn(KEY, 7);
    // The crate's transport blocks on flush: run it off the runtime that polls our requests.
    let ids = tokio::task::spawn_blocking(move || {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut opts = sentry::ClientOptions::default();
        opts.dsn = Some(dsn.parse().expect("dsn"));
        opts.release = Some("inventory@3.1.0".into());
        opts.environment = Some("production".into());
        // Fills in the HTTP transport (without it the client drops events silently).
        let opts = sentry::apply_defaults(opts);
        let client = Arc::new(sentry::Client::from(opts));
        let hub = sentry::Hub::new(Some(client.clone()), Arc::new(sentry::Scope::default()));
        hub.configure_scope(|scope| {
            scope.set_tag("region", "eu-west-1");
            scope.set_user(Some(sentry::User {
                id: Some("u-9".into()),
                ..Default::default()
            }));
        });
        let err = "12x".parse::<u32>().expect_err("not a number");
        let mut ev = sentry::event_from_error(&err);
        if let Some(x) = ev.exception.values.last_mut() {
            x.stacktrace = sentry::integrations::backtrace::current_stacktrace();
        }
        let exc = hub.capture_event(ev);
        let msg = hub.capture_message("cache warmup took 41 s", sentry::Level::Warning);
        assert!(client.close(Some(Duration::from_secs(10))), "flushed");
        (exc.simple().to_string(), msg.simple().to_string())
    })
    .await
    .expect("sentry thread");
    let exc = s.issue(7, "ParseIntError", 1).await;
    assert_eq!(exc["releases"], json!(["inventory@3.1.0"]));
    let msg = s.issue(7, "cache warmup took 41 s", 1).await;
    assert_eq!(msg["level"], "warning");
    let e = s.event(&ids.0).await;
    assert_eq!(e["issue_id"], exc["id"]);
    assert_eq!(e["event"]["tags"]["region"], "eu-west-1");
    assert_eq!(s.event(&ids.1).await["issue_id"], msg["id"]);
}
