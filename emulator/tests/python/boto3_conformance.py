"""boto3 conformance scenario against the CodeArtifact emulator: an independent client (botocore's
own signer, serialiser and error parser) exercising every emulated operation.

Environment: EMULATOR_URL, EMULATOR_REGION, EMULATOR_KEY, EMULATOR_SECRET, EMULATOR_ACCOUNT.
Exits non-zero on the first failed check; prints "boto3 conformance OK: N checks" at the end.
"""

import datetime
import json
import os
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["EMULATOR_URL"]
REGION = os.environ["EMULATOR_REGION"]
ACCOUNT = os.environ["EMULATOR_ACCOUNT"]
CHECKS = 0


def client(secret=None, attempts=3):
    return boto3.client(
        "codeartifact",
        endpoint_url=URL,
        region_name=REGION,
        aws_access_key_id=os.environ["EMULATOR_KEY"],
        aws_secret_access_key=secret or os.environ["EMULATOR_SECRET"],
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def check(condition, what):
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"{fn.__name__}: expected {code}, got {got}: {e}")
        check(e.response["ResponseMetadata"].get("RequestId"), "error carries a request id")
        return e
    raise AssertionError(f"{fn.__name__} succeeded, expected {code}")


def admin(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{URL}/_emulator/{path}", data=data, method=method)
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")


def domains_and_repositories(ca):
    d = ca.create_domain(domain="boto-dom", tags=[{"key": "team", "value": "py"}])["domain"]
    check(d["arn"] == f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:domain/boto-dom", d["arn"])
    check(d["owner"] == ACCOUNT and d["repositoryCount"] == 0 and d["status"] == "Active", d)
    check(isinstance(d["createdTime"], datetime.datetime), "createdTime parses as a timestamp")
    expect_error("ConflictException", ca.create_domain, domain="boto-dom")
    e = expect_error("ValidationException", ca.create_domain, domain="Bad_Name")
    check("domain" in e.response["Error"]["Message"], "validation message names the field")
    check(ca.describe_domain(domain="boto-dom")["domain"]["name"] == "boto-dom", "describe")
    names = [x["name"] for p in ca.get_paginator("list_domains").paginate() for x in p["domains"]]
    check("boto-dom" in names, names)

    ca.create_repository(domain="boto-dom", repository="boto-up")
    r = ca.create_repository(
        domain="boto-dom",
        repository="boto-repo",
        description="from boto3",
        upstreams=[{"repositoryName": "boto-up"}],
    )["repository"]
    check([u["repositoryName"] for u in r["upstreams"]] == ["boto-up"], r)
    expect_error("ValidationException", ca.update_repository, domain="boto-dom",
                 repository="boto-up", upstreams=[{"repositoryName": "boto-repo"}])
    expect_error("ResourceNotFoundException", ca.describe_repository, domain="boto-dom",
                 repository="missing")
    r = ca.update_repository(domain="boto-dom", repository="boto-repo", upstreams=[])["repository"]
    check(r["upstreams"] == [] and r["description"] == "from boto3", r)
    pages = ca.get_paginator("list_repositories_in_domain").paginate(
        domain="boto-dom", PaginationConfig={"PageSize": 1})
    repos = [x["name"] for p in pages for x in p["repositories"]]
    check(repos == ["boto-repo", "boto-up"], repos)
    check(ca.describe_domain(domain="boto-dom")["domain"]["repositoryCount"] == 2, "count")


def connections_tokens_endpoints(ca):
    kw = dict(domain="boto-dom", repository="boto-repo", externalConnection="public:pypi")
    r = ca.associate_external_connection(**kw)["repository"]
    check(r["externalConnections"][0]["status"] == "Available", r)
    expect_error("ConflictException", ca.associate_external_connection, **kw)
    ca.disassociate_external_connection(**kw)
    expect_error("ResourceNotFoundException", ca.disassociate_external_connection, **kw)

    t = ca.get_authorization_token(domain="boto-dom", domainOwner=ACCOUNT, durationSeconds=900)
    check(t["authorizationToken"].startswith("caemu-"), "token prefix")
    left = (t["expiration"] - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    check(840 < left <= 905, f"expiration in about 900 s, got {left}")
    expect_error("ValidationException", ca.get_authorization_token, domain="boto-dom",
                 durationSeconds=100)
    ep = ca.get_repository_endpoint(domain="boto-dom", repository="boto-repo", format="pypi")
    check(ep["repositoryEndpoint"] == f"{URL}/pypi/d/boto-dom-{ACCOUNT}/boto-repo/", ep)


def tags_and_policies(ca):
    arn = f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:repository/boto-dom/boto-repo"
    ca.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    ca.untag_resource(resourceArn=arn, tagKeys=["a"])
    tags = ca.list_tags_for_resource(resourceArn=arn)["tags"]
    check(tags == [{"key": "b", "value": "2"}], tags)
    doc = json.dumps({"Version": "2012-10-17", "Statement": []})
    p = ca.put_domain_permissions_policy(domain="boto-dom", policyDocument=doc)["policy"]
    expect_error("ConflictException", ca.put_domain_permissions_policy, domain="boto-dom",
                 policyDocument=doc, policyRevision="stale")
    check(ca.get_domain_permissions_policy(domain="boto-dom")["policy"]["document"] == doc, "doc")
    ca.delete_domain_permissions_policy(domain="boto-dom", policyRevision=p["revision"])
    expect_error("ResourceNotFoundException", ca.get_domain_permissions_policy, domain="boto-dom")
    ca.put_repository_permissions_policy(domain="boto-dom", repository="boto-repo",
                                         policyDocument=doc)
    got = ca.get_repository_permissions_policy(domain="boto-dom", repository="boto-repo")
    check(got["policy"]["resourceArn"] == arn, got)
    ca.delete_repository_permissions_policy(domain="boto-dom", repository="boto-repo")


def packages(ca):
    kw = dict(domain="boto-dom", repository="boto-repo", format="pypi", package="Boto_Pkg")
    o = ca.put_package_origin_configuration(
        restrictions={"publish": "ALLOW", "upstream": "BLOCK"}, **kw)
    check(o["originConfiguration"]["restrictions"]["upstream"] == "BLOCK", o)
    pk = ca.list_packages(domain="boto-dom", repository="boto-repo")["packages"]
    check([p["package"] for p in pk] == ["boto-pkg"], pk)
    v = ca.list_package_versions(**kw)
    check(v["package"] == "boto-pkg" and v["versions"] == [], v)
    d = ca.delete_package_versions(versions=["1.0"], **kw)
    check(d["failedVersions"]["1.0"]["errorCode"] == "NOT_FOUND", d)
    d = ca.dispose_package_versions(versions=["1.0"], **kw)
    check(d["failedVersions"]["1.0"]["errorCode"] == "NOT_FOUND", d)
    c = ca.copy_package_versions(domain="boto-dom", sourceRepository="boto-repo",
                                 destinationRepository="boto-up", format="pypi",
                                 package="boto-pkg", versions=["1.0"])
    check(c["failedVersions"]["1.0"]["errorCode"] == "NOT_FOUND", c)


def auth_and_faults(ca):
    expect_error("AccessDeniedException", client(secret="wrong").list_domains)
    before = admin("GET", "calls").get("ListDomains", 0)
    admin("POST", "faults", {"operation": "ListDomains", "throttle": 1.0})
    try:
        expect_error("ThrottlingException", ca.list_domains)
    finally:
        admin("DELETE", "faults")
    attempts = admin("GET", "calls")["ListDomains"] - before
    check(attempts == 3, f"boto3 standard retries: 3 attempts counted, got {attempts}")


def cleanup(ca):
    expect_error("ConflictException", ca.delete_domain, domain="boto-dom")
    for repo in ("boto-repo", "boto-up"):
        ca.delete_repository(domain="boto-dom", repository=repo)
    check(ca.delete_domain(domain="boto-dom")["domain"]["name"] == "boto-dom", "deleted")
    expect_error("ResourceNotFoundException", ca.describe_domain, domain="boto-dom")


def main():
    ca = client()
    domains_and_repositories(ca)
    connections_tokens_endpoints(ca)
    tags_and_policies(ca)
    packages(ca)
    auth_and_faults(ca)
    cleanup(ca)
    print(f"boto3 conformance OK: {CHECKS} checks")


if __name__ == "__main__":
    main()
