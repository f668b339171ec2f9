//! A small IAM policy evaluator: the subset of the policy language the operator's documented
//! policies use, evaluated as AWS does within one account. Pure: no I/O, no clock.
//!
//! Supported: `Version`, `Id`, `Statement` (object or array), `Sid`, `Effect` (`Allow`/`Deny`),
//! `Action` and `Resource` (string or array, `*` and `?` wildcards; actions case-insensitive,
//! resources case-sensitive), `Condition` with `StringEquals`/`StringLike` on the keys in
//! [`CONDITION_KEYS`]. Everything else (`NotAction`, `NotResource`, `Principal`, other operators
//! or keys) is refused as unsupported, so a policy never silently means something else here.

use serde_json::{Map, Value};

/// Condition keys the evaluator knows.
pub const CONDITION_KEYS: &[&str] = &["sts:AWSServiceName"];

/// Why a policy document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not a valid policy document at all.
    #[error("{0}")]
    Malformed(String),
    /// Valid IAM, but outside what the emulator evaluates.
    #[error("unsupported by the emulator's policy evaluator: {0}")]
    Unsupported(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringLike,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    operator: Operator,
    key: String,
    values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Statement {
    effect: Effect,
    actions: Vec<String>,
    resources: Vec<String>,
    conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// One request to authorize: an action (`service:Name`), a resource ARN (or `*`) and the
/// request's condition context.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a [(&'a str, &'a str)],
}

/// The outcome for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A matching `Deny` statement.
    ExplicitDeny,
    /// Nothing allows it.
    ImplicitDeny,
}

fn malformed(message: impl Into<String>) -> PolicyError {
    PolicyError::Malformed(message.into())
}

fn unsupported(message: impl Into<String>) -> PolicyError {
    PolicyError::Unsupported(message.into())
}

/// A string or a non-empty array of strings.
fn strings(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| malformed(format!("{what} must hold strings")))
            })
            .collect(),
        _ => Err(malformed(format!(
            "{what} must be a string or a non-empty array of strings"
        ))),
    }
}

fn parse_conditions(value: &Value) -> Result<Vec<Condition>, PolicyError> {
    let blocks = value
        .as_object()
        .ok_or_else(|| malformed("Condition must be an object"))?;
    let mut out = Vec::new();
    for (op, keys) in blocks {
        let operator = match op.as_str() {
            "StringEquals" => Operator::StringEquals,
            "StringLike" => Operator::StringLike,
            other => return Err(unsupported(format!("condition operator {other}"))),
        };
        let keys = keys
            .as_object()
            .ok_or_else(|| malformed(format!("Condition {op} must be an object")))?;
        for (key, values) in keys {
            // Condition keys are case-insensitive in IAM.
            let known = CONDITION_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key));
            let Some(known) = known else {
                return Err(unsupported(format!(
                    "condition key {key} (supported: {})",
                    CONDITION_KEYS.join(", ")
                )));
            };
            out.push(Condition {
                operator,
                key: (*known).to_string(),
                values: strings(values, &format!("Condition {op} {key}"))?,
            });
        }
    }
    Ok(out)
}

fn parse_statement(value: &Value) -> Result<Statement, PolicyError> {
    let s: &Map<String, Value> = value
        .as_object()
        .ok_or_else(|| malformed("each Statement must be an object"))?;
    for key in s.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Action" | "Resource" | "Condition" => {}
            "Principal" | "NotPrincipal" => {
                return Err(malformed("Policy document should not specify a principal."));
            }
            "NotAction" | "NotResource" => return Err(unsupported(key.clone())),
            other => return Err(malformed(format!("unknown statement element {other}"))),
        }
    }
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(malformed("Effect must be \"Allow\" or \"Deny\"")),
    };
    let actions = strings(
        s.get("Action")
            .ok_or_else(|| malformed("a Statement needs an Action"))?,
        "Action",
    )?;
    for a in &actions {
        if a != "*" && !a.contains(':') {
            return Err(malformed(format!(
                "Action {a} must be service:Name or \"*\""
            )));
        }
    }
    let resources = strings(
        s.get("Resource")
            .ok_or_else(|| malformed("a Statement needs a Resource"))?,
        "Resource",
    )?;
    let conditions = match s.get("Condition") {
        Some(c) => parse_conditions(c)?,
        None => Vec::new(),
    };
    Ok(Statement {
        effect,
        actions,
        resources,
        conditions,
    })
}

/// Parse a policy document.
pub fn parse(document: &str) -> Result<Policy, PolicyError> {
    let value: Value = serde_json::from_str(document)
        .map_err(|_| malformed("The policy is not in the valid JSON format."))?;
    let doc = value
        .as_object()
        .ok_or_else(|| malformed("The policy must be a JSON object."))?;
    for key in doc.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(malformed(format!("unknown policy element {key}")));
        }
    }
    if let Some(v) = doc.get("Version")
        && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
    {
        return Err(malformed(
            "Version must be \"2012-10-17\" or \"2008-10-17\"",
        ));
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().map(parse_statement).collect(),
        Some(single @ Value::Object(_)) => parse_statement(single).map(|s| vec![s]),
        _ => Err(malformed("Statement must be an object or an array")),
    }?;
    Ok(Policy { statements })
}

/// `*` matches any run of characters, `?` exactly one.
pub fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, v) = (fold(pattern), fold(value));
    // Iterative matching with one backtrack point per `*` (linear in practice).
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Condition {
    fn holds(&self, context: &[(&str, &str)]) -> bool {
        // A key absent from the request context fails the condition (no `IfExists` support).
        let Some((_, actual)) = context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.key))
        else {
            return false;
        };
        self.values.iter().any(|want| match self.operator {
            Operator::StringEquals => want == actual,
            Operator::StringLike => wildcard_match(want, actual, false),
        })
    }
}

impl Statement {
    fn applies(&self, req: &Request<'_>) -> bool {
        self.actions
            .iter()
            .any(|a| wildcard_match(a, req.action, true))
            && self
                .resources
                .iter()
                .any(|r| wildcard_match(r, req.resource, false))
            && self.conditions.iter().all(|c| c.holds(req.context))
    }
}

impl Policy {
    /// This policy's own answer: an explicit deny wins over any allow.
    pub fn decide(&self, req: &Request<'_>) -> Decision {
        let matching = self.statements.iter().filter(|s| s.applies(req));
        let mut decision = Decision::ImplicitDeny;
        for s in matching {
            match s.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => decision = Decision::Allow,
            }
        }
        decision
    }
}

/// Which policy refused a request (for AWS's message wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A `Deny` statement in the identity or session policy.
    ExplicitDeny,
    /// No identity policy allows it.
    NoIdentityAllow,
    /// The identity policy allows it, the session policy does not.
    NoSessionAllow,
}

/// The effective permissions of a role session: the role's (identity) policy intersected with
/// the session policy, if one was passed to AssumeRole. Session policies never grant.
pub fn evaluate(
    identity: &Policy,
    session: Option<&Policy>,
    req: &Request<'_>,
) -> Result<(), Refusal> {
    let own = identity.decide(req);
    let scoped = session.map(|s| s.decide(req));
    if own == Decision::ExplicitDeny || scoped == Some(Decision::ExplicitDeny) {
        return Err(Refusal::ExplicitDeny);
    }
    if own != Decision::Allow {
        return Err(Refusal::NoIdentityAllow);
    }
    if scoped.is_some_and(|d| d != Decision::Allow) {
        return Err(Refusal::NoSessionAllow);
    }
    Ok(())
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
