//! The schema of a permissions policy (a CodeArtifact resource policy) as a
//! spec field: an IAM policy document written as YAML, checked for shape by
//! the apiserver; its size is checked by the operator (see `crate::permissions`).

/// The longest policy document CodeArtifact accepts, in characters of JSON
/// (the `PolicyDocument` shape of the service model: 1 to 7168).
pub const MAX_POLICY_CHARS: usize = 7168;

const STATEMENT_RULES: [(&str, &str); 3] = [
    (
        "has(self.Action) != has(self.NotAction)",
        "each statement of permissionsPolicy needs exactly one of Action and NotAction",
    ),
    (
        "has(self.Resource) != has(self.NotResource)",
        "each statement of permissionsPolicy needs exactly one of Resource and NotResource",
    ),
    (
        "has(self.Principal) != has(self.NotPrincipal)",
        "each statement of permissionsPolicy needs exactly one of Principal and NotPrincipal (a resource policy names who it applies to)",
    ),
];

/// The schema of `spec.permissionsPolicy` on both kinds: `Version`, a list
/// of `Statement`s with `Effect`, and the IAM elements left free-form where
/// IAM allows a string or a list (Action, Principal, Resource, Condition).
pub(super) fn policy_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let any = schemars::json_schema!({"x-kubernetes-preserve-unknown-fields": true});
    let rules: Vec<serde_json::Value> = STATEMENT_RULES
        .iter()
        .map(|(rule, message)| serde_json::json!({"rule": rule, "message": message}))
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
                "description": "The statements (a list, even for one statement).",
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
                    "x-kubernetes-validations": rules
                }
            }
        }
    })
}
