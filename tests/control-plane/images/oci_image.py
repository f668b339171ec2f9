#!/usr/bin/env python3
"""Writes an OCI image-layout tar (one layer) that `ctr images import` reads.

    oci_image.py OUT.tar NAME (--rootfs DIR | --layer TAR) [--user U] [--entrypoint JSON]
                 [--cmd JSON] [--env K=V]... [--workdir DIR] [--label K=V]... [--expose PORT]...

The layer is stored uncompressed and every timestamp is SOURCE_DATE_EPOCH
(default 0), so the same inputs give the same bytes: the image's digest is a
content key. NAME goes into the `io.containerd.image.name` annotation, the
name the CRI plugin (and so a Pod's `image:`) knows it by.
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
# Mount points the runtime fills; their contents do not belong in an image.
SKIP_CONTENTS = ("dev", "proc", "sys")


def layer_from_rootfs(rootfs, out):
    """A deterministic tar of ROOTFS: sorted entries, fixed times, owners kept."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for top, dirs, files in os.walk(rootfs):
            rel_top = os.path.relpath(top, rootfs)
            for name in sorted(dirs + files):
                path = os.path.join(top, name)
                info = tar.gettarinfo(path, arcname=os.path.normpath(os.path.join(rel_top, name)))
                info.mtime = EPOCH
                info.uname = info.gname = ""
                if info.isfile():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
            # /dev, /proc and /sys stay as empty directories.
            dirs[:] = sorted(d for d in dirs if not (rel_top == "." and d in SKIP_CONTENTS))


def add_blob(tar, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest.split(":")[1])
    info.size = len(data)
    info.mtime = EPOCH
    tar.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = EPOCH
    tar.addfile(info, io.BytesIO(data))


def pairs(items):
    return dict(item.split("=", 1) for item in items)


def image_config(args, diff_id):
    config = {"Env": args.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    if args.user:
        config["User"] = args.user
    if args.entrypoint:
        config["Entrypoint"] = json.loads(args.entrypoint)
    if args.cmd:
        config["Cmd"] = json.loads(args.cmd)
    if args.workdir:
        config["WorkingDir"] = args.workdir
    if args.label:
        config["Labels"] = pairs(args.label)
    if args.expose:
        config["ExposedPorts"] = {f"{p}/tcp": {} for p in args.expose}
    created = "1970-01-01T00:00:00Z" if EPOCH == 0 else None
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if created:
        doc["created"] = created
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("name")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--rootfs")
    src.add_argument("--layer")
    p.add_argument("--user")
    p.add_argument("--entrypoint")
    p.add_argument("--cmd")
    p.add_argument("--env", action="append")
    p.add_argument("--workdir")
    p.add_argument("--label", action="append")
    p.add_argument("--expose", action="append")
    args = p.parse_args()

    if args.layer:
        with open(args.layer, "rb") as f:
            layer = f.read()
    else:
        buf = io.BytesIO()
        layer_from_rootfs(args.rootfs, buf)
        layer = buf.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()

    tmp = args.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        layer_desc = add_blob(tar, layer, "application/vnd.oci.image.layer.v1.tar")
        config_desc = add_blob(tar, image_config(args, diff_id), "application/vnd.oci.image.config.v1+json")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [layer_desc],
        }
        manifest_desc = add_blob(
            tar,
            json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode(),
            "application/vnd.oci.image.manifest.v1+json",
        )
        manifest_desc["annotations"] = {
            "io.containerd.image.name": args.name,
            "org.opencontainers.image.ref.name": args.name.rsplit(":", 1)[-1],
        }
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [manifest_desc]}
        add_bytes(tar, "index.json", json.dumps(index, sort_keys=True, separators=(",", ":")).encode())
    os.replace(tmp, args.out)
    print(manifest_desc["digest"])


if __name__ == "__main__":
    sys.exit(main())
