//! A package version's dependencies: the core metadata (a wheel's
//! `*.dist-info/METADATA`, or the PEP 658 file) and its Requires-Dist lines,
//! parsed by pep508_rs and evaluated for the target and the requested extras.

use std::io::{Cursor, Read};
use std::str::FromStr;

use pep508_rs::{ExtraName, Requirement};

use super::target::Target;

/// Reads `<name>-<version>.dist-info/METADATA` out of a wheel's bytes.
pub fn wheel_metadata(wheel: &[u8]) -> Result<String, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(wheel))
        .map_err(|e| format!("the wheel is not a zip archive: {e}"))?;
    let name = zip
        .file_names()
        .filter_map(Result::ok)
        .find(|n| {
            n.strip_suffix(".dist-info/METADATA")
                .is_some_and(|dir| !dir.is_empty() && !dir.contains('/'))
        })
        .map(|n| n.to_string())
        .ok_or("the wheel has no .dist-info/METADATA")?;
    let mut text = String::new();
    zip.by_name(&name)
        .map_err(|e| format!("{name}: {e}"))?
        // A METADATA file is small; a bigger one is not honest metadata.
        .take(4 << 20)
        .read_to_string(&mut text)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(text)
}

/// The values of the `Requires-Dist` headers (folded continuation lines joined),
/// read from the header block only (the body after the first blank line is the
/// description).
pub fn requires_dist(metadata: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_requires = false;
    for line in metadata.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if in_requires && let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
            continue;
        }
        in_requires = false;
        if let Some((key, value)) = line.split_once(':')
            && key.trim().eq_ignore_ascii_case("requires-dist")
        {
            out.push(value.trim().to_string());
            in_requires = true;
        }
    }
    out
}

/// The dependencies that apply to `target` with `extras` requested, and the
/// Requires-Dist lines that are not valid PEP 508 (with the parser's message).
pub fn dependencies(
    metadata: &str,
    extras: &[ExtraName],
    target: &Target,
) -> (Vec<Requirement>, Vec<(String, String)>) {
    let mut deps = Vec::new();
    let mut invalid = Vec::new();
    for line in requires_dist(metadata) {
        match Requirement::from_str(&line) {
            Ok(r) if r.marker.evaluate(&target.env, extras) => deps.push(r),
            Ok(_) => {}
            Err(e) => invalid.push((line, e.message.to_string())),
        }
    }
    (deps, invalid)
}
