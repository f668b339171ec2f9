//! Server-side checks of member constraints (lengths, patterns, ranges, enums) from the model.
//!
//! The SDKs check only that required members are present, so every constraint is enforced here.
//! Each string constraint is declared once as a [`Shape`] (the model's length range and
//! pattern, checked with the `regex` crate, whose Unicode classes mean what AWS's Java regexes
//! mean); the error message quotes that same pattern. Messages follow AWS's wording and always
//! name the wire field.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

use crate::error::ApiError;

/// Package formats known to the model.
pub const FORMATS: &[&str] = &[
    "npm", "pypi", "maven", "nuget", "generic", "ruby", "swift", "cargo",
];
/// Package version statuses known to the model.
pub const STATUSES: &[&str] = &[
    "Published",
    "Unfinished",
    "Unlisted",
    "Archived",
    "Disposed",
    "Deleted",
];

fn failed(field: &str, value: &str, constraint: &str) -> ApiError {
    ApiError::field(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    ))
}

/// A string member's declared constraint, as the service model states it: length range and
/// (unanchored, Java-style) pattern. The check and the error message both come from here.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub min: usize,
    pub max: usize,
    pub pattern: &'static str,
}

/// `DomainName`.
pub const DOMAIN_NAME: Shape = Shape::new(2, 50, r"[a-z][a-z0-9\-]{0,48}[a-z0-9]");
/// `RepositoryName`; the model also uses it for `repository-prefix`.
pub const REPOSITORY_NAME: Shape = Shape::new(2, 100, r"[A-Za-z0-9][A-Za-z0-9._\-]{1,99}");
/// `AccountId`.
pub const ACCOUNT_ID: Shape = Shape::new(12, 12, "[0-9]{12}");
/// `ExternalConnectionName`.
pub const EXTERNAL_CONNECTION_NAME: Shape =
    Shape::new(2, 100, r"[A-Za-z0-9][A-Za-z0-9._\-:]{1,99}");
/// `Description`.
pub const DESCRIPTION: Shape = Shape::new(0, 1000, r"\P{C}*");
/// `PackageName`, `PackageNamespace`, `PackageVersion`.
pub const PACKAGE_PART: Shape = Shape::new(1, 255, r"[^#/\s]+");
/// `PolicyDocument`.
pub const POLICY_DOCUMENT: Shape = Shape::new(1, 7168, r"[\P{C}\s]+");
/// `TagKey`.
pub const TAG_KEY: Shape = Shape::new(1, 128, r"\P{C}+");
/// `TagValue`.
pub const TAG_VALUE: Shape = Shape::new(0, 256, r"\P{C}*");

/// Compiled, anchored patterns, one per distinct pattern text.
static COMPILED: LazyLock<Mutex<HashMap<&'static str, Regex>>> = LazyLock::new(Mutex::default);

fn compiled(pattern: &'static str) -> Regex {
    let mut cache = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(pattern)
        // Smithy patterns are not anchored; AWS matches the whole value, so anchor here.
        .or_insert_with(|| Regex::new(&format!("^(?:{pattern})$")).expect("declared pattern"))
        .clone()
}

impl Shape {
    /// A constraint of `min..=max` characters matching `pattern`.
    pub const fn new(min: usize, max: usize, pattern: &'static str) -> Self {
        Shape { min, max, pattern }
    }

    /// Check `value` of the wire field `field`.
    pub fn check(&self, field: &str, value: &str) -> Result<(), ApiError> {
        let n = value.chars().count();
        if n < self.min {
            return Err(failed(
                field,
                value,
                &format!(
                    "Member must have length greater than or equal to {}",
                    self.min
                ),
            ));
        }
        if n > self.max {
            return Err(failed(
                field,
                value,
                &format!("Member must have length less than or equal to {}", self.max),
            ));
        }
        if !compiled(self.pattern).is_match(value) {
            return Err(failed(
                field,
                value,
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    self.pattern
                ),
            ));
        }
        Ok(())
    }
}

/// A required member that is absent.
pub fn missing(field: &str) -> ApiError {
    ApiError::field(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

/// `DomainName`.
pub fn domain_name(field: &str, v: &str) -> Result<(), ApiError> {
    DOMAIN_NAME.check(field, v)
}

/// `RepositoryName`.
pub fn repository_name(field: &str, v: &str) -> Result<(), ApiError> {
    REPOSITORY_NAME.check(field, v)
}

/// `repository-prefix`: the model types it as `RepositoryName`.
pub fn repository_prefix(field: &str, v: &str) -> Result<(), ApiError> {
    REPOSITORY_NAME.check(field, v)
}

/// `AccountId`: 12 digits.
pub fn account_id(field: &str, v: &str) -> Result<(), ApiError> {
    ACCOUNT_ID.check(field, v)
}

/// `ExternalConnectionName`.
pub fn external_connection_name(field: &str, v: &str) -> Result<(), ApiError> {
    EXTERNAL_CONNECTION_NAME.check(field, v)
}

/// Strings of non-whitespace (`\S+`) within a length range: ARNs, tokens, revisions.
pub fn non_space(field: &str, v: &str, max: usize) -> Result<(), ApiError> {
    Shape::new(1, max, r"\S+").check(field, v)
}

/// `Description`.
pub fn description(field: &str, v: &str) -> Result<(), ApiError> {
    DESCRIPTION.check(field, v)
}

/// Package names, namespaces and versions.
pub fn package_part(field: &str, v: &str) -> Result<(), ApiError> {
    PACKAGE_PART.check(field, v)
}

/// `PolicyDocument`.
pub fn policy_document(field: &str, v: &str) -> Result<(), ApiError> {
    POLICY_DOCUMENT.check(field, v)
}

/// `TagKey`.
pub fn tag_key(field: &str, v: &str) -> Result<(), ApiError> {
    TAG_KEY.check(field, v)
}

/// `TagValue`.
pub fn tag_value(field: &str, v: &str) -> Result<(), ApiError> {
    TAG_VALUE.check(field, v)
}

/// A value out of a closed set.
pub fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(failed(
            field,
            v,
            &format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ),
        ))
    }
}

/// An integer query/body member within a range.
pub fn int_range(field: &str, raw: &str, min: i64, max: i64) -> Result<i64, ApiError> {
    let n: i64 = raw.parse().map_err(|_| {
        ApiError::cannot_parse(format!("Value '{raw}' at '{field}' is not an integer"))
    })?;
    if n < min {
        return Err(failed(
            field,
            raw,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(failed(
            field,
            raw,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(n)
}

/// The default token lifetime when `duration` is absent or 0 (12 hours).
pub const DEFAULT_TOKEN_SECONDS: u64 = 43_200;

/// `duration` of GetAuthorizationToken: absent or 0 means 12 h; otherwise 900..=43200.
pub fn token_duration(raw: Option<&str>) -> Result<u64, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_TOKEN_SECONDS);
    };
    let n = int_range("duration", raw, 0, 43_200)?;
    match n {
        0 => Ok(DEFAULT_TOKEN_SECONDS),
        900.. => Ok(n as u64),
        _ => Err(failed(
            "duration",
            raw,
            "Member must be 0 or have value greater than or equal to 900",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(r: Result<(), ApiError>) -> bool {
        r.is_ok()
    }

    #[test]
    fn domain_names_follow_the_model_pattern() {
        assert!(ok(domain_name("domain", "my-domain")));
        assert!(ok(domain_name("domain", "a1")));
        assert!(!ok(domain_name("domain", "a")));
        assert!(!ok(domain_name("domain", "my_domain")));
        assert!(!ok(domain_name("domain", "1domain")));
        assert!(!ok(domain_name("domain", "domain-")));
        assert!(!ok(domain_name("domain", "Domain")));
        assert!(!ok(domain_name("domain", &"a".repeat(51))));
        let err = domain_name("domain", "Bad_Name!").unwrap_err().to_string();
        assert!(
            err.contains("'domain'") && err.contains("Bad_Name!"),
            "{err}"
        );
    }

    #[test]
    fn repository_and_other_names() {
        assert!(ok(repository_name("repository", "My_Repo.1-x")));
        assert!(!ok(repository_name("repository", "-repo")));
        assert!(!ok(repository_name("repository", "r")));
        assert!(!ok(repository_name("repository", "re po")));
        assert!(ok(account_id("domain-owner", "111122223333")));
        assert!(!ok(account_id("domain-owner", "11112222333a")));
        assert!(ok(external_connection_name(
            "external-connection",
            "public:pypi"
        )));
        assert!(!ok(external_connection_name(
            "external-connection",
            ":pypi"
        )));
        assert!(!ok(package_part("package", "a/b")));
        assert!(!ok(description("description", "a\u{7}b")));
        assert!(ok(policy_document("policyDocument", "{\n\t\"a\": 1}")));
        assert!(!ok(tag_key("tags.member.key", "")));
        assert!(ok(tag_value("tags.member.value", "")));
        assert!(ok(one_of("format", "pypi", FORMATS)));
        assert!(!ok(one_of("format", "PyPI", FORMATS)));
    }

    #[test]
    fn unicode_other_classes_refuse_format_characters() {
        // U+200B ZERO WIDTH SPACE is a format character (Cf): `\P{C}` refuses it, as AWS does.
        assert!(!ok(description("description", "a\u{200b}b")));
        assert!(!ok(tag_value("tags.member.value", "x\u{200b}")));
        assert!(!ok(tag_key("tags.member.key", "\u{feff}k")));
        assert!(ok(description(
            "description",
            "caf\u{e9} \u{1f40d} na\u{ef}ve"
        )));
        assert!(ok(policy_document("policyDocument", "{\"a\":\r\n 1}")));
        assert!(!ok(policy_document("policyDocument", "{\"a\":\u{200b}1}")));
    }

    #[test]
    fn messages_quote_the_pattern_that_was_checked() {
        for (check, bad, shape) in [
            (
                repository_prefix as fn(&str, &str) -> Result<(), ApiError>,
                "-x",
                REPOSITORY_NAME,
            ),
            (domain_name, "Bad_Name!", DOMAIN_NAME),
            (description, "a\u{200b}", DESCRIPTION),
            (package_part, "a/b", PACKAGE_PART),
        ] {
            let err = check("field", bad).unwrap_err().to_string();
            assert!(
                err.ends_with(&format!(
                    "Member must satisfy regular expression pattern: {}",
                    shape.pattern
                )),
                "{err}"
            );
            assert!(!compiled(shape.pattern).is_match(bad));
        }
        // The prefix follows the model's RepositoryName: a prefix that passed the old
        // hand-written check while the message claimed this pattern is now refused.
        assert!(!ok(repository_prefix("repository-prefix", "-x")));
        assert!(!ok(repository_prefix("repository-prefix", "u")));
        assert!(ok(repository_prefix("repository-prefix", "u0")));
    }

    #[test]
    fn token_duration_rules() {
        assert_eq!(token_duration(None).unwrap(), 43_200);
        assert_eq!(token_duration(Some("0")).unwrap(), 43_200);
        assert_eq!(token_duration(Some("900")).unwrap(), 900);
        assert_eq!(token_duration(Some("43200")).unwrap(), 43_200);
        assert!(token_duration(Some("899")).is_err());
        assert!(token_duration(Some("1")).is_err());
        assert!(token_duration(Some("43201")).is_err());
        assert!(token_duration(Some("-5")).is_err());
        assert!(token_duration(Some("abc")).is_err());
        assert_eq!(int_range("max-results", "1000", 1, 1000).unwrap(), 1000);
        assert!(int_range("max-results", "0", 1, 1000).is_err());
    }
}
