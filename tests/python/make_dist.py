"""Writes a tiny, valid wheel (and optionally an sdist) for tests: no build backend needed.

usage: make_dist.py NAME VERSION OUTDIR [--sdist] [--requires REQUIREMENT]...
The module is importable as NAME with '-' replaced by '_' and has VERSION set; each
--requires adds a Requires-Dist line (PEP 508, markers allowed) to its metadata.
"""
import base64
import hashlib
import io
import re
import sys
import tarfile
import zipfile
from pathlib import Path


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def metadata(name, version, requires=()):
    # pip honours an extra only when the metadata declares it (Provides-Extra).
    extras = sorted({m for r in requires for m in re.findall(r"extra\s*==\s*[\"']([^\"']+)[\"']", r)})
    provides = "".join(f"Provides-Extra: {e}\n" for e in extras)
    deps = "".join(f"Requires-Dist: {r}\n" for r in requires)
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test package {name}\nRequires-Python: >=3.8\n{provides}{deps}"


def wheel(name, version, outdir, requires=()):
    module = name.replace("-", "_").replace(".", "_").lower()
    dist = f"{module}-{version}"
    files = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
        f"{dist}.dist-info/METADATA": metadata(name, version, requires).encode(),
        f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: make_dist\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [record_line(p, d) for p, d in files.items()] + [f"{dist}.dist-info/RECORD,,"]
    files[f"{dist}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    path = Path(outdir) / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for p, d in files.items():
            z.writestr(p, d)
    return path


def sdist(name, version, outdir, requires=()):
    module = name.replace("-", "_").replace(".", "_").lower()
    base = f"{module}-{version}"
    path = Path(outdir) / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for rel, data in {"PKG-INFO": metadata(name, version, requires).encode(), f"{module}/__init__.py": f'VERSION = "{version}"\n'.encode()}.items():
            info = tarfile.TarInfo(f"{base}/{rel}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    name, version, outdir = sys.argv[1:4]
    flags = sys.argv[4:]
    requires = [flags[i + 1] for i, f in enumerate(flags) if f == "--requires"]
    Path(outdir).mkdir(parents=True, exist_ok=True)
    print(wheel(name, version, outdir, requires))
    if "--sdist" in flags:
        print(sdist(name, version, outdir, requires))
