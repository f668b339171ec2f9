//! The work of one pre-population: requirements still to fetch, what is cached,
//! what failed. Pure; it survives between reconciles (in the object's state), so
//! each reconcile does a bounded slice of it.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::str::FromStr;

use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, MarkerTree, Requirement, VersionOrUrl};

use super::target::Target;
use crate::crd::{PrepopulateFailure, PrepopulateFailureReason, PrepopulateSpec};

/// Most requirements one pre-population may visit (listed ones and dependencies).
pub const MAX_REQUIREMENTS: usize = 1000;

/// One requirement to satisfy.
#[derive(Clone, Debug)]
pub struct Item {
    pub requirement: Requirement,
    /// `name==version` whose metadata asked for it; `None` for spec entries.
    pub required_by: Option<String>,
}

impl Item {
    /// The version specifiers, if any (URL requirements never enter a plan).
    pub fn specifiers(&self) -> Option<&VersionSpecifiers> {
        match &self.requirement.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(s)) => Some(s),
            _ => None,
        }
    }

    /// The text reported for this requirement.
    pub fn text(&self) -> String {
        self.requirement.to_string()
    }
}

/// What is left, what is done.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The spec.prepopulate this plan carries out.
    pub spec_hash: String,
    /// Follow Requires-Dist.
    pub dependencies: bool,
    /// Pre-releases allowed for every requirement.
    pub prereleases: bool,
    queue: VecDeque<Item>,
    /// Requirements queued once already (name, extras, specifiers; markers dropped).
    seen: HashSet<String>,
    /// Cached versions (`name==version`), with the extras whose dependencies were queued.
    cached: BTreeMap<String, BTreeSet<ExtraName>>,
    failed: Vec<PrepopulateFailure>,
}

impl Plan {
    /// A plan for `spec`: requirements that do not parse, or name a URL,
    /// fail at once; those whose markers exclude the target are left out.
    pub fn new(spec: &PrepopulateSpec, spec_hash: String, target: &Target) -> Self {
        let mut plan = Self {
            spec_hash,
            dependencies: spec.dependencies,
            prereleases: spec.prereleases,
            queue: VecDeque::new(),
            seen: HashSet::new(),
            cached: BTreeMap::new(),
            failed: Vec::new(),
        };
        for text in &spec.requirements {
            match parse(text) {
                Ok(r) if r.marker.evaluate(&target.env, &[]) => plan.push(r, None),
                Ok(_) => {}
                Err(message) => plan.failed.push(PrepopulateFailure {
                    requirement: text.clone(),
                    required_by: None,
                    reason: PrepopulateFailureReason::InvalidRequirement,
                    message,
                }),
            }
        }
        plan
    }

    fn push(&mut self, mut requirement: Requirement, required_by: Option<String>) {
        // The marker was evaluated already; dropping it makes equal requirements one.
        requirement.marker = MarkerTree::TRUE;
        if self.seen.len() >= MAX_REQUIREMENTS {
            self.failed.push(PrepopulateFailure {
                requirement: requirement.to_string(),
                required_by,
                reason: PrepopulateFailureReason::InvalidRequirement,
                message: format!(
                    "more than {MAX_REQUIREMENTS} requirements with dependencies; list fewer"
                ),
            });
            return;
        }
        if self.seen.insert(requirement.to_string()) {
            self.queue.push_back(Item {
                requirement,
                required_by,
            });
        }
    }

    /// The next requirement to work on.
    pub fn next_item(&mut self) -> Option<Item> {
        self.queue.pop_front()
    }

    /// Puts an item back at the front (the run's budget ran out before it).
    pub fn put_back(&mut self, item: Item) {
        self.queue.push_front(item);
    }

    /// Whether `version` of the item's package must still be fetched: not
    /// cached yet, or cached without the dependencies of the item's extras.
    pub fn needs_fetch(&self, item: &Item, version: &Version) -> bool {
        match self.cached.get(&pin(item, version)) {
            None => true,
            Some(done) => {
                self.dependencies && !item.requirement.extras.iter().all(|e| done.contains(e))
            }
        }
    }

    /// Records `version` as cached for `item` and queues its dependencies
    /// (already evaluated for the target and the item's extras).
    pub fn cached(&mut self, item: &Item, version: &Version, deps: Vec<Requirement>) {
        let pinned = pin(item, version);
        self.cached
            .entry(pinned.clone())
            .or_default()
            .extend(item.requirement.extras.iter().cloned());
        if self.dependencies {
            for d in deps {
                self.push(d, Some(pinned.clone()));
            }
        }
    }

    /// Records that `item` could not be cached.
    pub fn failed(&mut self, item: &Item, reason: PrepopulateFailureReason, message: String) {
        self.failed.push(PrepopulateFailure {
            requirement: item.text(),
            required_by: item.required_by.clone(),
            reason,
            message,
        });
    }

    /// Records a dependency line of `by` that is not valid PEP 508.
    pub fn invalid_dependency(&mut self, by: &str, line: String, message: String) {
        self.failed.push(PrepopulateFailure {
            requirement: line,
            required_by: Some(by.to_string()),
            reason: PrepopulateFailureReason::InvalidRequirement,
            message,
        });
    }

    /// Nothing is left to do.
    pub fn is_done(&self) -> bool {
        self.queue.is_empty()
    }

    /// Requirements still queued.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// The cached versions, sorted.
    pub fn cached_list(&self) -> Vec<String> {
        self.cached.keys().cloned().collect()
    }

    /// The failures, in the order they happened.
    pub fn failures(&self) -> &[PrepopulateFailure] {
        &self.failed
    }
}

/// `name==version` of an item's package.
pub fn pin(item: &Item, version: &Version) -> String {
    format!("{}=={version}", item.requirement.name)
}

/// Parses one requirement of the spec: PEP 508, and no direct URL (which an index cannot cache).
pub fn parse(text: &str) -> Result<Requirement, String> {
    let r = Requirement::from_str(text.trim())
        .map_err(|e| format!("not a PEP 508 requirement: {}", e.message))?;
    if matches!(r.version_or_url, Some(VersionOrUrl::Url(_))) {
        return Err("a direct URL reference cannot be cached through the index".into());
    }
    Ok(r)
}
