//! `spec.endpoint` of a PypiRepository: which repository endpoint the
//! Secret and status name (IPv4 or dual-stack, or an interface VPC endpoint
//! without private DNS).

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How clients reach the repository.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[x_kube(validation = Rule::new("!has(self.vpcEndpointDnsName) || !has(self.type)").message("spec.endpoint: type selects a public endpoint; with vpcEndpointDnsName leave it out"))]
#[serde(rename_all = "camelCase")]
pub struct EndpointSpec {
    /// `ipv4` (the default) or `dualstack`: passed to GetRepositoryEndpoint
    /// as its endpointType, so that IPv6-only pods get an endpoint they can
    /// reach.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<EndpointType>,

    /// DNS name of an interface VPC endpoint for the service
    /// `com.amazonaws.REGION.codeartifact.repositories` that has private
    /// DNS turned off, as `aws ec2 describe-vpc-endpoints` lists it, such as
    /// `vpce-0743fe535b883ffff-76ddffff.d.codeartifact.us-west-2.vpce.amazonaws.com`.
    /// The Secret and status then name
    /// `https://<this name>/pypi/d/<domain>-<owner>/<repository>/`, the form
    /// AWS documents for such endpoints. Only AWS VPC endpoint names are
    /// accepted, so a token is never written for another host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        regex(
            pattern = r"^vpce-[a-z0-9]+(-[a-z0-9]+)+\.d\.codeartifact\.[a-z0-9-]+\.vpce\.amazonaws\.com(\.cn)?$"
        )
    )]
    pub vpc_endpoint_dns_name: Option<String>,
}

/// `ipv4` (the default) or `dualstack`: the endpointType the operator asks
/// GetRepositoryEndpoint for; dual-stack endpoints also reach IPv6-only pods.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EndpointType {
    /// An IPv4 endpoint (CodeArtifact's default).
    #[default]
    Ipv4,
    /// An endpoint reachable over IPv4 and IPv6.
    Dualstack,
}

impl EndpointType {
    /// The value GetRepositoryEndpoint takes.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointType::Ipv4 => "ipv4",
            EndpointType::Dualstack => "dualstack",
        }
    }
}

/// The repository endpoint on an interface VPC endpoint without private DNS:
/// `https://{vpce}/pypi/d/{domain}-{owner}/{repository}/` (AWS user guide,
/// "Use the codeartifact.repositories endpoint without private DNS"), with
/// the trailing slash GetRepositoryEndpoint always returns.
pub fn vpc_endpoint_url(vpce: &str, domain: &str, owner: &str, repository: &str) -> String {
    format!("https://{vpce}/pypi/d/{domain}-{owner}/{repository}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vpc_url_has_the_documented_shape() {
        assert_eq!(
            vpc_endpoint_url(
                "vpce-0743fe535b883ffff-76ddffff.d.codeartifact.us-west-2.vpce.amazonaws.com",
                "my-domain",
                "111122223333",
                "my-repo"
            ),
            "https://vpce-0743fe535b883ffff-76ddffff.d.codeartifact.us-west-2.vpce.amazonaws.com/pypi/d/my-domain-111122223333/my-repo/"
        );
    }

    #[test]
    fn endpoint_types_are_the_api_values() {
        assert_eq!(EndpointType::Dualstack.as_str(), "dualstack");
        assert_eq!(EndpointType::Ipv4.as_str(), "ipv4");
        let t: EndpointType = serde_json::from_str("\"dualstack\"").unwrap();
        assert_eq!(t, EndpointType::Dualstack);
    }
}
