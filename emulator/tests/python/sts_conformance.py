"""boto3's STS client against the emulator, then CodeArtifact with the temporary credentials,
then real pip and twine with a token minted under a read-only session policy.

Environment: EMULATOR_URL, EMULATOR_REGION, EMULATOR_KEY, EMULATOR_SECRET, EMULATOR_ACCOUNT,
OTHER_KEY, OTHER_SECRET (a key the role does not trust), ROLE_ARN, DOMAIN, READ_REPO,
OTHER_REPO, REQUIREMENT (what pip installs from READ_REPO), DIST_DIR (files twine tries to
upload), WORK_DIR. Exits non-zero on the first failed check; prints "sts conformance OK: N checks".
"""

import base64
import datetime
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
from botocore.exceptions import ClientError

URL = os.environ["EMULATOR_URL"]
REGION = os.environ["EMULATOR_REGION"]
ACCOUNT = os.environ["EMULATOR_ACCOUNT"]
ROLE = os.environ["ROLE_ARN"]
DOMAIN = os.environ["DOMAIN"]
CHECKS = 0


def check(condition, what):
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


def client(service, key, secret, token=None):
    return boto3.client(
        service,
        endpoint_url=URL,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def error_code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    raise AssertionError("expected an error")


def assume(sts, **extra):
    out = sts.assume_role(RoleArn=ROLE, RoleSessionName="boto3-session", **extra)
    creds = out["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA"), "ASIA key id")
    check(creds["Expiration"] > datetime.datetime.now(datetime.timezone.utc), "future expiry")
    check(
        out["AssumedRoleUser"]["Arn"].endswith(":assumed-role/reader/boto3-session"),
        out["AssumedRoleUser"],
    )
    check(out["ResponseMetadata"]["RequestId"], "request id")
    return creds


def as_role(service, creds):
    return client(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def run(args, what):
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    print(f"--- {what}: exit {out.returncode}\n{out.stdout}\n{out.stderr}", file=sys.stderr)
    return out


def basic_get(url, token):
    req = urllib.request.Request(url)
    req.add_header("Authorization", "Basic " + base64.b64encode(f"aws:{token}".encode()).decode())
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        check(token not in body, "the refusal does not echo the token")
        return e.code


def pip_install(endpoint, token, target):
    scheme, rest = endpoint.split("://", 1)
    index = f"{scheme}://aws:{token}@{rest}simple/"
    return run(
        [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--no-deps",
         "--disable-pip-version-check", "--index-url", index, "--target", target,
         os.environ["REQUIREMENT"]],
        f"pip install from {endpoint}",
    )


def main():
    sts = client("sts", os.environ["EMULATOR_KEY"], os.environ["EMULATOR_SECRET"])
    base_ca = client("codeartifact", os.environ["EMULATOR_KEY"], os.environ["EMULATOR_SECRET"])

    # Errors in STS's XML shape, parsed by botocore.
    # botocore checks lengths itself, not patterns: a bad character reaches the server.
    code, message = error_code(lambda: sts.assume_role(RoleArn=ROLE, RoleSessionName="bad name!"))
    check(code == "ValidationError" and "roleSessionName" in message, (code, message))
    code, _ = error_code(lambda: sts.assume_role(RoleArn=ROLE, RoleSessionName="ok", Policy="{"))
    check(code == "MalformedPolicyDocument", code)
    stranger = client("sts", os.environ["OTHER_KEY"], os.environ["OTHER_SECRET"])
    code, message = error_code(lambda: stranger.assume_role(RoleArn=ROLE, RoleSessionName="ok"))
    check(code == "AccessDenied" and "sts:AssumeRole" in message, (code, message))

    # Full role: CodeArtifact calls under the role's policy.
    creds = assume(sts, DurationSeconds=900)
    who = as_role("sts", creds).get_caller_identity()
    check(who["Arn"].endswith("assumed-role/reader/boto3-session"), who)
    ca = as_role("codeartifact", creds)
    names = [d["name"] for d in ca.list_domains()["domains"]]
    check(DOMAIN in names, names)
    code, message = error_code(lambda: ca.delete_domain(domain=DOMAIN))
    check(code == "AccessDeniedException" and "explicit deny" in message, (code, message))

    # Read-only session policy on one repository.
    read_arn = f"arn:aws:codeartifact:{REGION}:{ACCOUNT}:repository/{DOMAIN}/{os.environ['READ_REPO']}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "codeartifact:ReadFromRepository", "Resource": read_arn},
            {"Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken", "Resource": "*"},
            {"Effect": "Allow", "Action": "sts:GetServiceBearerToken", "Resource": "*",
             "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
        ],
    }
    scoped = as_role("codeartifact", assume(sts, Policy=json.dumps(policy, indent=1)))
    token = scoped.get_authorization_token(domain=DOMAIN)["authorizationToken"]
    code, _ = error_code(
        lambda: scoped.describe_repository(domain=DOMAIN, repository=os.environ["READ_REPO"]))
    check(code == "AccessDeniedException", code)

    def endpoint(repo):
        return base_ca.get_repository_endpoint(
            domain=DOMAIN, repository=repo, format="pypi")["repositoryEndpoint"]

    work = os.environ["WORK_DIR"]
    out = pip_install(endpoint(os.environ["READ_REPO"]), token, os.path.join(work, "ok"))
    check(out.returncode == 0, "pip installs from the permitted repository")
    out = pip_install(endpoint(os.environ["OTHER_REPO"]), token, os.path.join(work, "other"))
    check(out.returncode != 0, "pip is refused by the other repository")
    # pip logs index fetch failures only at debug level; the status itself, directly:
    check(basic_get(endpoint(os.environ["OTHER_REPO"]) + "simple/", token) == 403, "403 from the other repository")
    check(basic_get(endpoint(os.environ["READ_REPO"]) + "simple/", token) == 200, "200 from the permitted one")
    dists = [os.path.join(os.environ["DIST_DIR"], f) for f in sorted(os.listdir(os.environ["DIST_DIR"]))]
    out = run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", endpoint(os.environ["READ_REPO"]), "-u", "aws", "-p", token] + dists,
        "twine upload",
    )
    check(out.returncode != 0, "twine upload is refused")
    check("403" in out.stdout + out.stderr, "twine saw 403")

    # Expired role credentials.
    req = urllib.request.Request(
        f"{URL}/_emulator/clock", data=b'{"advanceSeconds": 901}', method="POST",
        headers={"content-type": "application/json"})
    urllib.request.urlopen(req).read()
    code, message = error_code(lambda: ca.list_domains())
    check(code == "ExpiredTokenException", (code, message))
    print(f"sts conformance OK: {CHECKS} checks")


if __name__ == "__main__":
    main()
