//! OCI image archives (`buildctl --output type=oci`) taken apart for the
//! tests: their blobs, a scan for secrets in every blob, the layers laid out
//! as a root file system.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::run;

/// Unpacks the OCI archive `tar` into `dir`; returns the blobs of its image
/// (manifest, config, layers) in manifest order, layers last.
pub fn unpack_oci(tar: &Path, dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("oci dir");
    run(Command::new("tar").arg("-xf").arg(tar).arg("-C").arg(dir));
    let blob = |digest: &serde_json::Value| {
        let d = digest.as_str().expect("digest");
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).expect("read blob")).expect("json")
    };
    let index = json(&dir.join("index.json"));
    let manifest_path = blob(&index["manifests"][0]["digest"]);
    let manifest = json(&manifest_path);
    let mut blobs = vec![manifest_path, blob(&manifest["config"]["digest"])];
    let layers = manifest["layers"].as_array().expect("layers");
    blobs.extend(layers.iter().map(|l| blob(&l["digest"])));
    blobs
}

/// Whether `file` (gunzipped first when it is gzip, as layers are) holds any
/// line of `tokens` (a file, so no token is on a command line).
pub fn holds_token(file: &Path, tokens: &Path) -> bool {
    let script = r#"if [ "$(head -c2 "$1" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then gzip -dc "$1"; else cat "$1"; fi |
        grep -a -F -q -f "$2""#;
    let status = Command::new("sh")
        .args(["-c", script, "sh"])
        .arg(file)
        .arg(tokens)
        .status()
        .expect("run sh");
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        _ => panic!("scanning {} failed: {status}", file.display()),
    }
}

/// Asserts that no token appears in any blob of the OCI archive `tar` (every
/// blob, whether the image references it or not, and the index); returns
/// the image's blobs.
pub fn assert_token_absent(tar: &Path, dir: &Path, tokens: &Path) -> Vec<PathBuf> {
    let blobs = unpack_oci(tar, dir);
    let all = std::fs::read_dir(dir.join("blobs/sha256")).expect("blobs");
    let files = all
        .flatten()
        .map(|e| e.path())
        .chain([dir.join("index.json")]);
    for file in files {
        assert!(
            !holds_token(&file, tokens),
            "a token is in {} of {}",
            file.display(),
            tar.display()
        );
    }
    blobs
}

/// Extracts the image's layers in order into `rootfs`.
pub fn extract_layers(layers: &[PathBuf], rootfs: &Path) {
    std::fs::create_dir_all(rootfs).expect("rootfs");
    for layer in layers {
        run(Command::new("tar")
            .arg("-xf")
            .arg(layer)
            .arg("-C")
            .arg(rootfs));
    }
}
