//! End to end: the uv, Poetry, netrc and extra-index renderings work with the
//! real pip, uv and Poetry pinned in tests/python/requirements.txt. The
//! README's examples run as written against the Secret projected the way the
//! kubelet projects a Secret volume; each installs a private package uploaded
//! to the repository and a public one through the external connection, and
//! the next run after a token refresh works with the workload's files
//! untouched. With `indexRole: Extra` the tools' default index is a stand-in
//! for public PyPI (`common::pypi_standin`; there is no internet): the private
//! package must come from the repository, which has no external connection,
//! and the public one from the stand-in, whose log shows it served it. Also:
//! `kubectl describe` says how to use the Secret without showing the token,
//! and (`e2e_clients/schema.rs`) the schema refuses index names the tools
//! cannot use.

mod common;
#[path = "e2e_clients/schema.rs"]
mod schema;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::pypi_standin::PypiStandin;
use common::python::{assert_ok, make_dist, project_secret, twine_example, venv};
use common::readme::example;
use common::{Env, Options, run, setup};

/// Where the README's examples mount the Secret; the test substitutes its own folder.
const MOUNT: &str = "/etc/pypi";
const PRIVATE: &str = "my-internal-lib";
const PUBLIC: &str = "requests";
const PUBLIC_VERSION: &str = "2.32.3";
const PUBLIC_WHEEL: &str = "requests-2.32.3-py3-none-any.whl";

/// Each Secret's mounted folder and data, by Secret name.
type Mounts = BTreeMap<&'static str, (PathBuf, BTreeMap<String, String>)>;

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Pip,
    Uv,
    Poetry,
}

/// One README example run against one Secret.
struct Scenario {
    example: &'static str,
    secret: &'static str,
    tool: Tool,
    /// Secret keys a pod would get through `envFrom`, read at each (pod) start.
    env_from_secret: &'static [&'static str],
    /// For the Secret with a non-default indexName: the README's variable
    /// names rewritten to the ones that name gives.
    rename: Option<(&'static str, &'static str)>,
    /// The Secret makes the repository an extra index (`indexRole: Extra`):
    /// the tool's default index, pypi.org, is the stand-in, and the public
    /// package must come from there.
    extra: bool,
}

const fn scenario(example: &'static str, secret: &'static str, tool: Tool) -> Scenario {
    Scenario {
        example,
        secret,
        tool,
        env_from_secret: &[],
        rename: None,
        extra: false,
    }
}

const RENAME: Option<(&str, &str)> = Some(("CODEARTIFACT", "TEAM_PKGS"));

const SCENARIOS: &[Scenario] = &[
    scenario("pip-conf", "clients-pypi", Tool::Pip),
    scenario("pip-netrc", "clients-pypi", Tool::Pip),
    scenario("uv-index-credentials", "clients-pypi", Tool::Uv),
    scenario("uv-netrc", "clients-pypi", Tool::Uv),
    Scenario {
        env_from_secret: &["UV_DEFAULT_INDEX"],
        ..scenario("uv-env", "clients-pypi", Tool::Uv)
    },
    scenario("poetry", "clients-pypi", Tool::Poetry),
    Scenario {
        rename: RENAME,
        ..scenario("uv-index-credentials", "named-pypi", Tool::Uv)
    },
    Scenario {
        rename: RENAME,
        ..scenario("poetry", "named-pypi", Tool::Poetry)
    },
    extra(scenario("pip-conf", "extra-pypi", Tool::Pip)),
    extra(scenario("uv-index-credentials", "extra-pypi", Tool::Uv)),
    extra(scenario("uv-netrc", "extra-pypi", Tool::Uv)),
    extra(Scenario {
        env_from_secret: &["UV_INDEX"],
        ..scenario("uv-env", "extra-pypi", Tool::Uv)
    }),
    extra(scenario("poetry", "extra-pypi", Tool::Poetry)),
];

const fn extra(sc: Scenario) -> Scenario {
    Scenario { extra: true, ..sc }
}

impl Scenario {
    fn label(&self) -> String {
        format!("{} with {}", self.example, self.secret)
    }
}

fn repo(name: &str, secret: &str) -> String {
    format!(
        "apiVersion: codeartifact-operator.dev/v1alpha1\nkind: PypiRepository\nmetadata:\n  name: {name}\nspec:\n  domain:\n    name: clients-dom\n  token:\n    durationSeconds: 3600\n  secret:\n{secret}"
    )
}

/// Runs one scenario once, as a fresh job would: new working folder, the
/// mounted Secret at `mount`, `project` as the workload's own files, and
/// `pypi` (the stand-in's index URL) where the tool would use pypi.org.
fn run_scenario(
    sc: &Scenario,
    mount: &Path,
    data: &BTreeMap<String, String>,
    job: &Path,
    pypi: &str,
) -> Output {
    let mut script = example(sc.example).replace(MOUNT, &mount.display().to_string());
    if let Some((from, to)) = sc.rename {
        script = script.replace(from, to);
    }
    std::fs::create_dir_all(job.join("home")).expect("job folder");
    let bin = venv().join("bin");
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", &script])
        .env_clear()
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        )
        .env("HOME", job.join("home"))
        .env("LANG", "C.UTF-8");
    for k in sc.env_from_secret {
        cmd.env(k, &data[*k]);
    }
    match sc.tool {
        Tool::Pip => {
            cmd.current_dir(job)
                .env("PIP_TARGET", job.join("site"))
                .env("PIP_NO_CACHE_DIR", "1")
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
                .env("PIP_NO_INPUT", "1");
            if sc.extra {
                cmd.env("PIP_INDEX_URL", pypi);
            }
        }
        Tool::Uv => {
            let venv_dir = job.join("venv");
            let python = bin.join("python");
            run(Command::new(bin.join("uv"))
                .args(["venv", "--quiet", "--no-cache", "--python"])
                .arg(&python)
                .arg(&venv_dir)
                .env("UV_PYTHON_DOWNLOADS", "never"));
            cmd.current_dir(job)
                .env("VIRTUAL_ENV", &venv_dir)
                .env("UV_NO_CACHE", "1")
                .env("UV_PYTHON_DOWNLOADS", "never");
            if sc.extra {
                cmd.env("UV_DEFAULT_INDEX", pypi);
            }
        }
        Tool::Poetry => {
            cmd.current_dir(job.join("project"))
                .env("POETRY_CACHE_DIR", job.join("poetry-cache"))
                .env("POETRY_VIRTUALENVS_IN_PROJECT", "true")
                .env("POETRY_NO_INTERACTION", "1")
                .env("POETRY_KEYRING_ENABLED", "false")
                .env("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring");
        }
    }
    cmd.output().expect("run bash")
}

/// Whether an importable package `module` was installed anywhere under `dir`.
fn installed(dir: &Path, module: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        p.is_dir()
            && ((e.file_name() == module && p.join("__init__.py").exists())
                || installed(&p, module))
    })
}

/// The Poetry workload: the README's pyproject.toml plus the Secret's source,
/// added once. With an extra index, the stand-in takes the place of Poetry's
/// implicit pypi.org source (declaring a primary source turns that one off).
fn poetry_project(sc: &Scenario, mount: &Path, dir: &Path, pypi: &str) {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).expect("project folder");
    let mut pyproject = example("pyproject");
    if sc.extra {
        pyproject.push_str(&format!(
            "\n[[tool.poetry.source]]\nname = \"pypi-standin\"\nurl = \"{pypi}\"\npriority = \"primary\"\n"
        ));
    }
    std::fs::write(project.join("pyproject.toml"), pyproject).expect("pyproject");
    let add = example("poetry-source").replace(MOUNT, &mount.display().to_string());
    run(Command::new("bash")
        .args(["-euo", "pipefail", "-c", &add])
        .current_dir(&project));
    let text = std::fs::read_to_string(project.join("pyproject.toml")).expect("pyproject");
    let name = if sc.rename.is_some() {
        "team-pkgs"
    } else {
        "codeartifact"
    };
    assert!(text.contains(&format!("name = \"{name}\"")), "{text}");
}

/// Runs every scenario once (run `n`), asserting each installed both packages,
/// and that each extra-index scenario took the public one from the stand-in.
fn run_all(env: &Env, n: u32, mounts: &Mounts, pypi: &PypiStandin) {
    for (i, sc) in SCENARIOS.iter().enumerate() {
        let (mount, data) = &mounts[sc.secret];
        let dir = env.tmp.path().join(format!("scenario-{i}"));
        let job = if sc.tool == Tool::Poetry {
            // A new container: the project's files stay, its virtualenv and caches do not.
            let _ = std::fs::remove_dir_all(dir.join("project/.venv"));
            let _ = std::fs::remove_dir_all(dir.join("poetry-cache"));
            dir.clone()
        } else {
            dir.join(format!("run-{n}"))
        };
        let started = Instant::now();
        let served = pypi.downloads(PUBLIC_WHEEL);
        let out = run_scenario(sc, mount, data, &job, pypi.index_url());
        assert_ok(&format!("run {n} of {}", sc.label()), &out);
        assert_eq!(
            pypi.downloads(PUBLIC_WHEEL) > served,
            sc.extra,
            "run {n} of {}: {PUBLIC} comes from the stand-in for PyPI exactly when the repository is an extra index",
            sc.label()
        );
        for module in [PRIVATE.replace('-', "_"), PUBLIC.to_string()] {
            assert!(
                installed(&job, &module),
                "run {n} of {} did not install {module}",
                sc.label()
            );
        }
        eprintln!("run {n} of {}: {:.1?}", sc.label(), started.elapsed());
    }
}

async fn project_all(env: &Env, root: &Path) -> Mounts {
    let mut mounts = BTreeMap::new();
    for secret in ["clients-pypi", "extra-pypi", "named-pypi"] {
        let data = env.secret_data(secret).await;
        let dir = root.join(secret);
        project_secret(&data, &dir);
        mounts.insert(secret, (dir, data));
    }
    mounts
}

fn expiry(data: &BTreeMap<String, String>) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&data["expiresAt"])
        .expect("expiresAt")
        .with_timezone(&Utc)
}

/// Three PypiRepositories on one domain (so one shared token): every
/// rendering; every rendering with indexRole Extra and no external
/// connection (so it can serve only the private package); and indexName
/// team-pkgs. Uploads the private package to each, adds the public one to the
/// folder behind `public:pypi` and starts the stand-in for PyPI serving that
/// folder, lays out the Poetry projects, and returns the mounted Secrets.
async fn create_repositories_and_workloads(env: &Env, mounts_root: &Path) -> (Mounts, PypiStandin) {
    const EVERY_RENDERING: &str = "    renderings: [pipConf, pypirc, env, uv, poetry, netrc]\n";
    env.create(&repo("clients", EVERY_RENDERING)).await;
    env.create(
        &repo("extra", &format!("{EVERY_RENDERING}    indexRole: Extra\n")).replacen(
            "spec:\n",
            "spec:\n  externalConnection: false\n",
            1,
        ),
    )
    .await;
    env.create(&repo(
        "named",
        "    renderings: [pypirc, uv, poetry]\n    indexName: team-pkgs\n",
    ))
    .await;
    for n in ["clients", "extra", "named"] {
        env.wait_ready(n).await;
    }

    // The private package goes into every repository; the
    // public one is added to the emulator's stand-in for public PyPI.
    let mounts = project_all(env, mounts_root).await;
    // The README's twine example, run where `dist/` holds the private package.
    make_dist(PRIVATE, "1.0.0", &env.tmp.path().join("dist"), false);
    for secret in ["clients-pypi", "extra-pypi", "named-pypi"] {
        let out = twine_example(&mounts[secret].0, env.tmp.path());
        assert_ok(&format!("twine upload with {secret}"), &out);
    }
    let public = env.tmp.path().join("public-pypi");
    let wheel = make_dist(PUBLIC, PUBLIC_VERSION, &public, false);
    assert!(wheel[0].ends_with(PUBLIC_WHEEL), "{wheel:?}");
    let pypi = PypiStandin::start(&public, &env.tmp.path().join("pypi-standin.log"));
    for (i, sc) in SCENARIOS.iter().enumerate() {
        if sc.tool == Tool::Poetry {
            poetry_project(
                sc,
                &mounts[sc.secret].0,
                &env.tmp.path().join(format!("scenario-{i}")),
                pypi.index_url(),
            );
        }
    }
    (mounts, pypi)
}

/// The Poetry projects' pyproject.toml files, which no run may change.
fn pyprojects(env: &Env) -> Vec<String> {
    (0..SCENARIOS.len())
        .filter_map(|i| {
            std::fs::read_to_string(
                env.tmp
                    .path()
                    .join(format!("scenario-{i}/project/pyproject.toml")),
            )
            .ok()
        })
        .collect()
}

/// Keeps a copy of the Secret as it is now, waits until its token has expired
/// (it was replaced long before), checks a tool using the copy is refused,
/// and returns the copied data.
async fn expire_current_token(env: &Env) -> BTreeMap<String, String> {
    let last = env.secret_data("clients-pypi").await;
    let stale = env.tmp.path().join("stale-mount");
    project_secret(&last, &stale);
    let deadline = expiry(&last) + chrono::TimeDelta::seconds(1);
    while Utc::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let uv_netrc = SCENARIOS
        .iter()
        .find(|sc| sc.example == "uv-netrc" && sc.secret == "clients-pypi")
        .expect("the uv-netrc scenario");
    let refused = run_scenario(
        uv_netrc,
        &stale,
        &last,
        &env.tmp.path().join("stale-run"),
        "http://127.0.0.1:9/unused/",
    );
    assert!(
        !refused.status.success(),
        "uv with an expired token in the .netrc must be refused"
    );
    last
}

/// `kubectl describe` says how to use the Secret, never the token.
fn assert_describe_shows_usage(env: &Env) {
    let described =
        run(&mut env
            .cp
            .kubectl(["describe", "pypirepo", "clients", "-n", env.ns.name()]));
    for needle in [
        "Secret Usage",
        "PIP_CONFIG_FILE=<dir>/pip.conf",
        "UV_INDEX_CODEARTIFACT_PASSWORD",
        "POETRY_HTTP_BASIC_CODEARTIFACT_USERNAME",
        "poetry-source.toml",
        ".netrc",
    ] {
        assert!(
            described.contains(needle),
            "describe lacks {needle}:\n{described}"
        );
    }
    let named = run(&mut env
        .cp
        .kubectl(["describe", "pypirepo", "named", "-n", env.ns.name()]));
    assert!(named.contains("UV_INDEX_TEAM_PKGS_PASSWORD"), "{named}");
    for t in env.emulator.issued_tokens() {
        assert!(
            !described.contains(&t) && !named.contains(&t),
            "a token leaked into kubectl describe"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_installs_with_its_rendering_and_the_next_run_after_a_refresh_works() {
    for tool in ["pip", "uv", "poetry", "twine"] {
        assert!(
            venv().join("bin").join(tool).exists(),
            "{tool} missing from the test venv: run `make pytools`"
        );
    }
    // 30x clock: a 3600 s token lives 120 s and is replaced a quarter of that (30 s) before it expires,
    // so every run starts with a token that is valid for at least 30 s.
    let env = setup(
        "clients",
        Options {
            clock_speed: 30.0,
            ..Options::default()
        },
    )
    .await;
    let mounts_root = env.tmp.path().join("mounts");
    let (mounts, pypi) = create_repositories_and_workloads(&env, &mounts_root).await;
    let files_before = pyprojects(&env);

    let started = Instant::now();
    run_all(&env, 1, &mounts, &pypi);
    eprintln!("run 1 of every scenario: {:.1?}", started.elapsed());

    let last = expire_current_token(&env).await;

    // The kubelet updates the mounted files; the workloads run again unchanged.
    let mounts = project_all(&env, &mounts_root).await;
    for (secret, (_, data)) in &mounts {
        assert_ne!(
            data["token"], last["token"],
            "{secret} holds a refreshed token"
        );
    }
    let started = Instant::now();
    run_all(&env, 2, &mounts, &pypi);
    eprintln!("run 2 of every scenario: {:.1?}", started.elapsed());
    assert_eq!(
        pyprojects(&env),
        files_before,
        "the workloads' files did not change"
    );

    assert_describe_shows_usage(&env);
    env.assert_no_token_leaks().await;
}
