//! Unit tests of token freshness, scheduling and the shared cache.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::TimeZone;

use super::*;
use crate::aws::AuthToken;

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(s, 0).unwrap()
}

fn token(issued: i64, expires: i64) -> IssuedToken {
    IssuedToken {
        token: AuthToken::new(format!("t{issued}")),
        issued_at: at(issued),
        expires_at: at(expires),
    }
}

fn key(domain: &str) -> TokenKey {
    TokenKey {
        identity: "operator".into(),
        region: "us-west-2".into(),
        owner: None,
        domain: domain.into(),
        duration_seconds: 43_200,
        limit: TokenLimit::Domain,
    }
}

#[test]
fn default_margin_is_a_quarter_of_the_lifetime() {
    let t = token(0, 43_200);
    assert_eq!(refresh_at(&t, None), at(32_400));
    assert!(is_fresh(&t, None, at(32_399)));
    assert!(!is_fresh(&t, None, at(32_400)));
}

#[test]
fn explicit_margin_is_used() {
    let t = token(0, 43_200);
    assert_eq!(refresh_at(&t, Some(Duration::from_secs(3_600))), at(39_600));
}

#[test]
fn margin_never_exceeds_half_the_lifetime() {
    // A session-bound token of one hour with a 3h margin would otherwise be stale at birth.
    let t = token(0, 3_600);
    assert_eq!(refresh_at(&t, Some(Duration::from_secs(10_800))), at(1_800));
    assert!(is_fresh(&t, Some(Duration::from_secs(10_800)), at(0)));
}

#[test]
fn requeue_waits_until_refresh_within_bounds() {
    let resync = Duration::from_secs(600);
    assert_eq!(
        next_requeue(at(100), at(40), resync),
        Duration::from_secs(60)
    );
    assert_eq!(next_requeue(at(10_000), at(0), resync), resync);
    assert_eq!(next_requeue(at(0), at(50), resync), Duration::from_secs(1));
}

#[test]
fn scope_names_region_owner_domain_and_duration() {
    assert_eq!(key("d").scope(), "us-west-2/self/d/43200");
    let mut k = key("d");
    k.owner = Some("111122223333".into());
    assert_eq!(k.scope(), "us-west-2/111122223333/d/43200");
}

#[tokio::test]
async fn one_mint_serves_every_caller_while_fresh() {
    let cache = TokenCache::default();
    let mints = AtomicUsize::new(0);
    for _ in 0..5 {
        let (_, _) = cache
            .get_or_mint(
                &key("d"),
                |t| is_fresh(t, None, at(10)),
                || async {
                    mints.fetch_add(1, Ordering::SeqCst);
                    Ok(token(0, 43_200))
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(mints.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn stale_token_is_replaced_and_domains_are_separate() {
    let cache = TokenCache::default();
    let mint = |issued| move || async move { Ok(token(issued, issued + 43_200)) };
    let (_, s) = cache
        .get_or_mint(&key("a"), |_| true, mint(0))
        .await
        .unwrap();
    assert_eq!(s, TokenSource::Minted);
    let (_, s) = cache
        .get_or_mint(&key("b"), |_| true, mint(0))
        .await
        .unwrap();
    assert_eq!(s, TokenSource::Minted, "another domain needs its own token");
    let (t, s) = cache
        .get_or_mint(&key("a"), |t| is_fresh(t, None, at(40_000)), mint(40_000))
        .await
        .unwrap();
    assert_eq!((s, t.issued_at), (TokenSource::Minted, at(40_000)));
}

#[tokio::test]
async fn failed_mint_is_returned_and_nothing_is_cached() {
    let cache = TokenCache::default();
    let err = crate::aws::AwsError {
        operation: "GetAuthorizationToken",
        kind: crate::aws::AwsErrorKind::Throttling,
        message: "slow down".into(),
    };
    let e = cache
        .get_or_mint(&key("a"), |_| true, || async { Err(err.clone()) })
        .await
        .unwrap_err();
    assert_eq!(e, err);
    let (_, s) = cache
        .get_or_mint(&key("a"), |_| true, || async { Ok(token(0, 10)) })
        .await
        .unwrap();
    assert_eq!(s, TokenSource::Minted);
}

fn valued(value: &str, issued: i64, expires: i64) -> IssuedToken {
    IssuedToken {
        token: AuthToken::new(value),
        ..token(issued, expires)
    }
}

#[test]
fn only_url_safe_past_issued_tokens_of_at_most_twelve_hours_are_well_formed() {
    let now = at(1_000);
    assert!(is_well_formed(
        &valued("eyJ2ZXIiOjF9.a-b_c~d", 0, 43_200),
        now
    ));
    // CodeArtifact's clock a second ahead of the operator's: still a 12 h token.
    assert!(is_well_formed(&valued("abc", 1_000, 44_201), now));
    for (why, bad) in [
        ("newline", valued("abc\n[global]", 0, 43_200)),
        ("space", valued("abc def", 0, 43_200)),
        ("quote", valued("abc\"", 0, 43_200)),
        ("at sign", valued("a@evil.example", 0, 43_200)),
        ("empty", valued("", 0, 43_200)),
        ("issued in the future", valued("abc", 2_000, 3_000)),
        (
            "longer than 12 h beyond clock skew",
            valued("abc", 0, 43_200 + 301),
        ),
        ("expired before issued", valued("abc", 500, 400)),
    ] {
        assert!(!is_well_formed(&bad, now), "{why}");
    }
}

#[tokio::test]
async fn tokens_of_different_identities_never_mix() {
    let cache = TokenCache::default();
    let mine = key("a");
    let theirs = TokenKey {
        identity: "role/other".into(),
        ..key("a")
    };
    assert_ne!(mine.scope(), theirs.scope());
    cache
        .get_or_mint(&mine, |_| true, || async { Ok(token(0, 43_200)) })
        .await
        .unwrap();
    let (_, s) = cache
        .get_or_mint(&theirs, |_| true, || async { Ok(token(1, 43_200)) })
        .await
        .unwrap();
    assert_eq!(
        s,
        TokenSource::Minted,
        "another identity gets its own token"
    );
}

fn limited(name: &str, access: RepositoryAccess) -> TokenKey {
    TokenKey {
        identity: "arn:aws:iam::111122223333:role/team".into(),
        limit: TokenLimit::Repository {
            name: name.into(),
            access,
        },
        ..key("a")
    }
}

#[test]
fn scopes_say_which_repository_and_access_a_token_holds() {
    assert_eq!(
        key("a").scope(),
        "us-west-2/self/a/43200",
        "unchanged for existing Secrets"
    );
    assert_eq!(
        limited("team-a", RepositoryAccess::Read).scope(),
        "arn:aws:iam::111122223333:role/team:us-west-2/self/a/43200/repository/team-a:RepositoryRead"
    );
    assert!(
        limited("team-a", RepositoryAccess::Publish)
            .scope()
            .ends_with("/repository/team-a:RepositoryPublish")
    );
}

#[tokio::test]
async fn repository_tokens_are_shared_only_with_exactly_the_same_scope() {
    let cache = TokenCache::default();
    let read_a = limited("team-a", RepositoryAccess::Read);
    cache
        .get_or_mint(&read_a, |_| true, || async { Ok(token(0, 43_200)) })
        .await
        .unwrap();
    let (_, same) = cache
        .get_or_mint(&read_a.clone(), |_| true, || async { Ok(token(1, 43_200)) })
        .await
        .unwrap();
    assert_eq!(
        same,
        TokenSource::Cached,
        "the same repository and access share"
    );
    let domain_wide = TokenKey {
        limit: TokenLimit::Domain,
        ..read_a.clone()
    };
    for other in [
        limited("team-b", RepositoryAccess::Read),
        limited("team-a", RepositoryAccess::Publish),
        domain_wide,
    ] {
        assert_ne!(other.scope(), read_a.scope());
        let (_, s) = cache
            .get_or_mint(&other, |_| true, || async { Ok(token(2, 43_200)) })
            .await
            .unwrap();
        assert_eq!(s, TokenSource::Minted, "{other:?} gets its own token");
    }
}
