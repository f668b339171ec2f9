//! The schema of a permissions policy (a CodeArtifact resource policy) as a
//! spec field: an IAM policy document written as YAML, checked for shape by
//! the apiserver; its size is checked by the operator (see `crate::permissions`).

/// The longest policy document CodeArtifact accepts, in characters of JSON
/// (the `PolicyDocument` shape of the service model: 1 to 7168).
pub const MAX_POLICY_CHARS: usize = 7168;

/// Pairs of which a statement holds exactly one. CEL cannot see free-form
/// fields (`x-kubernetes-preserve-unknown-fields` without a type), so this is
/// an OpenAPI `oneOf` of `required`s rather than a rule.
const EXACTLY_ONE: [(&str, &str); 3] = [
    ("Action", "NotAction"),
    ("Resource", "NotResource"),
    ("Principal", "NotPrincipal"),
];

/// The schema of `spec.permissionsPolicy` on both kinds: `Version`, a list
/// of `Statement`s with `Effect`, and the IAM elements left free-form where
/// IAM allows a string or a list (Action, Principal, Resource, Condition).
pub(super) fn policy_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let any = schemars::json_schema!({"x-kubernetes-preserve-unknown-fields": true});
    let pairs: Vec<serde_json::Value> = EXACTLY_ONE
        .iter()
        .map(|(a, b)| serde_json::json!({"oneOf": [{"required": [a]}, {"required": [b]}]}))
        .collect();
    schemars::json_schema!({
        "type": "object",
        "required": ["Version", "Statement"],
        "properties": {
            "Version": {
                "type": "string",
                "enum": ["2012-10-17", "2008-10-17"],
                "description": "The IAM policy language version; use 2012-10-17."
            },
            "Id": {"type": "string", "maxLength": 128, "description": "Optional policy identifier."},
            "Statement": {
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "description": "The statements (a list, even for one statement). Each has an Effect and exactly one of Action and NotAction, of Resource and NotResource, and of Principal and NotPrincipal.",
                "items": {
                    "type": "object",
                    "required": ["Effect"],
                    "properties": {
                        "Sid": {"type": "string", "maxLength": 128, "pattern": "^[A-Za-z0-9]*$"},
                        "Effect": {"type": "string", "enum": ["Allow", "Deny"]},
                        "Principal": any,
                        "NotPrincipal": any,
                        "Action": any,
                        "NotAction": any,
                        "Resource": any,
                        "NotResource": any,
                        "Condition": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    },
                    "allOf": pairs
                }
            }
        }
    })
}
