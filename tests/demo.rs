//! `make demo` is the README's first command: run its script start to finish
//! in private folders (its own control plane, emulator and operator), then
//! clean up the way the script says.

use std::path::Path;
use std::process::Command;

#[test]
fn make_demo_runs_start_to_finish_and_cleans_up_as_root() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("temp dir");
    let demo_dir = tmp.path().join("demo");
    let cp_dir = tmp.path().join("control-plane");
    let run = |args: &[&str]| {
        Command::new("make")
            .args(args)
            .current_dir(root)
            .env("DEMO_DIR", &demo_dir)
            .env("CONTROL_PLANE_DIR", &cp_dir)
            .output()
            .expect("run make")
    };
    let out = run(&["--no-print-directory", "demo"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let down = run(&["--no-print-directory", "demo-down"]);
    let cp_down = run(&["--no-print-directory", "control-plane-down"]);
    assert!(out.status.success(), "make demo failed:\n{text}");
    assert!(
        text.contains("[9/9]") && text.contains("imported demo_hello 1.0.0"),
        "{text}"
    );
    assert!(
        text.contains("index-url = http://aws:****@"),
        "the token is masked: {text}"
    );
    let token = std::fs::read_to_string(demo_dir.join("secret/token"))
        .expect("the demo kept the Secret's files");
    assert!(
        !token.is_empty() && !text.contains(token.trim()),
        "the demo output must not show the token"
    );
    assert!(
        down.status.success() && cp_down.status.success(),
        "cleanup failed"
    );
    assert!(
        !cp_dir.join("pids").exists() || !Path::new(&cp_dir).exists(),
        "control plane folder left behind"
    );
}
