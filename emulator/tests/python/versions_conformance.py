"""boto3 conformance for the package-version operations retention uses, against a repository
the Rust side seeded: domain "vdom", repository "vrepo", package "app" with versions 1.0 .. 1.5,
1.i published i days before 1.0 (1.0 newest).

Environment: EMULATOR_URL, EMULATOR_REGION, EMULATOR_KEY, EMULATOR_SECRET, EMULATOR_ACCOUNT.
Prints "versions conformance OK: N checks" at the end; exits non-zero on the first failure.
"""

import datetime
import os

import boto3
from botocore.exceptions import ClientError

CHECKS = 0


def check(condition, what):
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


def main():
    ca = boto3.client(
        "codeartifact",
        endpoint_url=os.environ["EMULATOR_URL"],
        region_name=os.environ["EMULATOR_REGION"],
        aws_access_key_id=os.environ["EMULATOR_KEY"],
        aws_secret_access_key=os.environ["EMULATOR_SECRET"],
    )
    kw = dict(domain="vdom", repository="vrepo", format="pypi", package="App")

    d = ca.describe_package_version(packageVersion="1.2", **kw)["packageVersion"]
    check(d["packageName"] == "app" and d["version"] == "1.2", d)
    check(isinstance(d["publishedTime"], datetime.datetime), d)
    check(d["status"] == "Published" and d["origin"]["originType"] == "INTERNAL", d)
    newest = ca.describe_package_version(packageVersion="1.0", **kw)["packageVersion"]
    check(newest["publishedTime"] - d["publishedTime"] == datetime.timedelta(days=2), (newest, d))
    try:
        ca.describe_package_version(packageVersion="9.9", **kw)
        raise AssertionError("a missing version was described")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "ResourceNotFoundException", e)

    assets = ca.list_package_version_assets(packageVersion="1.2", **kw)
    check(assets["versionRevision"] and len(assets["assets"]) == 1, assets)
    check(len(assets["assets"][0]["hashes"]["SHA-256"]) == 64, assets)

    pages = ca.get_paginator("list_package_versions").paginate(
        sortBy="PUBLISHED_TIME", PaginationConfig={"PageSize": 4}, **kw)
    pages = list(pages)
    order = [v["version"] for p in pages for v in p["versions"]]
    check(len(pages) == 2, pages)
    check(order == ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"], order)
    check(pages[0]["defaultDisplayVersion"] == "1.0", pages[0])
    ext = ca.list_package_versions(originType="EXTERNAL", **kw)
    check(ext["versions"] == [], ext)
    try:
        ca.list_package_versions(originType="SOMEWHERE", **kw)
        raise AssertionError("a bad originType was accepted")
    except ClientError as e:
        check(e.response["Error"]["Code"] == "ValidationException", e)

    out = ca.dispose_package_versions(versions=["1.4", "1.5"], expectedStatus="Published", **kw)
    check(sorted(out["successfulVersions"]) == ["1.4", "1.5"], out)
    check(out["successfulVersions"]["1.4"]["status"] == "Disposed", out)
    again = ca.delete_package_versions(versions=["1.5", "1.3"], expectedStatus="Published", **kw)
    check(again["failedVersions"]["1.5"]["errorCode"] == "MISMATCHED_STATUS", again)
    check(again["successfulVersions"]["1.3"]["status"] == "Deleted", again)
    left = ca.list_package_versions(status="Published", **kw)["versions"]
    check(sorted(v["version"] for v in left) == ["1.0", "1.1", "1.2"], left)
    disposed = ca.describe_package_version(packageVersion="1.4", **kw)["packageVersion"]
    check(disposed["status"] == "Disposed", disposed)
    print(f"versions conformance OK: {CHECKS} checks")


if __name__ == "__main__":
    main()
