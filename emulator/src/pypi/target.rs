//! Which repository a PyPI endpoint URL names (a leaf: the endpoint and the
//! upload both read it).

use crate::body::decode;

/// Path prefix of the PyPI endpoints.
pub const PREFIX: &str = "/pypi/d/";

/// The repository an endpoint URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub domain: String,
    pub owner: String,
    pub repo: String,
}

/// Split `/pypi/d/{domain}-{owner}/{repo}/{rest}` into the target and `rest`.
pub fn parse_path(path: &str) -> Option<(Target, String)> {
    let tail = path.strip_prefix(PREFIX)?;
    let (domain_owner, tail) = tail.split_once('/')?;
    let (repo, rest) = tail.split_once('/').unwrap_or((tail, ""));
    // The owner is the last 12 digits; the domain name may itself contain '-'.
    let (domain, owner) = decode(domain_owner)
        .rsplit_once('-')
        .map(|(d, o)| (d.to_string(), o.to_string()))?;
    if owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()) || domain.is_empty() {
        return None;
    }
    let rest = rest.split('/').map(decode).collect::<Vec<_>>().join("/");
    Some((
        Target {
            domain,
            owner,
            repo: decode(repo),
        },
        rest,
    ))
}
