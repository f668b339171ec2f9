"""boto3 conformance for package groups against the CodeArtifact emulator: every package group
operation through botocore's own serialiser and error parser, with the shapes AWS documents.

Environment: EMULATOR_URL, EMULATOR_REGION, EMULATOR_KEY, EMULATOR_SECRET, EMULATOR_ACCOUNT.
Prints "boto3 package groups OK: N checks" at the end; exits non-zero on the first failed check.
"""

import os

import boto3
from botocore.exceptions import ClientError

URL = os.environ["EMULATOR_URL"]
REGION = os.environ["EMULATOR_REGION"]
ACCOUNT = os.environ["EMULATOR_ACCOUNT"]
CHECKS = 0
D = "pg-dom"


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
        return e
    raise AssertionError(f"{fn.__name__} succeeded, expected {code}")


def arn(encoded):
    return f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:package-group/{D}/{encoded}"


def create_describe_update(ca):
    root = ca.describe_package_group(domain=D, packageGroup="/*")["packageGroup"]
    check(root["arn"] == arn("%2a"), root)
    check("parent" not in root, "the root has no parent")
    check(root["originConfiguration"]["restrictions"]["PUBLISH"]["mode"] == "ALLOW", root)
    g = ca.create_package_group(
        domain=D,
        packageGroup="/pypi//acme~",
        contactInfo="platform@acme.example",
        description="internal packages",
        tags=[{"key": "team", "value": "platform"}],
    )["packageGroup"]
    check(g["arn"] == arn("pypi//acme~"), g)
    check(g["parent"] == {"arn": arn("%2a"), "pattern": "/*"}, g)
    ext = g["originConfiguration"]["restrictions"]["EXTERNAL_UPSTREAM"]
    check(ext["mode"] == "INHERIT" and ext["effectiveMode"] == "ALLOW", ext)
    check(ext["inheritedFrom"]["pattern"] == "/*", ext)
    tags = ca.list_tags_for_resource(resourceArn=g["arn"])["tags"]
    check(tags == [{"key": "team", "value": "platform"}], tags)
    expect_error("ConflictException", ca.create_package_group, domain=D, packageGroup="/pypi//acme~")
    expect_error("ValidationException", ca.create_package_group, domain=D, packageGroup="/pypi//acme-~")
    expect_error("ValidationException", ca.create_package_group, domain=D, packageGroup="pypi")
    expect_error("ValidationException", ca.create_package_group, domain=D,
                 packageGroup="/pypi//x$", description="x" * 1001)
    u = ca.update_package_group(domain=D, packageGroup="/pypi//acme~", description="changed")
    check(u["packageGroup"]["description"] == "changed", u)
    check(u["packageGroup"]["contactInfo"] == "platform@acme.example", "absent member kept")
    expect_error("ResourceNotFoundException", ca.describe_package_group, domain=D,
                 packageGroup="/pypi//nothing$")


def origin_configuration(ca):
    ca.create_repository(domain=D, repository="team")
    out = ca.update_package_group_origin_configuration(
        domain=D,
        packageGroup="/pypi//acme~",
        restrictions={"EXTERNAL_UPSTREAM": "BLOCK", "PUBLISH": "ALLOW_SPECIFIC_REPOSITORIES"},
        addAllowedRepositories=[{"repositoryName": "team", "originRestrictionType": "PUBLISH"}],
    )
    check(out["allowedRepositoryUpdates"] == {"PUBLISH": {"ADDED": ["team"]}}, out)
    r = out["packageGroup"]["originConfiguration"]["restrictions"]
    check(r["EXTERNAL_UPSTREAM"]["effectiveMode"] == "BLOCK", r)
    check(r["PUBLISH"]["repositoriesCount"] == 1, r)
    allowed = ca.list_allowed_repositories_for_group(
        domain=D, packageGroup="/pypi//acme~", originRestrictionType="PUBLISH")
    check(allowed["allowedRepositories"] == ["team"], allowed)
    expect_error("ResourceNotFoundException", ca.update_package_group_origin_configuration,
                 domain=D, packageGroup="/pypi//acme~",
                 addAllowedRepositories=[{"repositoryName": "nope", "originRestrictionType": "PUBLISH"}])
    expect_error("ValidationException", ca.update_package_group_origin_configuration,
                 domain=D, packageGroup="/*", restrictions={"PUBLISH": "INHERIT"})


def association_and_tree(ca):
    ca.create_package_group(domain=D, packageGroup="/pypi//acme-billing$")
    a = ca.get_associated_package_group(domain=D, format="pypi", package="Acme_Billing")
    check(a["packageGroup"]["pattern"] == "/pypi//acme-billing$", a)
    check(a["associationType"] == "STRONG", a)
    inherited = a["packageGroup"]["originConfiguration"]["restrictions"]["EXTERNAL_UPSTREAM"]
    check(inherited["effectiveMode"] == "BLOCK", inherited)
    check(inherited["inheritedFrom"]["pattern"] == "/pypi//acme~", inherited)
    other = ca.get_associated_package_group(domain=D, format="pypi", package="requests")
    check(other["packageGroup"]["pattern"] == "/*", other)
    subs = ca.list_sub_package_groups(domain=D, packageGroup="/pypi//acme~")["packageGroups"]
    check([s["pattern"] for s in subs] == ["/pypi//acme-billing$"], subs)
    pages = ca.get_paginator("list_package_groups").paginate(domain=D, PaginationConfig={"PageSize": 1})
    patterns = [g["pattern"] for p in pages for g in p["packageGroups"]]
    check(patterns == ["/*", "/pypi//acme-billing$", "/pypi//acme~"], patterns)
    pref = ca.list_package_groups(domain=D, prefix="/pypi")["packageGroups"]
    check(len(pref) == 2, pref)


def delete(ca):
    d = ca.delete_package_group(domain=D, packageGroup="/pypi//acme~")["packageGroup"]
    check(d["pattern"] == "/pypi//acme~", d)
    moved = ca.describe_package_group(domain=D, packageGroup="/pypi//acme-billing$")["packageGroup"]
    check(moved["parent"]["pattern"] == "/*", "children move to the parent")
    expect_error("ResourceNotFoundException", ca.delete_package_group, domain=D, packageGroup="/pypi//acme~")
    expect_error("ValidationException", ca.delete_package_group, domain=D, packageGroup="/*")


def main():
    ca = boto3.client(
        "codeartifact",
        endpoint_url=URL,
        region_name=REGION,
        aws_access_key_id=os.environ["EMULATOR_KEY"],
        aws_secret_access_key=os.environ["EMULATOR_SECRET"],
    )
    ca.create_domain(domain=D)
    create_describe_update(ca)
    origin_configuration(ca)
    association_and_tree(ca)
    delete(ca)
    print(f"boto3 package groups OK: {CHECKS} checks")


if __name__ == "__main__":
    main()
