//! The README's examples, so the tests run exactly what users copy.

use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The body of the fenced block after `<!-- example: NAME -->` in the README.
pub fn example(name: &str) -> String {
    let readme = readme();
    let marker = format!("<!-- example: {name} -->\n```");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("README has no example {name}"));
    let body = &readme[start + marker.len()..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    body[..body.find("\n```").expect("closing fence") + 1].to_string()
}
