//! Unit tests of the emulator's state: name normalisation, upstream search order, package keys and copy-on-write sharing.

use super::*;

#[test]
fn pep503_normalisation() {
    assert_eq!(normalize("Demo_Pkg"), "demo-pkg");
    assert_eq!(normalize("demo.pkg"), "demo-pkg");
    assert_eq!(normalize("A-_.-b"), "a-b");
    assert_eq!(normalize("zope.interface"), "zope-interface");
    assert_eq!(normalize("requests"), "requests");
}

fn repo(name: &str, upstreams: &[&str]) -> Arc<Repository> {
    Arc::new(Repository {
        name: name.into(),
        description: None,
        upstreams: upstreams.iter().map(|u| u.to_string()).collect(),
        external_connections: vec![],
        created: 0.0,
        tags: BTreeMap::new(),
        policy: None,
        packages: BTreeMap::new(),
    })
}

fn domain(repositories: Vec<Arc<Repository>>) -> Domain {
    Domain {
        name: "d".into(),
        owner: "111122223333".into(),
        created: 0.0,
        encryption_key: String::new(),
        tags: BTreeMap::new(),
        policy: None,
        repositories,
        package_groups: package_groups::root_only(),
    }
}

#[test]
fn a_copy_shares_what_a_mutation_of_it_leaves_alone() {
    let before = State {
        domains: vec![
            Arc::new(domain(vec![repo("a", &[]), repo("b", &["a"])])),
            Arc::new(Domain {
                name: "other".into(),
                ..domain(vec![repo("x", &[])])
            }),
        ],
        tokens: vec![],
    };
    let mut draft = before.clone();
    draft
        .repository_mut("111122223333", "d", "b")
        .unwrap()
        .upstreams
        .clear();
    // The original is untouched (a failed mutation's draft is simply dropped)...
    assert_eq!(
        before
            .repository("111122223333", "d", "b")
            .unwrap()
            .upstreams,
        ["a"]
    );
    assert!(
        draft
            .repository("111122223333", "d", "b")
            .unwrap()
            .upstreams
            .is_empty()
    );
    // ...and only the changed repository and its domain were copied.
    let (old, new) = (&before.domains[0], &draft.domains[0]);
    assert!(!Arc::ptr_eq(old, new));
    assert!(Arc::ptr_eq(&old.repositories[0], &new.repositories[0]));
    assert!(!Arc::ptr_eq(&old.repositories[1], &new.repositories[1]));
    assert!(Arc::ptr_eq(&before.domains[1], &draft.domains[1]));
}

#[test]
fn search_order_is_depth_first_once_each_and_capped() {
    let mut d = domain(vec![
        repo("a", &["b", "c"]),
        repo("b", &["d"]),
        repo("c", &["d", "a"]),
        repo("d", &[]),
    ]);
    let names: Vec<_> = d.search_order("a").iter().map(|r| r.name.clone()).collect();
    assert_eq!(names, ["a", "b", "d", "c"]);
    let chain: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
    d.repositories = (0..40)
        .map(|i| {
            let up: Vec<&str> = chain.get(i + 1).map(|s| s.as_str()).into_iter().collect();
            repo(&chain[i], &up)
        })
        .collect();
    assert_eq!(d.search_order("r0").len(), MAX_SEARCHED);
}

#[test]
fn package_keys_are_unique_per_format_namespace_and_name() {
    assert_eq!(package_key("pypi", None, "x"), "pypi//x");
    assert_ne!(
        package_key("npm", Some("a"), "x"),
        package_key("npm", None, "x")
    );
}
