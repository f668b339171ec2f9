//! Life cycle of a private control plane: kube-apiserver restart keeps the port
//! and the data, and dropping the `ControlPlane` stops every process and
//! removes its folder.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use testenv::{ControlPlane, wait_for};

/// True if PID runs; a zombie waiting to be reaped by init counts as stopped.
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[tokio::test]
async fn restarted_apiserver_keeps_objects_and_drop_removes_everything() -> Result<()> {
    let cp = ControlPlane::start()?;
    let kubeconfig_before = std::fs::read_to_string(cp.kubeconfig_path())?;
    let client = cp.client().await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let survivor = ConfigMap {
        metadata: ObjectMeta {
            name: Some("survivor".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    config_maps
        .create(&PostParams::default(), &survivor)
        .await?;

    let started = Instant::now();
    cp.restart_apiserver().await?;
    eprintln!(
        "kube-apiserver restarted in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // Same port, so the old kubeconfig and the old client still work.
    ensure!(
        std::fs::read_to_string(cp.kubeconfig_path())? == kubeconfig_before,
        "kubeconfig changed"
    );
    wait_for(Duration::from_secs(30), || async {
        config_maps.get("survivor").await.is_ok()
    })
    .await
    .context("the ConfigMap is not readable through the old client after the restart")?;

    let dir = cp.dir().to_path_buf();
    let pids: Vec<u32> = cp.pids()?.into_iter().map(|(_, pid)| pid).collect();
    ensure!(
        pids.iter().all(|&pid| is_running(pid)),
        "not all of {pids:?} run"
    );
    drop(cp);
    ensure!(!dir.exists(), "{} still exists after drop", dir.display());
    let running: Vec<_> = pids.into_iter().filter(|&pid| is_running(pid)).collect();
    ensure!(running.is_empty(), "still running after drop: {running:?}");
    Ok(())
}
