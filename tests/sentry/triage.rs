//! Triage through the API: the issue list's level, environment and release filters (with the
//! cursor), the facets the filters can take, bulk status changes (all or nothing, editors
//! only), and an issue's event navigation (newest, newer, older).

use super::*;

fn tagged(ty: &str, level: &str, environment: &str, release: &str) -> Value {
    let mut e = exception_event(ty, "triage");
    e["level"] = json!(level);
    e["environment"] = json!(environment);
    e["release"] = json!(release);
    e
}

impl Server {
    async fn status_of(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(self.run.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn bulk(&self, token: &str, project: u64, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .patch(self.run.url(&format!("/api/v1/projects/{project}/issues")))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("patch");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn ids(v: &Value) -> Vec<u64> {
    let mut out: Vec<u64> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_u64())
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_filter_by_level_environment_release_and_triage_in_bulk() {
    let s = Server::start();
    for e in [
        tagged("AlphaError", "error", "prod", "r1"),
        tagged("BetaError", "warning", "staging", "r2"),
        tagged("GammaError", "error", "staging", "r1"),
    ] {
        assert_eq!(s.send_event(7, KEY, &e).await.status(), StatusCode::OK);
    }
    let other = tagged("DeltaError", "error", "prod", "r1");
    assert_eq!(
        s.send_event(8, LIMITED_KEY, &other).await.status(),
        StatusCode::OK
    );
    let a = s.issue(7, "AlphaError", 1).await["id"]
        .as_u64()
        .expect("id");
    let b = s.issue(7, "BetaError", 1).await["id"].as_u64().expect("id");
    let c = s.issue(7, "GammaError", 1).await["id"]
        .as_u64()
        .expect("id");
    let d = s.issue(8, "DeltaError", 1).await["id"]
        .as_u64()
        .expect("id");
    let sorted = |mut v: Vec<u64>| {
        v.sort_unstable();
        v
    };

    // Filters, alone and combined, exact and with the level's aliases.
    let list = "/api/v1/projects/7/issues";
    assert_eq!(
        ids(&s.get(&format!("{list}?level=error")).await),
        sorted(vec![a, c])
    );
    assert_eq!(ids(&s.get(&format!("{list}?level=WARN")).await), vec![b]);
    assert_eq!(
        ids(&s.get(&format!("{list}?environment=staging")).await),
        sorted(vec![b, c])
    );
    assert_eq!(
        ids(&s
            .get(&format!("{list}?release=r1&environment=prod&level=error"))
            .await),
        vec![a]
    );
    assert!(ids(&s.get(&format!("{list}?environment=pro")).await).is_empty());
    assert_eq!(
        ids(&s.get(&format!("{list}?release=")).await).len(),
        3,
        "empty: no filter"
    );
    // With the cursor: one page at a time keeps the filter.
    let first = s
        .get(&format!("{list}?level=error&sort=first_seen&limit=1"))
        .await;
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = s
        .get(&format!(
            "{list}?level=error&sort=first_seen&limit=1&cursor={cursor}"
        ))
        .await;
    assert!(second["next_cursor"].is_null(), "{second}");
    assert_eq!(
        sorted([ids(&first), ids(&second)].concat()),
        sorted(vec![a, c])
    );
    // Wrong values are refused, saying what is allowed.
    let (status, err) = s.status_of(&format!("{list}?level=loud")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "invalid_input");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("level must be"),
        "{err}"
    );
    let long = "x".repeat(201);
    let (status, _) = s.status_of(&format!("{list}?release={long}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // What the filters can take.
    let facets = s.get("/api/v1/projects/7/issues/facets").await;
    assert_eq!(
        facets,
        json!({"levels": ["error", "warning"], "environments": ["prod", "staging"], "releases": ["r1", "r2"]})
    );
    let (status, _) = s.status_of("/api/v1/projects/99/issues/facets").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bulk: viewers may not; another project's issue refuses the whole change.
    let viewer: Value = s
        .http
        .post(s.run.url("/api/v1/tokens"))
        .bearer_auth(&s.token)
        .json(&json!({"name": "reader", "role": "viewer"}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let viewer = viewer["token"].as_str().expect("viewer token").to_string();
    let (status, _) = s
        .bulk(&viewer, 7, json!({"ids": [a, c], "status": "resolved"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, err) = s
        .bulk(
            &s.token,
            7,
            json!({"ids": [a, d, 999_999], "status": "resolved"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let message = err["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(&format!("{d}, 999999")), "{err}");
    assert_eq!(
        s.issue(7, "AlphaError", 1).await["status"],
        "unresolved",
        "nothing changed"
    );
    for body in [
        json!({"ids": [], "status": "resolved"}),
        json!({"ids": (0..1001).collect::<Vec<u64>>(), "status": "resolved"}),
        json!({"ids": [a], "status": "closed"}),
    ] {
        let (status, _) = s.bulk(&s.token, 7, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    // Resolve two (one named twice): both answered, both stored so.
    let (status, done) = s
        .bulk(&s.token, 7, json!({"ids": [a, c, a], "status": "resolved"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(ids(&done), sorted(vec![a, c]));
    assert!(
        done["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["status"] == "resolved")
    );
    assert_eq!(
        ids(&s.get(list).await),
        vec![b],
        "only the other one is open"
    );
    assert_eq!(
        ids(&s.get(&format!("{list}?status=resolved")).await),
        sorted(vec![a, c])
    );
    let (status, _) = s
        .bulk(&s.token, 7, json!({"ids": [b], "status": "ignored"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ids(&s.get(&format!("{list}?status=ignored")).await),
        vec![b]
    );
    // As through the single PATCH: a bulk-resolved issue that gets an event is a regression.
    assert_eq!(
        s.send_event(7, KEY, &tagged("AlphaError", "error", "prod", "r2"))
            .await
            .status(),
        StatusCode::OK
    );
    let back = s.issue(7, "AlphaError", 2).await;
    assert_eq!(
        (back["status"].clone(), back["regressed"].clone()),
        (json!("unresolved"), json!(true))
    );
    let (status, done) = s
        .bulk(&s.token, 7, json!({"ids": [c], "status": "unresolved"}))
        .await;
    assert_eq!(
        (status, done["items"][0]["status"].clone()),
        (StatusCode::OK, json!("unresolved"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issues_events_are_walked_newest_newer_older() {
    let s = Server::start();
    let mut sent = Vec::new();
    for _ in 0..3 {
        let e = exception_event("WalkError", "three times");
        sent.push(e["event_id"].as_str().expect("id").to_string());
        assert_eq!(s.send_event(7, KEY, &e).await.status(), StatusCode::OK);
        // Distinct receive times, so the order is the sending order.
        s.issue(7, "WalkError", sent.len() as u64).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let id = s.issue(7, "WalkError", 3).await["id"].as_u64().expect("id");
    let nav = |e: &str| format!("/api/v1/issues/{id}/events/{e}");
    let newest = s.get(&nav(&sent[2])).await;
    assert_eq!(newest["event"]["event_id"], sent[2].as_str());
    assert_eq!(newest["newest"], sent[2].as_str());
    assert!(newest["newer"].is_null(), "{newest}");
    assert_eq!(newest["older"], sent[1].as_str());
    let middle = s.get(&nav(&sent[1])).await;
    assert_eq!(
        (
            middle["newer"].clone(),
            middle["older"].clone(),
            middle["newest"].clone()
        ),
        (json!(sent[2]), json!(sent[0]), json!(sent[2]))
    );
    let oldest = s.get(&nav(&sent[0])).await;
    assert!(oldest["older"].is_null(), "{oldest}");
    assert_eq!(oldest["newer"], sent[1].as_str());
    assert_eq!(
        oldest["event"]["event"]["exception"]["values"][0]["type"],
        "WalkError"
    );
    // An event of another issue, or none, is not this issue's.
    let other = exception_event("ElsewhereError", "x");
    let other_id = other["event_id"].as_str().expect("id").to_string();
    assert_eq!(s.send_event(7, KEY, &other).await.status(), StatusCode::OK);
    s.event(&other_id).await;
    for e in [
        other_id.as_str(),
        "0123456789abcdef0123456789abcdef",
        "nope",
    ] {
        let (status, _) = s.status_of(&nav(e)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    }
}
