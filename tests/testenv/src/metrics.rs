//! Reading the operator's `/metrics` page (Prometheus/OpenMetrics text, as
//! prometheus-client writes it) with the prometheus-parse crate.

use prometheus_parse::{Scrape, Value};

/// The sum of every counter, gauge or untyped sample in `text` that matches
/// `selector`: a bare metric name (`codeartifact_operator_reconciles_total`,
/// all label sets) or a name with labels that must all match, as in PromQL
/// (`codeartifact_operator_aws_calls_total{operation="CreateRepository",outcome="success"}`).
/// 0 when nothing matches.
///
/// # Panics
/// If the selector's label part is malformed (a test's own mistake).
pub fn metric_value(text: &str, selector: &str) -> f64 {
    let (name, labels) = parse_selector(selector);
    let Ok(scrape) = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))) else {
        return 0.0;
    };
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .filter_map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            Value::Histogram(_) | Value::Summary(_) => None,
        })
        .sum()
}

/// `name{a="x",b="y"}` into `name` and `[(a, x), (b, y)]`.
fn parse_selector(selector: &str) -> (&str, Vec<(&str, &str)>) {
    let Some((name, rest)) = selector.split_once('{') else {
        return (selector, Vec::new());
    };
    let body = rest
        .strip_suffix('}')
        .unwrap_or_else(|| panic!("selector {selector:?} lacks its closing brace"));
    let labels = body
        .split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or_else(|| {
                panic!("selector {selector:?}: {pair:?} is not label=\"value\"")
            });
            (k.trim(), v.trim().trim_matches('"'))
        })
        .collect();
    (name, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape prometheus-client writes (OpenMetrics text).
    const PAGE: &str = "\
# HELP codeartifact_operator_reconciles Reconciles started.
# TYPE codeartifact_operator_reconciles counter
codeartifact_operator_reconciles_total 7
# HELP codeartifact_operator_aws_calls AWS calls.
# TYPE codeartifact_operator_aws_calls counter
codeartifact_operator_aws_calls_total{operation=\"CreateRepository\",outcome=\"success\"} 3
codeartifact_operator_aws_calls_total{operation=\"CreateRepository\",outcome=\"throttled\"} 2
codeartifact_operator_aws_calls_total{operation=\"CreateDomain\",outcome=\"success\"} 1
# TYPE codeartifact_operator_reconcile_duration_seconds histogram
codeartifact_operator_reconcile_duration_seconds_sum 0.5
codeartifact_operator_reconcile_duration_seconds_count 7
codeartifact_operator_reconcile_duration_seconds_bucket{le=\"0.1\"} 6
codeartifact_operator_reconcile_duration_seconds_bucket{le=\"+Inf\"} 7
# EOF
";

    #[test]
    fn a_bare_name_sums_every_label_set() {
        assert_eq!(
            metric_value(PAGE, "codeartifact_operator_reconciles_total"),
            7.0
        );
        assert_eq!(
            metric_value(PAGE, "codeartifact_operator_aws_calls_total"),
            6.0
        );
        assert_eq!(
            metric_value(
                PAGE,
                "codeartifact_operator_reconcile_duration_seconds_count"
            ),
            7.0
        );
    }

    #[test]
    fn labels_narrow_the_sum() {
        let one = "codeartifact_operator_aws_calls_total{operation=\"CreateRepository\",outcome=\"success\"}";
        assert_eq!(metric_value(PAGE, one), 3.0);
        let some = "codeartifact_operator_aws_calls_total{operation=\"CreateRepository\"}";
        assert_eq!(metric_value(PAGE, some), 5.0);
    }

    #[test]
    fn absent_metrics_and_prefixes_are_zero() {
        assert_eq!(metric_value(PAGE, "codeartifact_operator_reconciles"), 0.0);
        assert_eq!(metric_value(PAGE, "nothing_total"), 0.0);
        assert_eq!(
            metric_value("", "codeartifact_operator_reconciles_total"),
            0.0
        );
    }
}
