//! Package name normalisation (PEP 503), shared by the state, its package groups and the
//! PyPI endpoint. A leaf.

/// PEP 503 normalisation: lower case, runs of `.`, `-`, `_` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '.' | '-' | '_') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_run = false;
        }
    }
    out
}
