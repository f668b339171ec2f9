//! Unit tests of the pure parts: version choice, metadata, the plan and its schedule.

use std::io::Write;
use std::str::FromStr;

use chrono::{TimeZone, Utc};
use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, Requirement};

use super::index::{IndexFile, choose, parse_page, version_of};
use super::metadata::{dependencies, requires_dist, wheel_metadata};
use super::plan::{Plan, parse};
use super::schedule::{Decision, condition, decide, retry_delay, spec_hash, status_after};
use super::target::Target;
use crate::crd::{PrepopulateFailureReason as Why, PrepopulatePhase, PrepopulateSpec};

fn target() -> Target {
    Target::new("3.12").unwrap()
}

fn file(filename: &str) -> IndexFile {
    IndexFile {
        filename: filename.into(),
        url: format!("../../files/p/{filename}"),
        version: version_of(filename),
        yanked: false,
        requires_python: None,
        has_metadata: false,
    }
}

fn spec(reqs: &[&str]) -> PrepopulateSpec {
    serde_json::from_value(serde_json::json!({ "requirements": reqs })).unwrap()
}

fn chosen(files: &[IndexFile], spec: &str, pre: bool) -> Result<String, Why> {
    let s = (!spec.is_empty()).then(|| VersionSpecifiers::from_str(spec).unwrap());
    choose(files, s.as_ref(), &target(), pre)
        .map(|c| c.file.filename)
        .map_err(|e| e.0)
}

#[test]
fn spec_defaults_are_dependencies_on_python_3_12_without_prereleases() {
    let s = spec(&["requests"]);
    assert!(s.dependencies);
    assert_eq!(s.python_version, "3.12");
    assert!(!s.prereleases);
}

#[test]
fn requirements_parse_with_pep508_and_urls_or_garbage_are_refused() {
    for ok in [
        "requests==2.32.3",
        "numpy>=2,<3",
        "urllib3",
        "httpx[http2] ~= 0.27",
        "a; python_version < '3.13'",
    ] {
        assert!(parse(ok).is_ok(), "{ok}");
    }
    let e = parse("requests===").unwrap_err();
    assert!(e.starts_with("not a PEP 508 requirement"), "{e}");
    assert!(parse("pkg >= 1 <").is_err());
    let e = parse("pkg @ https://example.com/pkg-1.0.tar.gz").unwrap_err();
    assert!(e.contains("direct URL"), "{e}");
}

#[test]
fn the_newest_matching_final_version_wins_and_yanked_ones_are_left_out() {
    let mut files = vec![
        file("p-1.0-py3-none-any.whl"),
        file("p-1.5-py3-none-any.whl"),
        file("p-2.0-py3-none-any.whl"),
        file("p-2.1rc1-py3-none-any.whl"),
    ];
    assert_eq!(chosen(&files, "", false).unwrap(), "p-2.0-py3-none-any.whl");
    assert_eq!(
        chosen(&files, "<2", false).unwrap(),
        "p-1.5-py3-none-any.whl"
    );
    assert_eq!(
        chosen(&files, "", true).unwrap(),
        "p-2.1rc1-py3-none-any.whl"
    );
    assert_eq!(
        chosen(&files, ">=2.1rc1", false).unwrap(),
        "p-2.1rc1-py3-none-any.whl",
        "named pre-release"
    );
    files[2].yanked = true;
    assert_eq!(chosen(&files, "", false).unwrap(), "p-1.5-py3-none-any.whl");
    assert_eq!(chosen(&files, ">=3", false), Err(Why::NoVersionMatches));
    assert_eq!(chosen(&[], "", false), Err(Why::NoVersionMatches));
}

#[test]
fn requires_python_excludes_files_and_pure_wheels_are_preferred() {
    let mut files = vec![
        file("p-1.0.tar.gz"),
        file("p-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"),
        file("p-1.0-py3-none-any.whl"),
        file("p-2.0-py3-none-any.whl"),
    ];
    files[3].requires_python = Some(">=3.13".into());
    assert_eq!(chosen(&files, "", false).unwrap(), "p-1.0-py3-none-any.whl");
    files.remove(2);
    assert_eq!(
        chosen(&files, "", false).unwrap(),
        "p-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"
    );
    assert_eq!(chosen(&files, ">=2", false), Err(Why::NoCompatibleFile));
}

#[test]
fn json_pages_give_yanked_requires_python_and_metadata() {
    let page = r#"{"meta":{"api-version":"1.1"},"name":"p","files":[
        {"filename":"p-1.0-py3-none-any.whl","url":"../../files/p/p-1.0-py3-none-any.whl","hashes":{},
         "yanked":"broken","requires-python":">=3.8","core-metadata":{"sha256":"ab"}},
        {"filename":"p-0.9.tar.gz","url":"x","hashes":{},"yanked":false,"dist-info-metadata":true},
        {"filename":"p-0.8.tar.gz","url":"y","hashes":{}}]}"#;
    let files = parse_page(page).unwrap();
    assert_eq!(files.len(), 3);
    assert!(files[0].yanked && files[0].has_metadata);
    assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
    assert!(!files[1].yanked && files[1].has_metadata);
    assert!(!files[2].yanked && !files[2].has_metadata);
    assert_eq!(files[1].version, Some(Version::from_str("0.9").unwrap()));
    assert!(parse_page("<html>").is_err());
}

const METADATA: &str = "Metadata-Version: 2.1\nName: p\nVersion: 1.0\nRequires-Dist: idna>=2\nRequires-Dist: old-py; python_version < \"3.11\"\nRequires-Dist: socks-lib\n  >=1.0; extra == \"socks\"\nRequires-Dist: win-only; sys_platform == \"win32\"\n\nRequires-Dist: in-the-description\n";

#[test]
fn requires_dist_reads_headers_only_and_joins_folded_lines() {
    assert_eq!(
        requires_dist(METADATA),
        [
            "idna>=2",
            "old-py; python_version < \"3.11\"",
            "socks-lib >=1.0; extra == \"socks\"",
            "win-only; sys_platform == \"win32\""
        ]
    );
}

#[test]
fn markers_are_evaluated_for_the_target_and_the_requested_extras() {
    let names = |extras: &[&str]| -> Vec<String> {
        let extras: Vec<ExtraName> = extras
            .iter()
            .map(|e| ExtraName::from_str(e).unwrap())
            .collect();
        let (deps, invalid) = dependencies(METADATA, &extras, &target());
        assert!(invalid.is_empty());
        deps.iter().map(|d| d.name.to_string()).collect()
    };
    assert_eq!(names(&[]), ["idna"]);
    assert_eq!(names(&["socks"]), ["idna", "socks-lib"]);
    let old = Target::new("3.10").unwrap();
    let (deps, _) = dependencies(METADATA, &[], &old);
    assert_eq!(deps.len(), 2, "old-py applies on 3.10");
    let (_, invalid) = dependencies("Requires-Dist: bad ===\n", &[], &target());
    assert_eq!(invalid.len(), 1);
}

fn wheel(files: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(text.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn wheel_metadata_comes_from_the_top_level_dist_info() {
    let w = wheel(&[
        ("p/__init__.py", ""),
        ("p/vendored/x-1.dist-info/METADATA", "Name: wrong\n"),
        ("p-1.0.dist-info/METADATA", METADATA),
    ]);
    assert_eq!(wheel_metadata(&w).unwrap(), METADATA);
    assert!(
        wheel_metadata(&wheel(&[("p/__init__.py", "")]))
            .unwrap_err()
            .contains("no .dist-info/METADATA")
    );
    assert!(wheel_metadata(b"not a zip").is_err());
}

fn req(s: &str) -> Requirement {
    Requirement::from_str(s).unwrap()
}

#[test]
fn a_plan_visits_each_requirement_once_and_records_failures() {
    let s = spec(&[
        "a>=1",
        "b",
        "not valid ===",
        "c; python_version < '3'",
        "a>=1",
    ]);
    let mut plan = Plan::new(&s, "h".into(), &target());
    assert_eq!(
        plan.pending(),
        2,
        "a and b; c's marker excludes 3.12; a listed twice"
    );
    assert_eq!(plan.failures().len(), 1);
    assert_eq!(plan.failures()[0].reason, Why::InvalidRequirement);
    let a = plan.next_item().unwrap();
    let v1 = Version::from_str("1.2").unwrap();
    assert!(plan.needs_fetch(&a, &v1));
    plan.cached(&a, &v1, vec![req("b"), req("d>=2")]);
    assert!(!plan.needs_fetch(&a, &v1));
    assert_eq!(plan.pending(), 2, "b already queued; d new");
    let b = plan.next_item().unwrap();
    plan.failed(&b, Why::NotFound, "no project b".into());
    let d = plan.next_item().unwrap();
    assert_eq!(d.required_by.as_deref(), Some("a==1.2"));
    plan.cached(&d, &Version::from_str("2.0").unwrap(), vec![req("a>=1")]);
    assert!(plan.is_done(), "a>=1 was seen already");
    assert_eq!(plan.cached_list(), ["a==1.2", "d==2.0"]);
}

#[test]
fn extras_ask_for_their_dependencies_even_when_the_version_is_cached() {
    let s = spec(&["a", "a[x]"]);
    let mut plan = Plan::new(&s, "h".into(), &target());
    let v = Version::from_str("1").unwrap();
    let a = plan.next_item().unwrap();
    plan.cached(&a, &v, vec![]);
    let ax = plan.next_item().unwrap();
    assert!(
        plan.needs_fetch(&ax, &v),
        "a[x]'s dependencies are not known yet"
    );
    plan.cached(&ax, &v, vec![]);
    assert!(!plan.needs_fetch(&a, &v) && !plan.needs_fetch(&ax, &v));
}

#[test]
fn without_dependencies_nothing_is_followed() {
    let mut s = spec(&["a"]);
    s.dependencies = false;
    let mut plan = Plan::new(&s, "h".into(), &target());
    let a = plan.next_item().unwrap();
    plan.cached(&a, &Version::from_str("1").unwrap(), vec![req("b")]);
    assert!(plan.is_done());
}

#[test]
fn a_spec_runs_once_continues_while_work_is_left_and_retries_failures_with_backoff() {
    let now = Utc.timestamp_opt(1_000_000, 0).unwrap();
    let s = spec(&["a", "zzz-missing"]);
    let hash = spec_hash(&s);
    assert_ne!(hash, spec_hash(&spec(&["a"])));
    assert_eq!(decide(&hash, None, now), Decision::Run { fresh: true });

    let mut plan = Plan::new(&s, hash.clone(), &target());
    let a = plan.next_item().unwrap();
    plan.cached(&a, &Version::from_str("1").unwrap(), vec![]);
    let st = status_after(&plan, None, now);
    assert_eq!(st.phase, PrepopulatePhase::InProgress);
    assert_eq!(
        decide(&hash, Some(&st), now),
        Decision::Run { fresh: false }
    );

    let missing = plan.next_item().unwrap();
    plan.failed(&missing, Why::NotFound, "no project zzz-missing".into());
    let st = status_after(&plan, Some(&st), now);
    assert_eq!((st.phase, st.attempts), (PrepopulatePhase::Failed, 1));
    assert_eq!(st.cached, ["a==1"]);
    let retry = now + retry_delay(1);
    assert_eq!(decide(&hash, Some(&st), now), Decision::RetryAt(retry));
    assert_eq!(
        decide(&hash, Some(&st), retry),
        Decision::Run { fresh: true }
    );
    let again = status_after(&plan, Some(&st), retry);
    assert_eq!(again.attempts, 2);
    assert!(retry_delay(2) > retry_delay(1) && retry_delay(40) == chrono::Duration::hours(1));
    let (ok, reason, message) = condition(&again);
    assert!(!ok);
    assert_eq!(reason.as_str(), "PrepopulateFailed");
    assert!(message.contains("zzz-missing (NotFound)"), "{message}");
    assert_eq!(
        decide("other", Some(&again), now),
        Decision::Run { fresh: true },
        "a new spec starts over"
    );

    let done = Plan::new(&spec(&["a"]), "h2".into(), &target());
    let mut done = done;
    let a = done.next_item().unwrap();
    done.cached(&a, &Version::from_str("1").unwrap(), vec![]);
    let st = status_after(&done, None, now);
    assert_eq!((st.phase, st.attempts), (PrepopulatePhase::Complete, 0));
    assert_eq!(decide("h2", Some(&st), now), Decision::Keep);
    assert!(condition(&st).0);
}
