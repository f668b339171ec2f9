//! kube-apiserver's own counters, read from its /metrics: requests by verb
//! and resource (reads included, which the audit log leaves out) and watch
//! events sent by kind (the fan-out of every write to every watcher). They
//! count every client's requests, the benchmark's own watch and clients too.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use kube::Client;

/// Counter name → value, such as `GET secrets` or `watch events secrets`.
pub type Counters = BTreeMap<String, f64>;

/// Reads the counters now.
pub async fn scrape(client: &Client) -> Result<Counters> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .context("building the /metrics request")?;
    let text = client
        .request_text(request)
        .await
        .context("reading kube-apiserver's /metrics")?;
    Ok(parse(&text))
}

/// The counters in a Prometheus text exposition. Pure.
pub fn parse(text: &str) -> Counters {
    let mut out = Counters::new();
    for line in text.lines() {
        let key = if let Some(rest) = line.strip_prefix("apiserver_request_total{") {
            let labels = labels(rest);
            let resource = match labels.get("subresource").copied().unwrap_or_default() {
                "" => labels
                    .get("resource")
                    .copied()
                    .unwrap_or_default()
                    .to_string(),
                sub => format!(
                    "{}/{sub}",
                    labels.get("resource").copied().unwrap_or_default()
                ),
            };
            if resource.is_empty() {
                continue;
            }
            format!("{} {resource}", labels.get("verb").copied().unwrap_or("?"))
        } else if let Some(rest) = line.strip_prefix("apiserver_watch_events_total{") {
            let labels = labels(rest);
            // `resource` in Kubernetes 1.36 (`kind` in older releases).
            let what = labels.get("resource").or_else(|| labels.get("kind"));
            format!("watch events {}", what.copied().unwrap_or("?"))
        } else {
            continue;
        };
        let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        *out.entry(key).or_default() += value;
    }
    out
}

/// `a="x",b="y"} 3` → {a: x, b: y}.
fn labels(rest: &str) -> BTreeMap<&str, &str> {
    let body = rest.split('}').next().unwrap_or_default();
    body.split("\",")
        .filter_map(|pair| {
            let (k, v) = pair.split_once("=\"")?;
            Some((k, v.trim_end_matches('"')))
        })
        .collect()
}

/// What changed between two readings, whole counts, zeros left out.
pub fn delta(before: &Counters, after: &Counters) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (v - before.get(k).copied().unwrap_or(0.0)).max(0.0) as u64,
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}
