"""Build a tiny wheel and sdist for the emulator's tests (standard library only).

Usage: python distbuild.py OUTDIR NAME VERSION [REQUIRES_PYTHON]

The wheel holds one module (the normalised name with '_') exporting VERSION, plus the
.dist-info files pip and twine read (METADATA, WHEEL, RECORD). The sdist holds PKG-INFO,
which twine reads for the upload metadata.
"""

import base64
import hashlib
import io
import re
import sys
import tarfile
import zipfile


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build(outdir: str, name: str, version: str, requires_python: str = ">=3.8") -> list:
    dist = re.sub(r"[-_.]+", "_", name).lower()
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: emulator test package {name}\n"
        f"Requires-Python: {requires_python}\n\n"
    ).encode()
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: distbuild\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    wheel = f"{outdir}/{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)

    sdist = f"{outdir}/{dist}-{version}.tar.gz"
    root = f"{dist}-{version}"
    pyproject = (
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
    ).encode()
    with tarfile.open(sdist, "w:gz") as tf:
        for path, data in {
            f"{root}/PKG-INFO": metadata,
            f"{root}/pyproject.toml": pyproject,
            f"{root}/{dist}/__init__.py": files[f"{dist}/__init__.py"],
        }.items():
            entry = tarfile.TarInfo(path)
            entry.size = len(data)
            tf.addfile(entry, io.BytesIO(data))
    return [wheel, sdist]


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    for path in build(*sys.argv[1:]):
        print(path)
