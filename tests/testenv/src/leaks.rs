//! [`LeakScan`]: every place a token must never appear (operator logs and
//! metrics, Events, custom resources with their status), searched for every
//! token the emulator issued.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::events::v1::Event;
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::OperatorProcess;

/// Texts collected under a name each ("operator 0 log", "Events in ns-x" ...).
#[derive(Debug, Default)]
pub struct LeakScan {
    texts: Vec<(String, String)>,
}

impl LeakScan {
    /// An empty scan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `text` under the name `what`.
    pub fn text(&mut self, what: impl Into<String>, text: impl Into<String>) -> &mut Self {
        self.texts.push((what.into(), text.into()));
        self
    }

    /// Adds an operator's log and, while it runs, its /metrics page (a
    /// killed operator has no metrics to leak; its log is still scanned).
    ///
    /// # Panics
    /// If a running operator's /metrics does not answer.
    pub async fn operator(&mut self, what: &str, op: &OperatorProcess) -> &mut Self {
        self.text(format!("{what} log"), op.logs());
        if op.pid().is_some() {
            self.text(format!("{what} metrics"), op.metrics().await);
        }
        self
    }

    /// Adds every object of kind `K` in `namespace`, as JSON (status included).
    ///
    /// # Panics
    /// If they cannot be listed.
    pub async fn objects<K>(&mut self, client: &Client, namespace: &str, what: &str) -> &mut Self
    where
        K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned + Serialize,
        K::DynamicType: Default,
    {
        let api: Api<K> = Api::namespaced(client.clone(), namespace);
        let list = api
            .list(&Default::default())
            .await
            .unwrap_or_else(|e| panic!("listing {what} in {namespace}: {e}"));
        let json = serde_json::to_string(&list.items).unwrap_or_default();
        self.text(format!("{what} in {namespace}"), json)
    }

    /// Adds the Events (events.k8s.io/v1) in `namespace`.
    pub async fn events(&mut self, client: &Client, namespace: &str) -> &mut Self {
        self.objects::<Event>(client, namespace, "Events").await
    }

    /// Asserts that no token of `tokens` appears in any text; returns how
    /// many tokens were checked.
    ///
    /// # Panics
    /// If `tokens` is empty (the scenario should have minted some: a scan
    /// for nothing proves nothing), or naming the place a token leaked to.
    pub fn assert_clean(&self, tokens: &[String]) -> usize {
        assert!(!tokens.is_empty(), "the scenario should have minted tokens");
        for t in tokens {
            for (what, text) in &self.texts {
                assert!(!text.contains(t.as_str()), "a token leaked into the {what}");
            }
        }
        tokens.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_in_any_text_is_reported_by_place() {
        let mut scan = LeakScan::new();
        scan.text("operator log", "all quiet")
            .text("Events in a", "token=abc123 oops");
        assert_eq!(scan.assert_clean(&["zzz".to_string()]), 1);
        let caught = std::panic::catch_unwind(|| scan.assert_clean(&["abc123".to_string()]));
        let message = *caught.unwrap_err().downcast::<String>().unwrap();
        assert_eq!(message, "a token leaked into the Events in a");
    }

    #[test]
    #[should_panic(expected = "should have minted tokens")]
    fn scanning_for_no_token_fails() {
        LeakScan::new().text("log", "x").assert_clean(&[]);
    }
}
