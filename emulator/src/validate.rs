//! Server-side checks of member constraints (lengths, patterns, ranges, enums) from the model.
//!
//! The SDKs check only that required members are present, so every constraint is enforced here.
//! Messages follow AWS's wording and always name the wire field.

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

fn length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < min {
        return Err(failed(
            field,
            value,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if n > max {
        return Err(failed(
            field,
            value,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn pattern(field: &str, value: &str, ok: bool, regex: &str) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(failed(
            field,
            value,
            &format!("Member must satisfy regular expression pattern: {regex}"),
        ))
    }
}

/// A required member that is absent.
pub fn missing(field: &str) -> ApiError {
    ApiError::field(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

/// `DomainName`: `[a-z][a-z0-9\-]{0,48}[a-z0-9]`.
pub fn domain_name(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 2, 50)?;
    let b = v.as_bytes();
    let ok = b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-';
    pattern(field, v, ok, r"[a-z][a-z0-9\-]{0,48}[a-z0-9]")
}

/// `RepositoryName`: `[A-Za-z0-9][A-Za-z0-9._\-]{1,99}`.
pub fn repository_name(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 2, 100)?;
    let b = v.as_bytes();
    let ok = b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    pattern(field, v, ok, r"[A-Za-z0-9][A-Za-z0-9._\-]{1,99}")
}

/// A repository-name prefix (same alphabet, no minimum beyond one character).
pub fn repository_prefix(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 1, 100)?;
    let ok = v
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    pattern(field, v, ok, r"[A-Za-z0-9][A-Za-z0-9._\-]{1,99}")
}

/// `AccountId`: 12 digits.
pub fn account_id(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 12, 12)?;
    pattern(field, v, v.bytes().all(|c| c.is_ascii_digit()), "[0-9]{12}")
}

/// `ExternalConnectionName`: `[A-Za-z0-9][A-Za-z0-9._\-:]{1,99}`.
pub fn external_connection_name(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 2, 100)?;
    let b = v.as_bytes();
    let ok = b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b':'));
    pattern(field, v, ok, r"[A-Za-z0-9][A-Za-z0-9._\-:]{1,99}")
}

/// Strings of non-whitespace (`\S+`) within a length range: ARNs, tokens, revisions.
pub fn non_space(field: &str, v: &str, max: usize) -> Result<(), ApiError> {
    length(field, v, 1, max)?;
    pattern(field, v, !v.chars().any(char::is_whitespace), r"\S+")
}

/// `Description`: at most 1000 characters without control characters.
pub fn description(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 0, 1000)?;
    pattern(field, v, !v.chars().any(char::is_control), r"\P{C}*")
}

/// Package names, namespaces and versions: `[^#/\s]+`, 1..=255.
pub fn package_part(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 1, 255)?;
    let ok = !v.chars().any(|c| c == '#' || c == '/' || c.is_whitespace());
    pattern(field, v, ok, r"[^#/\s]+")
}

/// `PolicyDocument`: 1..=7168 characters; control characters only as whitespace.
pub fn policy_document(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 1, 7168)?;
    let ok = v.chars().all(|c| !c.is_control() || c.is_whitespace());
    pattern(field, v, ok, r"[\P{C}\s]+")
}

/// `TagKey` (1..=128, no control characters).
pub fn tag_key(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 1, 128)?;
    pattern(field, v, !v.chars().any(char::is_control), r"\P{C}+")
}

/// `TagValue` (0..=256, no control characters).
pub fn tag_value(field: &str, v: &str) -> Result<(), ApiError> {
    length(field, v, 0, 256)?;
    pattern(field, v, !v.chars().any(char::is_control), r"\P{C}*")
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
