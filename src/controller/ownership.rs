//! Ownership markers: tags the operator puts on what it creates, so it can
//! tell its own CodeArtifact resources from everyone else's. Pure.

use std::collections::BTreeMap;

/// Tag: the cluster whose operator created the resource.
pub const TAG_CLUSTER: &str = "codeartifact-operator.dev/cluster";
/// Tag: `namespace/name` of the PypiRepository that created it.
pub const TAG_OWNER: &str = "codeartifact-operator.dev/owner";
/// Tag: uid of the PypiRepository that created it (repositories only).
pub const TAG_UID: &str = "codeartifact-operator.dev/uid";

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
        (
            TAG_OWNER.to_string(),
            format!("{}/{}", owner.namespace, owner.name),
        ),
        (TAG_UID.to_string(), owner.uid.clone()),
    ])
}

/// Marker tags for a domain the operator creates. Domains are shared by many
/// PypiRepositories, so the marker names the cluster, and the creator only for
/// information.
pub fn domain_marker(owner: &Owner) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_CLUSTER.to_string(), owner.cluster.clone()),
        (
            TAG_OWNER.to_string(),
            format!("{}/{}", owner.namespace, owner.name),
        ),
    ])
}

/// Whether this PypiRepository created the repository with these tags.
pub fn owns_repository(tags: &BTreeMap<String, String>, owner: &Owner) -> bool {
    tags.get(TAG_CLUSTER) == Some(&owner.cluster) && tags.get(TAG_UID) == Some(&owner.uid)
}

/// Whether this cluster's operator created the domain with these tags.
pub fn owns_domain(tags: &BTreeMap<String, String>, owner: &Owner) -> bool {
    tags.get(TAG_CLUSTER) == Some(&owner.cluster)
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
