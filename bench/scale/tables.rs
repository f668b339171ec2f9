//! The per-phase detail tables of the report: AWS calls and operator
//! writes, in total and per PypiRepository.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::audit::{self, Actor};
use crate::phase::PhaseResult;
use crate::report::secs;

/// AWS calls and writes of one phase, in total and per PypiRepository.
pub fn detail(p: &PhaseResult, n: f64) -> String {
    let mut out = format!(
        "{} reconciles ({} failed) in {}.\n\n",
        p.reconciles,
        p.failures,
        secs(p.elapsed)
    );
    out.push_str(&table("AWS operation", &p.aws_calls, n));
    let (by_verb, refused) = audit::by_verb(&p.writes);
    out.push('\n');
    out.push_str(&table("Operator write", &by_verb, n));
    let by_resource = p.operator_writes();
    let _ = writeln!(
        out,
        "\nBy resource: {}. Refused by kube-apiserver (HTTP ≥ 400): {refused}.",
        if by_resource.is_empty() {
            "none".to_string()
        } else {
            by_resource
                .iter()
                .map(|(r, c)| format!("{r} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let others: Vec<String> = [
        (Actor::Bench, "the benchmark"),
        (Actor::ControllerManager, "kube-controller-manager"),
    ]
    .iter()
    .map(|(a, label)| {
        format!(
            "{label} {}",
            p.writes.iter().filter(|w| w.actor == *a).count()
        )
    })
    .collect();
    let _ = writeln!(
        out,
        "Writes by others in the same window: {}.",
        others.join(", ")
    );
    out.push('\n');
    out.push_str(&table(
        "kube-apiserver request or watch event (every client; its /metrics)",
        &p.apiserver,
        n,
    ));
    out
}

fn table(what: &str, rows: &BTreeMap<String, u64>, n: f64) -> String {
    if rows.is_empty() {
        return format!("{what}s: none.\n");
    }
    let mut out = format!("| {what} | Count | per PypiRepository |\n|---|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(out, "| {k} | {v} | {:.3} |", *v as f64 / n);
    }
    let total: u64 = rows.values().sum();
    let _ = writeln!(
        out,
        "| **total** | **{total}** | **{:.3}** |",
        total as f64 / n
    );
    out
}
