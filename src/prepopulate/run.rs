//! One bounded slice of a plan: for each requirement, the project page, the
//! version choice, one file of that version (which makes the repository keep the
//! whole version) and, for dependencies, its core metadata.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Url;

use super::fetch::{FetchError, Fetcher};
use super::index::{IndexFile, choose};
use super::metadata::{dependencies, wheel_metadata};
use super::plan::{Item, Plan, pin};
use super::target::Target;
use crate::crd::PrepopulateFailureReason;

/// The most requirements one reconcile works on.
pub const MAX_ITEMS_PER_RUN: usize = 25;
/// A run stops taking new requirements after this long.
pub const RUN_TIME_BUDGET: Duration = Duration::from_secs(30);

/// What one slice did, for logs and metrics.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Slice {
    /// Requirements worked on.
    pub items: usize,
    /// Files downloaded (each makes the repository keep one version).
    pub files: usize,
    /// Index pages read.
    pub pages: usize,
    /// PEP 658 metadata files read.
    pub metadata: usize,
}

/// Works on `plan` until it is done or the budget is spent.
pub async fn run_slice(plan: &mut Plan, fetcher: &Fetcher, target: &Target) -> Slice {
    let started = Instant::now();
    let mut pages: HashMap<String, Option<(Url, Vec<IndexFile>)>> = HashMap::new();
    let mut slice = Slice::default();
    while let Some(item) = plan.next_item() {
        if slice.items >= MAX_ITEMS_PER_RUN || started.elapsed() >= RUN_TIME_BUDGET {
            plan.put_back(item);
            break;
        }
        slice.items += 1;
        if let Err((reason, message)) =
            satisfy(plan, &item, fetcher, target, &mut pages, &mut slice).await
        {
            plan.failed(&item, reason, message);
        }
    }
    slice
}

type Failure = (PrepopulateFailureReason, String);

fn fetch_failed(e: FetchError) -> Failure {
    (PrepopulateFailureReason::FetchFailed, e.to_string())
}

async fn satisfy(
    plan: &mut Plan,
    item: &Item,
    fetcher: &Fetcher,
    target: &Target,
    pages: &mut HashMap<String, Option<(Url, Vec<IndexFile>)>>,
    slice: &mut Slice,
) -> Result<(), Failure> {
    let project = item.requirement.name.to_string();
    if !pages.contains_key(&project) {
        let page = fetcher.project(&project).await.map_err(fetch_failed)?;
        slice.pages += 1;
        pages.insert(project.clone(), page);
    }
    let Some((page, files)) = pages.get(&project).and_then(Option::as_ref) else {
        return Err((
            PrepopulateFailureReason::NotFound,
            format!("the index has no project {project}"),
        ));
    };
    let choice = choose(files, item.specifiers(), target, plan.prereleases)?;
    if !plan.needs_fetch(item, &choice.version) {
        plan.cached(item, &choice.version, Vec::new());
        return Ok(());
    }
    let file = &choice.file;
    let from_wheel = plan.dependencies && file.is_wheel() && !file.has_metadata;
    let bytes = fetcher
        .file(page, file, from_wheel)
        .await
        .map_err(fetch_failed)?;
    slice.files += 1;
    let pinned = pin(item, &choice.version);
    let metadata = if plan.dependencies {
        core_metadata(fetcher, page, file, bytes, slice, &pinned).await?
    } else {
        None
    };
    let (deps, invalid) = metadata
        .map(|m| dependencies(&m, &item.requirement.extras, target))
        .unwrap_or_default();
    for (line, message) in invalid {
        plan.invalid_dependency(&pinned, line, message);
    }
    plan.cached(item, &choice.version, deps);
    Ok(())
}

/// The core metadata of a fetched file: PEP 658 when the index offers it, else
/// the wheel's METADATA; `None` for an sdist (or a huge wheel) without PEP 658.
async fn core_metadata(
    fetcher: &Fetcher,
    page: &Url,
    file: &IndexFile,
    bytes: Option<Vec<u8>>,
    slice: &mut Slice,
    pinned: &str,
) -> Result<Option<String>, Failure> {
    if file.has_metadata {
        slice.metadata += 1;
        return Ok(Some(
            fetcher
                .core_metadata(page, file)
                .await
                .map_err(fetch_failed)?,
        ));
    }
    match bytes {
        Some(b) if file.is_wheel() => wheel_metadata(&b).map(Some).map_err(|e| {
            (
                PrepopulateFailureReason::NoCompatibleFile,
                format!("{}: {e}", file.filename),
            )
        }),
        _ => {
            // Following an sdist's dependencies would need a build, which the operator never does.
            tracing::info!(package = %pinned, file = %file.filename, "cached; dependencies not followed: no wheel metadata");
            Ok(None)
        }
    }
}
