//! Package group patterns (`/*`, `/pypi/*`, `/pypi//acme~`, `/pypi//acme-billing$`): parsing,
//! matching a package, how specific a pattern is, which pattern contains which, and the
//! pattern's form in an ARN. Pure; the rules are AWS's ([ug] package-group-definition-syntax).

use super::names::normalize;
use crate::error::ApiError;
use crate::validate::FORMATS;

/// Formats whose packages have no namespace: a pattern naming a package leaves it empty.
const NO_NAMESPACE: &[&str] = &["pypi", "nuget"];
/// Formats that need a namespace whenever a package name is given.
const NEEDS_NAMESPACE: &[&str] = &["maven", "generic", "swift"];

/// A value in a pattern: matched exactly (`$`) or as a prefix on a word boundary (`~`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Exact(String),
    Prefix(String),
}

/// What a pattern matches, from the widest to the narrowest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `/*`: every package (the root group).
    All,
    /// `/F/*`: every package of format F.
    Format(String),
    /// `/F/ns~`: namespaces starting with ns on a word boundary.
    NamespacePrefix(String, String),
    /// `/F/ns/*`: every package in namespace ns (empty for formats without namespaces).
    Namespace(String, String),
    /// `/F/ns/name~` or `/F/ns/name$`.
    Name(String, String, Part),
}

fn invalid(pattern: &str, why: &str) -> ApiError {
    ApiError::field(format!("Invalid package group pattern '{pattern}': {why}"))
}

/// Word characters: letters, digits and (after the first) combining marks.
fn is_word(c: char) -> bool {
    c.is_alphanumeric()
}

fn value(pattern: &str, raw: &str) -> Result<String, ApiError> {
    if raw.is_empty() || raw.contains(['*', '$', '~']) {
        return Err(invalid(
            pattern,
            "a value may not be empty or contain '*', '$' or '~'",
        ));
    }
    Ok(raw.to_string())
}

fn part(pattern: &str, raw: &str) -> Result<Part, ApiError> {
    if let Some(v) = raw.strip_suffix('$') {
        return Ok(Part::Exact(value(pattern, v)?));
    }
    let Some(v) = raw.strip_suffix('~') else {
        return Err(invalid(
            pattern,
            "the last component must end in '*', '$' or '~'",
        ));
    };
    let v = value(pattern, v)?;
    if !v.chars().last().is_some_and(is_word) {
        return Err(invalid(
            pattern,
            "'~' must follow a letter or digit (after another character use '*')",
        ));
    }
    Ok(Part::Prefix(v))
}

/// Parse and validate a pattern.
pub fn parse(pattern: &str) -> Result<Scope, ApiError> {
    let Some(rest) = pattern.strip_prefix('/') else {
        return Err(invalid(pattern, "it must start with '/'"));
    };
    if rest == "*" {
        return Ok(Scope::All);
    }
    let comps: Vec<&str> = rest.split('/').collect();
    let format = comps[0].to_string();
    if !FORMATS.contains(&format.as_str()) {
        return Err(invalid(pattern, "unknown package format"));
    }
    let no_ns = NO_NAMESPACE.contains(&format.as_str());
    match comps[1..] {
        ["*"] => Ok(Scope::Format(format)),
        [ns] if !no_ns => match part(pattern, ns)? {
            Part::Prefix(p) => Ok(Scope::NamespacePrefix(format, p)),
            Part::Exact(_) => Err(invalid(pattern, "a namespace alone ends in '~' or '/*'")),
        },
        [ns, "*"] => namespace(pattern, &format, ns).map(|ns| Scope::Namespace(format, ns)),
        [ns, name] => {
            let ns = namespace(pattern, &format, ns)?;
            Ok(Scope::Name(format, ns, part(pattern, name)?))
        }
        _ => Err(invalid(pattern, "expected /format/namespace/name")),
    }
}

fn namespace(pattern: &str, format: &str, ns: &str) -> Result<String, ApiError> {
    if NO_NAMESPACE.contains(&format) && !ns.is_empty() {
        return Err(invalid(
            pattern,
            "this format has no namespace: leave it empty",
        ));
    }
    if NEEDS_NAMESPACE.contains(&format) && ns.is_empty() {
        return Err(invalid(pattern, "this format needs a namespace"));
    }
    if !ns.is_empty() {
        value(pattern, ns)?;
    }
    Ok(ns.to_string())
}

/// Case-folded, with runs of `-`, `.` and `_` made one `-` (what a weak match compares).
pub fn loose(s: &str) -> String {
    normalize(s)
}

/// `value` starts with `prefix` on a word boundary (`foo~` matches `foo`, `foo-bar`, not `food`).
fn prefix_match(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.chars().next().is_some_and(is_word))
}

fn part_match(value: &str, p: &Part, fold: bool) -> bool {
    let f = |s: &str| if fold { loose(s) } else { s.to_string() };
    match p {
        Part::Exact(v) => f(value) == f(v),
        Part::Prefix(v) => prefix_match(&f(value), &f(v)),
    }
}

impl Scope {
    /// Whether the package matches: exactly (`fold` false) or after normalisation (weak).
    pub fn matches(&self, format: &str, namespace: &str, name: &str, fold: bool) -> bool {
        let eq = |a: &str, b: &str| if fold { loose(a) == loose(b) } else { a == b };
        match self {
            Scope::All => true,
            Scope::Format(f) => f == format,
            Scope::NamespacePrefix(f, p) => {
                f == format && part_match(namespace, &Part::Prefix(p.clone()), fold)
            }
            Scope::Namespace(f, ns) => f == format && eq(ns, namespace),
            Scope::Name(f, ns, p) => f == format && eq(ns, namespace) && part_match(name, p, fold),
        }
    }

    /// How specific the pattern is: compared as a pair, the larger the narrower.
    pub fn specificity(&self) -> (u8, usize) {
        match self {
            Scope::All => (0, 0),
            Scope::Format(_) => (1, 0),
            Scope::NamespacePrefix(_, p) => (2, p.len()),
            Scope::Namespace(..) => (3, 0),
            Scope::Name(_, _, Part::Prefix(p)) => (4, p.len()),
            Scope::Name(_, _, Part::Exact(_)) => (5, 0),
        }
    }

    /// Whether every package `other` matches is matched by `self` too.
    pub fn contains(&self, other: &Scope) -> bool {
        use Scope as S;
        match (self, other) {
            (S::All, _) => true,
            (_, S::All) => false,
            (S::Format(f), o) => o.format() == Some(f.as_str()),
            (
                S::NamespacePrefix(f, p),
                S::NamespacePrefix(g, q) | S::Namespace(g, q) | S::Name(g, q, _),
            ) => f == g && prefix_match(q, p),
            (S::Namespace(f, ns), S::Namespace(g, n) | S::Name(g, n, _)) => f == g && ns == n,
            (S::Name(f, ns, Part::Prefix(p)), S::Name(g, n, Part::Prefix(q) | Part::Exact(q))) => {
                f == g && ns == n && prefix_match(q, p)
            }
            (S::Name(f, ns, Part::Exact(p)), S::Name(g, n, Part::Exact(q))) => {
                f == g && ns == n && p == q
            }
            _ => false,
        }
    }

    fn format(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Format(f)
            | Scope::NamespacePrefix(f, _)
            | Scope::Namespace(f, _)
            | Scope::Name(f, _, _) => Some(f),
        }
    }
}

/// The pattern as it appears in a package group ARN: no leading `/`; `%`, `*` and `$`
/// percent-encoded in lower case, nothing else.
pub fn arn_component(pattern: &str) -> String {
    pattern
        .trim_start_matches('/')
        .replace('%', "%25")
        .replace('*', "%2a")
        .replace('$', "%24")
}

/// The inverse of [`arn_component`].
pub fn from_arn_component(encoded: &str) -> String {
    let decoded = encoded
        .replace("%2a", "*")
        .replace("%2A", "*")
        .replace("%24", "$")
        .replace("%25", "%");
    format!("/{decoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Scope {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn the_documented_forms_parse_and_bad_ones_do_not() {
        for ok in [
            "/*",
            "/npm/*",
            "/maven/com.anycompany~",
            "/npm/space/*",
            "/npm/space/anycompany-ui~",
            "/maven/org.apache.logging.log4j/log4j-core$",
            "/pypi//requests$",
            "/pypi//acme~",
            "/pypi/*",
        ] {
            p(ok);
        }
        for bad in [
            "*",
            "/",
            "/python//x$",
            "/pypi//acme-~",
            "/pypi//acme",
            "/pypi/ns/acme~",
            "/maven//x$",
            "/pypi//a*b$",
            "/pypi//x$/y",
            "/pypi/acme~",
        ] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn prefixes_match_on_word_boundaries_and_exact_names_exactly() {
        let acme = p("/pypi//acme~");
        assert!(acme.matches("pypi", "", "acme", false));
        assert!(acme.matches("pypi", "", "acme-billing", false));
        assert!(!acme.matches("pypi", "", "acmebilling", false));
        assert!(!acme.matches("npm", "", "acme-billing", false));
        assert!(
            !acme.matches("pypi", "", "Acme-Billing", false),
            "case-sensitive"
        );
        assert!(
            acme.matches("pypi", "", "Acme_Billing", true),
            "weak after folding"
        );
        let exact = p("/pypi//acme-billing$");
        assert!(exact.matches("pypi", "", "acme-billing", false));
        assert!(!exact.matches("pypi", "", "acme-billing-x", false));
        assert!(exact.matches("pypi", "", "ACME.billing", true));
        assert!(p("/*").matches("maven", "org", "x", false));
        assert!(p("/npm/space/*").matches("npm", "space", "x", false));
        assert!(p("/maven/com.anycompany~").matches("maven", "com.anycompany.ui", "x", false));
    }

    #[test]
    fn containment_and_specificity_order_the_tree() {
        let root = p("/*");
        let pypi = p("/pypi/*");
        let acme = p("/pypi//acme~");
        let billing = p("/pypi//acme-billing~");
        let exact = p("/pypi//acme-billing$");
        assert!(root.contains(&pypi) && pypi.contains(&acme) && acme.contains(&billing));
        assert!(billing.contains(&exact) && acme.contains(&exact));
        assert!(!billing.contains(&acme) && !exact.contains(&billing));
        assert!(
            !p("/pypi//acm~").contains(&acme),
            "acm~ does not match acme"
        );
        assert!(!p("/npm/*").contains(&acme));
        assert!(root.specificity() < pypi.specificity());
        assert!(acme.specificity() < billing.specificity());
        assert!(billing.specificity() < exact.specificity());
    }

    #[test]
    fn arn_components_encode_only_star_dollar_and_percent() {
        assert_eq!(arn_component("/*"), "%2a");
        assert_eq!(arn_component("/npm/*"), "npm/%2a");
        assert_eq!(arn_component("/nuget//alpha$"), "nuget//alpha%24");
        assert_eq!(arn_component("/pypi//a%b~"), "pypi//a%25b~");
        for pattern in ["/*", "/pypi//acme~", "/nuget//alpha$", "/pypi//a%b~"] {
            assert_eq!(from_arn_component(&arn_component(pattern)), pattern);
        }
    }
}
