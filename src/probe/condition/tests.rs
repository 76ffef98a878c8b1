//! Conditions as Gatus users write them.

use super::*;

fn eval(cond: &str, obs: &Observation) -> ConditionResult {
    Condition::parse(cond)
        .unwrap_or_else(|e| panic!("{cond}: {e}"))
        .evaluate(obs, &mut BodyCache::default())
}

fn http(status: u16, ms: u64, body: &str) -> Observation {
    Observation {
        status: Some(status),
        response_time_ms: ms,
        body: Some(body.to_string()),
        connected: true,
        ..Default::default()
    }
}

#[test]
fn status_and_latency() {
    let o = http(503, 120, "");
    let r = eval("[STATUS] == 200", &o);
    assert!(!r.ok);
    assert_eq!(r.shown, "[STATUS] (503) == 200");
    assert!(eval("[STATUS] == any(200, 503)", &o).ok);
    assert!(!eval("[STATUS] == any(200, 301)", &o).ok);
    assert!(eval("[STATUS] != 200", &o).ok);
    assert!(eval("[RESPONSE_TIME] < 300", &o).ok);
    assert!(!eval("[RESPONSE_TIME] < 100", &o).ok);
    assert!(eval("[STATUS] >= 500", &o).ok);
}

#[test]
fn body_paths_len_has_and_patterns() {
    let o = http(
        200,
        5,
        r#"{"data":{"status":"UP","items":[{"id":7},{"id":8}]},"ok":true}"#,
    );
    let r = eval("[BODY].data.status == UP", &o);
    assert!(r.ok);
    assert_eq!(r.shown, "[BODY].data.status (UP) == UP");
    assert!(eval("len([BODY].data.items) > 0", &o).ok);
    assert!(eval("len([BODY].data.items) == 2", &o).ok);
    assert!(eval("[BODY].data.items[1].id == 8", &o).ok);
    assert!(eval("[BODY].ok == true", &o).ok);
    assert!(eval("has([BODY].data) == true", &o).ok);
    assert!(eval("has([BODY].errors) == false", &o).ok);
    assert!(eval("[BODY] == pat(*\"UP\"*)", &o).ok);
    assert!(!eval("[BODY] == pat(*DOWN*)", &o).ok);
    assert!(!eval("[BODY].missing == UP", &o).ok);
    assert!(!eval("[BODY].data.status != UP", &o).ok);
}

#[test]
fn certificates_connectivity_dns_ip() {
    let o = Observation {
        certificate_expiration_ms: Some(48 * 3_600_000),
        connected: true,
        dns_rcode: Some("NOERROR".into()),
        ip: Some("127.0.0.1".into()),
        ..Default::default()
    };
    assert!(!eval("[CERTIFICATE_EXPIRATION] > 72h", &o).ok);
    assert!(eval("[CERTIFICATE_EXPIRATION] > 24h", &o).ok);
    assert!(eval("[CONNECTED] == true", &o).ok);
    assert!(eval("[DNS_RCODE] == NOERROR", &o).ok);
    assert!(eval("[IP] == 127.0.0.1", &o).ok);
    assert!(eval("[IP] == pat(127.*)", &o).ok);
    let r = eval("[CERTIFICATE_EXPIRATION] > 72h", &Observation::default());
    assert!(!r.ok, "missing values fail");
    assert_eq!(r.shown, "[CERTIFICATE_EXPIRATION] (missing) > 72h");
}

#[test]
fn bad_conditions_are_rejected_with_reasons() {
    for (c, why) in [
        ("[STATUS] 200", "operator"),
        ("[STATUSES] == 200", "unknown placeholder"),
        ("[STATUS].x == 200", "only [BODY] takes a path"),
        ("[STATUS] < pat(2*)", "only work with =="),
        ("200 == 200", "placeholder"),
        ("[BODY].a[x] == 1", "array index"),
        ("== 200", "both sides"),
        ("[STATUS] === 200", "unexpected `=` after `==`"),
        ("[STATUS] =< 200", "unexpected operator before `<`"),
        ("[STATUS] !== 200", "unexpected `=` after `!=`"),
    ] {
        let e = Condition::parse(c).expect_err(c);
        assert!(e.contains(why), "{c}: {e}");
    }
}

#[test]
fn globs() {
    assert!(glob("*ok*", "all ok here"));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "abbc"));
    assert!(glob("*", ""));
    assert!(!glob("x*", "yx"));
}
