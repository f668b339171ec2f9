//! The Simple Repository API pages: PEP 503 HTML and PEP 691 JSON, chosen by `Accept`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::resolve::Candidate;

/// PEP 691 JSON, version 1.
pub const JSON_V1: &str = "application/vnd.pypi.simple.v1+json";
/// PEP 691 HTML, version 1.
pub const HTML_V1: &str = "application/vnd.pypi.simple.v1+html";
/// The legacy alias of v1 HTML (PEP 503).
pub const TEXT_HTML: &str = "text/html";

/// Characters kept as they are in file names inside URLs.
const FILE_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The representation to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    /// HTML, answered with this content type.
    Html(&'static str),
}

impl Format {
    /// The `Content-Type` of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON_V1,
            Format::Html(TEXT_HTML) => "text/html; charset=utf-8",
            Format::Html(t) => t,
        }
    }
}

/// What the server can produce, in order of preference on equal quality. HTML comes first so
/// that clients sending no `Accept` (or `*/*`) get the PEP 503 page they expect.
const OFFERS: &[(&str, Format)] = &[
    (TEXT_HTML, Format::Html(TEXT_HTML)),
    (HTML_V1, Format::Html(HTML_V1)),
    (
        "application/vnd.pypi.simple.latest+html",
        Format::Html(HTML_V1),
    ),
    (JSON_V1, Format::Json),
    ("application/vnd.pypi.simple.latest+json", Format::Json),
];

/// Quality of `offer` under one `Accept` range, with the range's specificity (2 exact,
/// 1 `type/*`, 0 `*/*`), or `None` when the range does not match.
fn match_range(range: &str, offer: &str) -> Option<u8> {
    let (otype, _) = offer.split_once('/')?;
    match range {
        "*/*" => Some(0),
        r if r.strip_suffix("/*") == Some(otype) => Some(1),
        r if r == offer => Some(2),
        _ => None,
    }
}

fn parse_accept(header: &str) -> Vec<(String, f32)> {
    header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            if range.is_empty() {
                return None;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((range, q))
        })
        .collect()
}

/// Choose a representation; `None` means nothing acceptable (406).
pub fn negotiate(accept: Option<&str>) -> Option<Format> {
    let ranges = parse_accept(accept.unwrap_or("*/*"));
    let ranges = if ranges.is_empty() {
        vec![("*/*".to_string(), 1.0)]
    } else {
        ranges
    };
    let mut best: Option<(f32, Format)> = None;
    for (offer, format) in OFFERS {
        // The most specific matching range decides the quality of this offer.
        let q = ranges
            .iter()
            .filter_map(|(r, q)| match_range(r, offer).map(|s| (s, *q)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, q)| q)
            .unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, *format));
        }
    }
    best.map(|(_, f)| f)
}

/// Escape text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The URL of a file, relative to the project page `.../simple/{project}/`.
fn file_url(project: &str, filename: &str) -> String {
    format!(
        "../../files/{project}/{}",
        utf8_percent_encode(filename, FILE_SAFE)
    )
}

/// A project page in `format`.
pub fn project_page(project: &str, files: &[Candidate], format: Format) -> String {
    match format {
        Format::Json => json_page(project, files).to_string(),
        Format::Html(_) => html_page(project, files),
    }
}

fn html_page(project: &str, files: &[Candidate]) -> String {
    let name = escape(project);
    let mut out = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n<title>Links for {name}</title>\n</head>\n<body>\n<h1>Links for {name}</h1>\n"
    );
    for f in files {
        let rp = f
            .requires_python
            .as_deref()
            .map(|r| format!(" data-requires-python=\"{}\"", escape(r)))
            .unwrap_or_default();
        out.push_str(&format!(
            "<a href=\"{}#sha256={}\"{rp}>{}</a><br/>\n",
            escape(&file_url(project, &f.filename)),
            f.sha256,
            escape(&f.filename)
        ));
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn json_page(project: &str, files: &[Candidate]) -> Value {
    let files: Vec<Value> = files
        .iter()
        .map(|f| {
            let mut v = json!({
                "filename": f.filename,
                "url": file_url(project, &f.filename),
                "hashes": { "sha256": f.sha256 },
            });
            if let Some(r) = &f.requires_python {
                v["requires-python"] = json!(r);
            }
            v
        })
        .collect();
    json!({ "meta": { "api-version": "1.0" }, "name": project, "files": files })
}

/// The project list page (`simple/`), which real CodeArtifact does not serve; kept for browsing.
pub fn index_page(projects: &[String], format: Format) -> String {
    match format {
        Format::Json => json!({
            "meta": { "api-version": "1.0" },
            "projects": projects.iter().map(|p| json!({ "name": p })).collect::<Vec<_>>(),
        })
        .to_string(),
        Format::Html(_) => {
            let mut out = String::from(
                "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n<title>Simple index</title>\n</head>\n<body>\n",
            );
            for p in projects {
                let p = escape(p);
                out.push_str(&format!("<a href=\"{p}/\">{p}</a><br/>\n"));
            }
            out.push_str("</body>\n</html>\n");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pypi::resolve::Origin;

    #[test]
    fn pip_gets_json_browsers_and_bare_clients_get_html() {
        let pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
        assert_eq!(negotiate(Some(pip)), Some(Format::Json));
        assert_eq!(negotiate(None), Some(Format::Html(TEXT_HTML)));
        assert_eq!(negotiate(Some("*/*")), Some(Format::Html(TEXT_HTML)));
        assert_eq!(
            negotiate(Some("text/html,application/xhtml+xml,*/*;q=0.8")),
            Some(Format::Html(TEXT_HTML))
        );
        assert_eq!(
            negotiate(Some("application/vnd.pypi.simple.v1+html")),
            Some(Format::Html(HTML_V1))
        );
        assert_eq!(
            negotiate(Some("application/vnd.pypi.simple.latest+json")),
            Some(Format::Json)
        );
        assert_eq!(negotiate(Some("application/json, text/html;q=0")), None);
        assert_eq!(
            negotiate(Some("text/*;q=0.5, application/*;q=0.9")),
            Some(Format::Html(HTML_V1))
        );
    }

    #[test]
    fn pages_carry_doctype_hash_fragments_and_escaped_requires_python() {
        let files = vec![Candidate {
            filename: "demo_pkg-0.1.0-py3-none-any.whl".into(),
            version: "0.1.0".into(),
            sha256: "ab".repeat(32),
            requires_python: Some(">=3.8".into()),
            origin: Origin::Stored { repo: "r".into() },
        }];
        let html = project_page("demo-pkg", &files, Format::Html(TEXT_HTML));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("content=\"1.0\""));
        assert!(html.contains(&format!(
            "href=\"../../files/demo-pkg/demo_pkg-0.1.0-py3-none-any.whl#sha256={}\"",
            "ab".repeat(32)
        )));
        assert!(html.contains("data-requires-python=\"&gt;=3.8\""));
        let json: Value =
            serde_json::from_str(&project_page("demo-pkg", &files, Format::Json)).unwrap();
        assert_eq!(json["meta"]["api-version"], "1.0");
        assert_eq!(json["files"][0]["hashes"]["sha256"], "ab".repeat(32));
        assert_eq!(json["files"][0]["requires-python"], ">=3.8");
    }
}
