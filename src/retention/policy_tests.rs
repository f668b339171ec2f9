//! The retention decision: which versions a rule removes, and the
//! bisection that finds the young versions with few publish-time reads.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::policy::{Bisect, Listing, Policy};
use crate::crd::{RetentionAction, RetentionOrigin, RetentionRule, RetentionSpec};

fn rule(
    packages: &str,
    newest: Option<u32>,
    younger: Option<&str>,
    keep: Option<&str>,
) -> RetentionRule {
    RetentionRule {
        packages: packages.into(),
        keep_newest: newest,
        keep_younger_than: younger.map(str::to_string),
        keep_versions: keep.map(str::to_string),
    }
}

fn policy(rules: Vec<RetentionRule>) -> Result<Policy, String> {
    Policy::from_spec(&RetentionSpec {
        rules,
        action: RetentionAction::default(),
        origin: RetentionOrigin::default(),
        dry_run: false,
        interval: None,
    })
}

/// Versions 1.0.29 (newest) down to 1.0.0, the first `younger` of them young.
fn listing(n: usize, younger: usize, default: Option<&str>) -> Listing {
    Listing {
        package: "app".into(),
        default_display: default.map(str::to_string),
        newest_first: (0..n).rev().map(|i| format!("1.0.{i}")).collect(),
        younger,
    }
}

#[test]
fn keep_five_newest_or_younger_removes_only_what_both_allow() {
    let p = policy(vec![rule("*", Some(5), Some("168h"), None)]).unwrap();
    let r = p.rule_for("app").unwrap();
    // 30 versions, the newest 8 younger than 7 days: 22 go, the oldest ones.
    let doomed = r.doomed(&listing(30, 8, None));
    assert_eq!(doomed.len(), 22);
    assert_eq!(doomed.first().unwrap(), "1.0.21");
    assert_eq!(doomed.last().unwrap(), "1.0.0");
    // Only 3 young: the newest 5 are kept all the same.
    assert_eq!(r.doomed(&listing(30, 3, None)).len(), 25);
    // No more versions than keepNewest: nothing goes.
    assert!(r.doomed(&listing(5, 0, None)).is_empty());
}

#[test]
fn the_default_display_version_and_the_keep_pattern_are_never_removed() {
    let p = policy(vec![rule("*", Some(2), None, Some(r"^1\.0\.1\d$"))]).unwrap();
    let r = p.rule_for("app").unwrap();
    let doomed = r.doomed(&listing(30, 0, Some("1.0.3")));
    assert!(
        !doomed.contains(&"1.0.3".to_string()),
        "default display version"
    );
    assert!(
        doomed
            .iter()
            .all(|v| !v.starts_with("1.0.1") || v == "1.0.1")
    );
    // 30 - 2 newest - 10 matching 1.0.1x - the default = 17.
    assert_eq!(doomed.len(), 17);
}

#[test]
fn the_first_matching_rule_applies_and_unnamed_packages_are_untouched() {
    let p = policy(vec![
        rule("ci-*", Some(1), None, None),
        rule("*-lib", Some(10), None, None),
    ])
    .unwrap();
    assert_eq!(p.rule_for("ci-lib").unwrap().keep_newest, 1);
    assert_eq!(p.rule_for("core-lib").unwrap().keep_newest, 10);
    assert!(p.rule_for("other").is_none());
}

#[test]
fn age_only_rules_keep_nothing_by_count() {
    let p = policy(vec![rule("*", None, Some("24h"), None)]).unwrap();
    let r = p.rule_for("x").unwrap();
    assert_eq!(r.keep_newest, 0);
    assert_eq!(r.doomed(&listing(4, 1, None)), ["1.0.2", "1.0.1", "1.0.0"]);
    assert!(r.needs_ages(1));
    let count_only = policy(vec![rule("*", Some(3), None, None)]).unwrap();
    assert!(!count_only.rules[0].needs_ages(100));
}

#[test]
fn age_is_measured_from_now() {
    let p = policy(vec![rule("*", None, Some("168h"), None)]).unwrap();
    let r = &p.rules[0];
    let now: DateTime<Utc> = Utc.timestamp_opt(1_000_000_000, 0).unwrap();
    let days = |d: i64| now - chrono::Duration::days(d);
    assert!(r.is_young(days(6), now));
    assert!(!r.is_young(days(8), now));
    assert!(
        r.is_young(now + chrono::Duration::hours(1), now),
        "published 'later' than now: young"
    );
    let no_age = policy(vec![rule("*", Some(1), None, None)]).unwrap();
    assert!(!no_age.rules[0].is_young(now, now));
}

#[test]
fn bad_fields_are_named_in_the_error() {
    let e = policy(vec![rule("[", Some(1), None, None)]).unwrap_err();
    assert!(e.starts_with("spec.retention.rules[0].packages:"), "{e}");
    let e = policy(vec![
        rule("*", Some(1), None, None),
        rule("*", Some(1), None, Some("(")),
    ])
    .unwrap_err();
    assert!(
        e.starts_with("spec.retention.rules[1].keepVersions:"),
        "{e}"
    );
    let e = policy(vec![rule("*", None, Some("7d"), None)]).unwrap_err();
    assert!(
        e.starts_with("spec.retention.rules[0].keepYoungerThan:"),
        "{e}"
    );
    let e = policy(vec![rule("*", None, None, None)]).unwrap_err();
    assert!(e.contains("set keepNewest, keepYoungerThan or both"), "{e}");
    let p = policy(vec![rule("*", Some(1), None, None)]).unwrap();
    assert_eq!(p.interval, Duration::from_secs(86_400), "daily by default");
}

fn bisect(range: std::ops::Range<usize>, boundary: usize) -> (usize, usize) {
    let mut b = Bisect::new(range);
    let mut probes = 0;
    while let Some(i) = b.next() {
        probes += 1;
        b.answer(i, i >= boundary);
    }
    (b.lo, probes)
}

#[test]
fn bisection_finds_the_boundary_with_few_probes() {
    for boundary in [0usize, 1, 7, 29, 30] {
        let (found, probes) = bisect(0..30, boundary);
        assert_eq!(found, boundary);
        assert!(probes <= 5, "{probes} probes for 30 versions");
    }
    assert_eq!(bisect(5..30, 2).0, 5, "the search starts after keepNewest");
    assert_eq!(bisect(7..7, 0), (7, 0), "an empty range needs no probe");
    assert_eq!(bisect(0..1000, 400).1, 10);
}
