//! End to end: the README's container builds that use the token only while
//! building (pip with `pip.conf`, uv with `.netrc`), run for real with
//! BuildKit (`testenv::BuildKit`: buildkitd built from its Go module, a local
//! registry as the mirror of Docker Hub and ghcr.io). The README's lines
//! write the secret file from the operator's Secret, build with `--secret`
//! and remove it; the Dockerfiles run as written. Each image must have the
//! private package from the repository and the public one through its
//! external connection, the token must be in none of its blobs (layers,
//! config, history) nor in the build stage's, and the same build without the
//! secret must fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::oci::{assert_token_absent, extract_layers, holds_token};
use common::python::{assert_ok, make_dist, project_secret, twine_example, venv};
use common::readme::example;
use common::{Env, Options, run, setup};
use testenv::BuildKit;

const PRIVATE: &str = "my-internal-lib";
const PRIVATE_VERSION: &str = "1.0.0";
const PUBLIC: &str = "requests";
const PUBLIC_VERSION: &str = "2.32.3";
/// RUN steps get no internet, only the loopback (the emulator): Dockerfile's
/// predefined proxy arguments point at a closed port. Without this, pip
/// without the secret would install the `my-internal-lib` on public PyPI.
/// (The buildctl lines are written to be extended: they end the command.)
const NO_INTERNET: &str = " --opt build-arg:HTTP_PROXY=http://127.0.0.1:9 \
    --opt build-arg:HTTPS_PROXY=http://127.0.0.1:9 --opt build-arg:NO_PROXY=127.0.0.1,localhost";
const SITE_PACKAGES: &str = "usr/local/lib/python3.11/site-packages";

const REPOSITORY: &str = "apiVersion: codeartifact-operator.dev/v1alpha1
kind: PypiRepository
metadata:
  name: python-packages
spec:
  domain:
    name: build-dom
  secret:
    renderings: [pipConf, pypirc, netrc]
";

/// One of the README's container builds: its shell lines, the `buildctl`
/// line for their Docker line, and its Dockerfile (example names).
struct Variant {
    name: &'static str,
    lines: &'static str,
    buildctl: &'static str,
    dockerfile: &'static str,
    /// The `--secret` option, the same for Docker and buildctl.
    secret_arg: &'static str,
    /// The file the lines write from the Secret and remove.
    secret_file: &'static str,
    /// What the build says without the secret.
    refusal: &'static str,
}

const VARIANTS: [Variant; 2] = [
    Variant {
        name: "pip",
        lines: "build-secret",
        buildctl: "build-buildctl",
        dockerfile: "build-dockerfile",
        secret_arg: "--secret id=pipconf,src=pip.conf",
        secret_file: "pip.conf",
        refusal: "No matching distribution found for my-internal-lib",
    },
    Variant {
        name: "uv",
        lines: "build-secret-uv",
        buildctl: "build-buildctl-uv",
        dockerfile: "build-dockerfile-uv",
        secret_arg: "--secret id=netrc,src=netrc",
        secret_file: "netrc",
        refusal: "401 Unauthorized",
    },
];

impl Variant {
    /// The README's lines with its `buildctl` line for the Docker one, plus
    /// `extra` (the test's build options) at the end of the build command.
    fn script(&self, extra: &str) -> String {
        let lines = example(self.lines);
        let docker: Vec<&str> = lines
            .lines()
            .filter(|l| l.starts_with("docker buildx build "))
            .collect();
        assert_eq!(
            docker.len(),
            1,
            "one Docker line in {}:\n{lines}",
            self.lines
        );
        let buildctl = format!("{}{extra}", example(self.buildctl).trim_end());
        for line in [docker[0], &buildctl] {
            assert!(
                line.contains(self.secret_arg),
                "{line} passes {}",
                self.secret_arg
            );
        }
        lines.replace(docker[0], &buildctl)
    }
}

/// Runs `script` in `project` as a user would: kubectl with the test
/// namespace as its context's, buildctl reaching `buildkit`.
fn run_in_project(env: &Env, buildkit: &BuildKit, project: &Path, script: &str) -> Output {
    let kubeconfig = env.tmp.path().join("user-kubeconfig");
    if !kubeconfig.exists() {
        std::fs::copy(env.cp.kubeconfig_path(), &kubeconfig).expect("copy kubeconfig");
        run(Command::new(env.cp.bin_dir().join("kubectl"))
            .args(["config", "set-context", "--current", "--namespace"])
            .arg(env.ns.name())
            .arg("--kubeconfig")
            .arg(&kubeconfig));
    }
    let path = format!(
        "{}:{}:/usr/sbin:/usr/bin:/sbin:/bin",
        buildkit.bin_dir().display(),
        env.cp.bin_dir().display()
    );
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(project)
        .env_clear()
        .env("PATH", path)
        .env("HOME", env.tmp.path())
        .env("KUBECONFIG", &kubeconfig)
        .env("BUILDKIT_HOST", buildkit.host())
        .output()
        .expect("run bash")
}

/// The private package uploaded with the README's twine line, the public one
/// in the folder behind the emulator's `public:pypi`.
async fn repository_with_packages(env: &Env) {
    env.create(REPOSITORY).await;
    env.wait_ready("python-packages").await;
    let mount = env.tmp.path().join("mount");
    project_secret(&env.secret_data("python-packages-pypi").await, &mount);
    make_dist(
        PRIVATE,
        PRIVATE_VERSION,
        &env.tmp.path().join("dist"),
        false,
    );
    let out = twine_example(&mount, env.tmp.path());
    assert_ok("twine upload", &out);
    make_dist(
        PUBLIC,
        PUBLIC_VERSION,
        &env.tmp.path().join("public-pypi"),
        false,
    );
}

/// Writes every token the emulator issued to a file, one a line, and checks
/// that [`holds_token`] finds one in a plain and in a gzipped copy of `pip.conf`.
fn tokens_file(env: &Env, pip_conf: &str) -> PathBuf {
    let tokens = env.emulator.issued_tokens();
    assert!(!tokens.is_empty(), "the emulator issued the Secret's token");
    let file = env.tmp.path().join("tokens");
    std::fs::write(&file, tokens.join("\n") + "\n").expect("tokens");
    let plain = env.tmp.path().join("control");
    std::fs::write(&plain, pip_conf).expect("control");
    assert!(
        holds_token(&plain, &file),
        "the scan finds the token in pip.conf"
    );
    run(Command::new("gzip").arg("-k").arg(&plain));
    assert!(
        holds_token(&plain.with_extension("gz"), &file),
        "the scan finds the token in gzipped pip.conf"
    );
    file
}

/// Imports both packages with the image's python (chroot into `rootfs`);
/// prints their versions and files.
fn import_in_image(rootfs: &Path) -> String {
    let code = "import my_internal_lib, requests; \
                print(my_internal_lib.VERSION, requests.VERSION, my_internal_lib.__file__, requests.__file__)";
    let out = Command::new("/usr/sbin/chroot")
        .arg(rootfs)
        .args(["/usr/local/bin/python3", "-c", code])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .expect("run chroot");
    assert_ok("python in the built image", &out);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs the variant's lines in `project` with `extra`, checks the build
/// succeeded, and moves the image it wrote to `tar`.
fn build(env: &Env, buildkit: &BuildKit, v: &Variant, project: &Path, extra: &str, tar: &str) {
    let out = run_in_project(env, buildkit, project, &v.script(extra));
    assert_ok(&format!("the README's {} build with {extra}", v.name), &out);
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains("docker.io/docker/dockerfile:1"),
        "the `# syntax=docker/dockerfile:1` line made BuildKit pull that frontend:\n{progress}"
    );
    assert!(
        !project.join(v.secret_file).exists(),
        "the README's rm removed {}",
        v.secret_file
    );
    std::fs::rename(project.join("my-service.tar"), project.join(tar)).expect("move the image");
}

/// The final image: the token in none of its blobs; python imports both
/// packages from `/usr/local`'s site-packages at the versions uploaded.
fn check_final_image(project: &Path, tokens: &Path) {
    let blobs = assert_token_absent(&project.join("image.tar"), &project.join("oci"), tokens);
    let rootfs = project.join("rootfs");
    extract_layers(&blobs[2..], &rootfs);
    assert_eq!(
        import_in_image(&rootfs),
        format!(
            "{PRIVATE_VERSION} {PUBLIC_VERSION} /{SITE_PACKAGES}/my_internal_lib/__init__.py /{SITE_PACKAGES}/requests/__init__.py"
        ),
        "the final image imports both packages from its site-packages, at the versions the repository served"
    );
}

/// The stage that ran the install with the secret mounted: the token is not
/// there either, while what was installed is.
fn check_build_stage(project: &Path, tokens: &Path) {
    let blobs = assert_token_absent(
        &project.join("stage.tar"),
        &project.join("oci-build"),
        tokens,
    );
    let rootfs = project.join("rootfs-build");
    extract_layers(&blobs[2..], &rootfs);
    assert!(
        rootfs
            .join("install/lib/python3.11/site-packages/my_internal_lib")
            .is_dir(),
        "the build stage is the one that installed into /install"
    );
}

/// The README's lines without `--secret` (and without the cache, which does
/// not key on secrets) must fail: the tool has no credentials for the
/// repository, and no internet.
fn check_refused_without_secret(env: &Env, buildkit: &BuildKit, v: &Variant, project: &Path) {
    let script = v
        .script(&format!("{NO_INTERNET} --no-cache"))
        .replace(&format!(" {}", v.secret_arg), "");
    assert!(!script.contains("--secret"), "{script}");
    let refused = run_in_project(env, buildkit, project, &script);
    let log = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "the {} build without the secret must fail:\n{log}",
        v.name
    );
    assert!(
        log.contains(v.refusal),
        "the {} build without the secret says {:?}:\n{log}",
        v.name,
        v.refusal
    );
}

/// One variant: the build with the secret, the image and the build stage
/// checked, the build without the secret refused.
fn run_variant(env: &Env, buildkit: &BuildKit, v: &Variant, tokens: &Path) {
    let project = env.tmp.path().join(v.name);
    std::fs::create_dir_all(&project).expect("project");
    std::fs::write(project.join("Dockerfile"), example(v.dockerfile)).expect("Dockerfile");
    let started = Instant::now();
    build(env, buildkit, v, &project, NO_INTERNET, "image.tar");
    eprintln!(
        "{}: build with the secret {:.1?}",
        v.name,
        started.elapsed()
    );
    let started = Instant::now();
    check_final_image(&project, tokens);
    eprintln!("{}: final image checked {:.1?}", v.name, started.elapsed());
    let started = Instant::now();
    build(
        env,
        buildkit,
        v,
        &project,
        &format!("{NO_INTERNET} --opt target=build"),
        "stage.tar",
    );
    check_build_stage(&project, tokens);
    eprintln!(
        "{}: build stage built and checked {:.1?}",
        v.name,
        started.elapsed()
    );
    let started = Instant::now();
    check_refused_without_secret(env, buildkit, v, &project);
    eprintln!(
        "{}: build without the secret refused {:.1?}",
        v.name,
        started.elapsed()
    );
}

/// Nothing of buildkitd is left after drop: no folder, mount or cgroup.
fn assert_gone(buildkit: BuildKit, dir: &Path) {
    drop(buildkit);
    assert!(!dir.exists(), "{} was not removed", dir.display());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains(&dir.display().to_string()),
        "mounts left under {}",
        dir.display()
    );
    for h in std::fs::read_dir("/sys/fs/cgroup")
        .expect("cgroup")
        .flatten()
    {
        for cg in std::fs::read_dir(h.path()).into_iter().flatten().flatten() {
            let name = cg.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with("codeartifact-buildkit-"),
                "cgroup {} left behind",
                cg.path().display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_container_builds_install_with_the_secret_and_keep_the_token_out_as_root() {
    let env = setup("build", Options::default()).await;
    let dir = env.tmp.path().join("buildkit");
    let buildkit = BuildKit::start(&dir, &venv().join("bin/uv"))
        .unwrap_or_else(|e| panic!("BuildKit did not start: {e:#}"));
    let started = Instant::now();
    repository_with_packages(&env).await;
    eprintln!(
        "repository Ready, packages uploaded: {:.1?}",
        started.elapsed()
    );
    let pip_conf = env.secret_data("python-packages-pypi").await["pip.conf"].clone();
    let tokens = tokens_file(&env, &pip_conf);
    for v in &VARIANTS {
        run_variant(&env, &buildkit, v, &tokens);
    }
    let started = Instant::now();
    env.assert_no_token_leaks().await;
    assert_gone(buildkit, &dir);
    eprintln!("leak scan, BuildKit stopped: {:.1?}", started.elapsed());
}
