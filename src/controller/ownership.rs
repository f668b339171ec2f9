//! Ownership markers: tags the operator puts on what it creates (and, with
//! `--tenancy=strict`, on what it adopts), so it can tell its own CodeArtifact
//! resources from everyone else's. [`claim`] is the one "is it ours" rule.
//! Pure.

use std::collections::BTreeMap;

/// Tag: the cluster whose operator created the resource.
pub const TAG_CLUSTER: &str = "codeartifact-operator.dev/cluster";
/// Tag: `namespace/name` of the PypiRepository that created it.
pub const TAG_OWNER: &str = "codeartifact-operator.dev/owner";
/// Tag: uid of the PypiRepository that created it (repositories only).
pub const TAG_UID: &str = "codeartifact-operator.dev/uid";
/// Tag: present when the marked object adopted the repository rather than
/// created it, so that it is never deleted.
pub const TAG_ADOPTED: &str = "codeartifact-operator.dev/adopted";

/// CodeArtifact's longest tag value.
const TAG_VALUE_MAX: usize = 256;

/// Who holds a repository, according to its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This object: created by it (`adopted: false`) or adopted by it.
    Ours {
        /// Whether it was adopted (never deleted) rather than created.
        adopted: bool,
    },
    /// Another object or another cluster, in words for a message.
    Elsewhere(String),
    /// No marker at all: made by hand or by another tool.
    Unmarked,
}

/// The one "is it ours" rule: the cluster and uid tags must both be this
/// object's. A marker of another uid or another cluster is someone else's.
pub fn claim(tags: &BTreeMap<String, String>, me: &Owner) -> Claim {
    match (tags.get(TAG_CLUSTER), tags.get(TAG_UID)) {
        (None, None) => Claim::Unmarked,
        (Some(c), Some(u)) if *c == me.cluster && *u == me.uid => Claim::Ours {
            adopted: tags.contains_key(TAG_ADOPTED),
        },
        (Some(c), _) if *c != me.cluster => Claim::Elsewhere(format!("cluster {c}")),
        _ => Claim::Elsewhere(match tags.get(TAG_OWNER) {
            Some(o) => format!("PypiRepository {o} in this cluster"),
            None => "another PypiRepository in this cluster".into(),
        }),
    }
}

/// Marker tags for a repository this PypiRepository adopts: its own marker
/// plus [`TAG_ADOPTED`], so no other object takes it and nobody deletes it.
pub fn adoption_marker(owner: &Owner) -> BTreeMap<String, String> {
    let mut tags = repository_marker(owner);
    tags.insert(TAG_ADOPTED.to_string(), "true".to_string());
    tags
}

/// `namespace/name`, cut to fit a tag value; informational only (the uid decides).
fn owner_value(owner: &Owner) -> String {
    let full = format!("{}/{}", owner.namespace, owner.name);
    full.chars().take(TAG_VALUE_MAX).collect()
}

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The operator's cluster name.
    pub cluster: String,
    /// PypiRepository namespace.
    pub namespace: String,
    /// PypiRepository name.
    pub name: String,
    /// PypiRepository uid.
    pub uid: String,
}

/// Marker tags for a repository this PypiRepository creates.
pub fn repository_marker(owner: &Owner) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_CLUSTER.to_string(), owner.cluster.clone()),
        (TAG_OWNER.to_string(), owner_value(owner)),
        (TAG_UID.to_string(), owner.uid.clone()),
    ])
}

/// Marker tags for a domain the operator creates. Domains are shared by many
/// PypiRepositories, so the marker names the cluster, and the creator only for
/// information.
pub fn domain_marker(owner: &Owner) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_CLUSTER.to_string(), owner.cluster.clone()),
        (TAG_OWNER.to_string(), owner_value(owner)),
    ])
}

/// Whether this PypiRepository created (not adopted) the repository with these tags.
pub fn owns_repository(tags: &BTreeMap<String, String>, owner: &Owner) -> bool {
    claim(tags, owner) == Claim::Ours { adopted: false }
}

/// Whether this cluster's operator created the domain with these tags.
pub fn owns_domain(tags: &BTreeMap<String, String>, owner: &Owner) -> bool {
    created_by_cluster(tags, &owner.cluster)
}

/// Whether the operator of cluster `cluster` created the domain with these tags.
pub fn created_by_cluster(tags: &BTreeMap<String, String>, cluster: &str) -> bool {
    tags.get(TAG_CLUSTER).map(String::as_str) == Some(cluster)
}

/// Tags to add or change, and keys to remove, to move `current` to `desired`.
/// Only keys in `managed` (what the operator applied before) are removed, so
/// tags set by others survive.
pub fn tag_changes(
    current: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
    managed: &[String],
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = desired
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = managed
        .iter()
        .filter(|k| !desired.contains_key(*k) && current.contains_key(*k))
        .cloned()
        .collect();
    (set, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Owner {
        Owner {
            cluster: "c1".into(),
            namespace: "ns".into(),
            name: "r".into(),
            uid: "u1".into(),
        }
    }

    #[test]
    fn repository_is_owned_only_with_same_cluster_and_uid() {
        let tags = repository_marker(&owner());
        assert!(owns_repository(&tags, &owner()));
        let other = Owner {
            uid: "u2".into(),
            ..owner()
        };
        assert!(
            !owns_repository(&tags, &other),
            "a recreated PypiRepository must not claim the old one's repository"
        );
        assert!(!owns_repository(&BTreeMap::new(), &owner()));
        let elsewhere = Owner {
            cluster: "c2".into(),
            ..owner()
        };
        assert!(!owns_repository(&tags, &elsewhere));
    }

    #[test]
    fn domain_is_owned_by_the_cluster() {
        let tags = domain_marker(&owner());
        assert!(owns_domain(
            &tags,
            &Owner {
                name: "other".into(),
                uid: "u9".into(),
                ..owner()
            }
        ));
        assert!(!owns_domain(
            &tags,
            &Owner {
                cluster: "c2".into(),
                ..owner()
            }
        ));
    }

    #[test]
    fn claim_tells_ours_from_another_object_another_cluster_and_nobody() {
        let me = owner();
        assert_eq!(
            claim(&repository_marker(&me), &me),
            Claim::Ours { adopted: false }
        );
        assert_eq!(
            claim(&adoption_marker(&me), &me),
            Claim::Ours { adopted: true }
        );
        assert!(
            !owns_repository(&adoption_marker(&me), &me),
            "an adopted repository is never deleted"
        );
        let other = Owner {
            uid: "u2".into(),
            namespace: "demo".into(),
            name: "web".into(),
            ..owner()
        };
        assert_eq!(
            claim(&repository_marker(&other), &me),
            Claim::Elsewhere("PypiRepository demo/web in this cluster".into())
        );
        let far = Owner {
            cluster: "c2".into(),
            ..owner()
        };
        assert_eq!(
            claim(&repository_marker(&far), &me),
            Claim::Elsewhere("cluster c2".into())
        );
        assert_eq!(claim(&BTreeMap::new(), &me), Claim::Unmarked);
        let user_tags = BTreeMap::from([("team".to_string(), "a".to_string())]);
        assert_eq!(claim(&user_tags, &me), Claim::Unmarked);
        let half = BTreeMap::from([(TAG_UID.to_string(), "u1".to_string())]);
        assert!(
            matches!(claim(&half, &me), Claim::Elsewhere(_)),
            "a partial marker is never taken for ours"
        );
    }

    #[test]
    fn marker_values_fit_codeartifact_tag_limits() {
        let long = Owner {
            namespace: "n".repeat(63),
            name: "x".repeat(253),
            ..owner()
        };
        for tags in [repository_marker(&long), domain_marker(&long)] {
            assert!(tags.values().all(|v| v.chars().count() <= 256), "{tags:?}");
        }
    }

    #[test]
    fn tag_changes_set_missing_and_remove_only_managed_keys() {
        let current = BTreeMap::from([
            ("a".into(), "1".into()),
            ("b".into(), "old".into()),
            ("theirs".into(), "x".into()),
            ("gone".into(), "y".into()),
        ]);
        let desired = BTreeMap::from([
            ("a".into(), "1".into()),
            ("b".into(), "new".into()),
            ("c".into(), "3".into()),
        ]);
        let (set, remove) = tag_changes(
            &current,
            &desired,
            &["a".into(), "gone".into(), "never-there".into()],
        );
        assert_eq!(
            set,
            BTreeMap::from([("b".into(), "new".into()), ("c".into(), "3".into())])
        );
        assert_eq!(remove, vec!["gone".to_string()]);
    }
}
