//! The kube-apiserver audit log (written because up.sh runs with
//! TESTENV_AUDIT_LOG=1): one JSON line per write request, no-op patches
//! included, which a watch could not see. Read incrementally, so each phase
//! gets exactly the writes made while it ran.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// User-Agent of the benchmark's own client, so its writes are told apart
/// from the operator's (both use the admin kubeconfig; kube-rs sends no
/// User-Agent by default).
pub const BENCH_USER_AGENT: &str = "codeartifact-bench/scale";

/// Who made a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Actor {
    /// The operator under test.
    Operator,
    /// This benchmark (creates and deletes) or kubectl (the CRD).
    Bench,
    /// kube-controller-manager: garbage collection and namespace deletion.
    ControllerManager,
    /// kube-apiserver's own bookkeeping (leases, bootstrap objects).
    ApiServer,
}

/// One write request as the audit log records it.
#[derive(Clone, Debug)]
pub struct Write {
    /// Who sent it.
    pub actor: Actor,
    /// create, update, patch, delete, deletecollection.
    pub verb: String,
    /// `resource` or `resource/subresource`, e.g. `pypirepositories/status`.
    pub resource: String,
    /// HTTP status of the answer.
    pub code: u16,
    /// When kube-apiserver received it.
    pub at: DateTime<Utc>,
}

/// The log file and how far it has been read.
pub struct AuditLog {
    path: PathBuf,
    offset: u64,
    /// Writes read but not yet taken by a phase.
    pending: Vec<Write>,
}

impl AuditLog {
    /// Opens `path`, skipping everything written so far (control plane bootstrap).
    pub fn open(path: PathBuf) -> Result<Self> {
        let offset = std::fs::metadata(&path)
            .with_context(|| {
                format!(
                    "no audit log at {}; did up.sh run with TESTENV_AUDIT_LOG=1?",
                    path.display()
                )
            })?
            .len();
        Ok(Self {
            path,
            offset,
            pending: Vec::new(),
        })
    }

    /// Reads the complete lines appended since the last call; returns how
    /// many of them the operator made.
    pub fn poll(&mut self) -> Result<usize> {
        let mut file = std::fs::File::open(&self.path)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        // A line still being written is left for the next call.
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        self.offset += complete as u64;
        let before = self.pending.len();
        self.pending
            .extend(text[..complete].lines().filter_map(parse));
        Ok(self.pending[before..]
            .iter()
            .filter(|w| w.actor == Actor::Operator)
            .count())
    }

    /// Every write read since the previous call.
    pub fn take(&mut self) -> Result<Vec<Write>> {
        self.poll()?;
        Ok(std::mem::take(&mut self.pending))
    }
}

fn parse(line: &str) -> Option<Write> {
    let e: Value = serde_json::from_str(line).ok()?;
    if e["stage"] != "ResponseComplete" {
        return None;
    }
    let object = &e["objectRef"];
    let mut resource = object["resource"].as_str()?.to_string();
    if let Some(sub) = object["subresource"].as_str() {
        resource = format!("{resource}/{sub}");
    }
    let at = DateTime::parse_from_rfc3339(e["requestReceivedTimestamp"].as_str()?)
        .ok()?
        .with_timezone(&Utc);
    Some(Write {
        actor: actor(
            e["user"]["username"].as_str().unwrap_or_default(),
            e["userAgent"].as_str().unwrap_or_default(),
        ),
        verb: e["verb"].as_str()?.to_string(),
        resource,
        code: e["responseStatus"]["code"].as_u64().unwrap_or_default() as u16,
        at,
    })
}

fn actor(user: &str, agent: &str) -> Actor {
    match user {
        "system:kube-controller-manager" => Actor::ControllerManager,
        "admin" if agent == BENCH_USER_AGENT || agent.starts_with("kubectl/") => Actor::Bench,
        "admin" => Actor::Operator,
        _ => Actor::ApiServer,
    }
}

/// The operator's writes by resource (`secrets`, `pypirepositories/status`, ...).
pub fn by_resource(writes: &[Write]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for w in writes.iter().filter(|w| w.actor == Actor::Operator) {
        *out.entry(w.resource.clone()).or_default() += 1;
    }
    out
}

/// The operator's writes by `verb resource`, and how many were refused (HTTP >= 400).
pub fn by_verb(writes: &[Write]) -> (BTreeMap<String, u64>, u64) {
    let mut out = BTreeMap::new();
    let mut refused = 0;
    for w in writes.iter().filter(|w| w.actor == Actor::Operator) {
        *out.entry(format!("{} {}", w.verb, w.resource)).or_default() += 1;
        refused += u64::from(w.code >= 400);
    }
    (out, refused)
}
