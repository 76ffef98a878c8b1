//! `panoptes farm stats`: the `/count` of every instance of a farm, and their sums, as
//! Cyclops's `cyclops-count -b host -p 9000-9004` prints them.
//!
//! Owns: expanding the instance list, fetching each `/count` (bounded in time and size), the
//! sums and the table. Depends on: `outbound` (the client).

use std::time::Duration;

use panoptes_types::ForwardCount;

use crate::outbound::{ClientOptions, SharedClients};

/// Largest `/count` answer read.
const MAX_BODY: usize = 64 * 1024;
/// Most instances one command asks (a mistyped range cannot start a scan of every port).
const MAX_INSTANCES: usize = 1000;

/// The instances named: each URL as given, or, with `ports` (`9000-9004` or `9000,9002`), each
/// URL's host at each of those ports.
pub fn instances(urls: &[String], ports: Option<&str>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for u in urls {
        let u = u.trim_end_matches('/');
        let url = reqwest::Url::parse(u).map_err(|e| format!("{u}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("{u}: an http:// or https:// URL"));
        }
        match ports {
            None => out.push(u.to_string()),
            Some(spec) => {
                for port in parse_ports(spec)? {
                    let mut at = url.clone();
                    at.set_port(Some(port))
                        .map_err(|_| format!("{u}: cannot take a port"))?;
                    out.push(at.as_str().trim_end_matches('/').to_string());
                }
            }
        }
        if out.len() > MAX_INSTANCES {
            return Err(format!("more than {MAX_INSTANCES} instances"));
        }
    }
    Ok(out)
}

fn parse_ports(spec: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        let bad = || format!("ports: `{part}` is not a port or a range like 9000-9004");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || usize::from(b - a) >= MAX_INSTANCES {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

/// One instance's answer.
pub type Row = (String, Result<ForwardCount, String>);

pub async fn fetch(clients: &SharedClients, urls: &[String]) -> Result<Vec<Row>, String> {
    let client = clients.client(&ClientOptions {
        timeout: Some(Duration::from_secs(10)),
        connect_timeout: Some(Duration::from_secs(3)),
        ..ClientOptions::default()
    })?;
    let asks = urls.iter().map(|u| {
        let client = client.clone();
        async move {
            let got = async {
                let r = client
                    .get(format!("{u}/count"))
                    .send()
                    .await
                    .map_err(|e| crate::outbound::error_chain(&e))?;
                if !r.status().is_success() {
                    return Err(format!("HTTP {}", r.status().as_u16()));
                }
                let body = r.bytes().await.map_err(|e| e.to_string())?;
                if body.len() > MAX_BODY {
                    return Err("answer too large".to_string());
                }
                serde_json::from_slice::<ForwardCount>(&body).map_err(|e| e.to_string())
            }
            .await;
            (u.clone(), got)
        }
    });
    Ok(futures_util::future::join_all(asks).await)
}

/// The table: one line per instance, then the farm's totals. Mean and p90 over the farm are
/// weighted by what each instance processed (the best a sum of summaries allows).
pub fn render(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<40} {:>10} {:>12} {:>12} {:>9} {:>9}\n",
        "instance", "to send", "processed", "ignored", "mean ms", "p90 ms"
    );
    let mut total = ForwardCount::default();
    let (mut wmean, mut wp90, mut weight, mut ok) = (0u128, 0u128, 0u128, 0);
    for (url, r) in rows {
        match r {
            Ok(c) => {
                ok += 1;
                out.push_str(&format!(
                    "{:<40} {:>10} {:>12} {:>12} {:>9} {:>9}\n",
                    url, c.count, c.processed, c.ignored, c.average, c.percentile
                ));
                total.count += c.count;
                total.processed += c.processed;
                total.ignored += c.ignored;
                let w = u128::from(c.processed.max(1));
                wmean += w * u128::from(c.average);
                wp90 += w * u128::from(c.percentile);
                weight += w;
            }
            Err(e) => out.push_str(&format!("{url:<40} unreachable: {e}\n")),
        }
    }
    total.average = wmean.checked_div(weight).unwrap_or(0) as u64;
    total.percentile = wp90.checked_div(weight).unwrap_or(0) as u64;
    let seen = total.processed + total.ignored;
    let pct = if seen == 0 {
        0.0
    } else {
        total.ignored as f64 * 100.0 / seen as f64
    };
    out.push_str(&format!(
        "farm: {ok}/{} instances, to send {}, processed {}, ignored {} ({pct:.1}%), mean {} ms, p90 {} ms\n",
        rows.len(),
        total.count,
        total.processed,
        total.ignored,
        total.average,
        total.percentile
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_expand_and_totals_add_up() {
        let urls = instances(&["http://h".into()], Some("9000-9002,9005")).expect("valid");
        assert_eq!(
            urls,
            [
                "http://h:9000",
                "http://h:9001",
                "http://h:9002",
                "http://h:9005"
            ]
        );
        assert!(instances(&["http://h".into()], Some("9-1")).is_err());
        assert!(instances(&["ftp://h".into()], None).is_err());
        let c = |count, processed, ignored, average, percentile| ForwardCount {
            count,
            average,
            percentile,
            processed,
            ignored,
        };
        let text = render(&[
            ("a".into(), Ok(c(5, 30, 10, 10, 20))),
            ("b".into(), Ok(c(1, 10, 50, 30, 40))),
            ("c".into(), Err("refused".into())),
        ]);
        assert!(
            text.contains("farm: 2/3 instances, to send 6, processed 40, ignored 60 (60.0%), mean 15 ms, p90 25 ms"),
            "{text}"
        );
        assert!(
            text.contains("c                                        unreachable: refused"),
            "{text}"
        );
    }
}
