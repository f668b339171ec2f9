//! boto3 against the package-version operations retention uses
//! (tests/python/versions_conformance.py), over versions seeded through the
//! library. Needs CODEARTIFACT_TEST_VENV (`make pytools`); fails without it.

mod common;

use codeartifact_emulator::PackageAt;
use common::{client, venv_python};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_describes_lists_pages_disposes_and_deletes_versions() {
    let python = venv_python();
    let emu = common::start().await;
    let c = client(&emu);
    common::domain_with_repo(&c, "vdom", "vrepo").await;
    let now = 1_750_000_000.0;
    let versions: Vec<(String, f64)> = (0..6)
        .map(|i| (format!("1.{i}"), now - f64::from(i) * 86_400.0))
        .collect();
    let at = PackageAt {
        domain: "vdom".into(),
        repository: "vrepo".into(),
        package: "app".into(),
    };
    emu.seed_versions(&at, &versions, 32).unwrap();
    emu.reset_calls();
    let command = tokio::process::Command::new(python);
    let out = common::python_against(command, &emu, "versions_conformance.py")
        .output()
        .await
        .unwrap();
    let shown = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("versions conformance OK"), "{shown}");
    for op in [
        "DescribePackageVersion",
        "ListPackageVersionAssets",
        "ListPackageVersions",
        "DisposePackageVersions",
        "DeletePackageVersions",
    ] {
        assert!(emu.call_count(op) > 0, "{op} reached: {:?}", emu.calls());
    }
}
