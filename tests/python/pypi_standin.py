"""A stand-in for public PyPI on loopback (there is no internet here).

usage: pypi_standin.py DISTDIR PORT

Serves the wheels and sdists in DISTDIR as a PEP 503 simple index at
http://127.0.0.1:PORT/simple/, without credentials, as pypi.org serves its
index: one page per normalised project name, links carrying a sha256
fragment. Each request is logged to stderr ("GET /files/NAME 200"), so a test
can tell which files this index served. The pages are built at start.
"""
import hashlib
import html
import http.server
import re
import sys
from pathlib import Path

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


def normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def project_of(filename):
    if filename.endswith(".whl"):
        return normalise(filename.split("-")[0])
    stem = filename.removesuffix(".tar.gz").removesuffix(".zip")
    return normalise(stem.rsplit("-", 1)[0])


def build_pages(dist_dir):
    projects = {}
    for path in sorted(Path(dist_dir).iterdir()):
        if path.name.endswith(DIST_SUFFIXES):
            projects.setdefault(project_of(path.name), []).append(path)
    pages = {"/simple/": page("Simple index", ((f"{p}/", p) for p in sorted(projects)))}
    files = {}
    for project, paths in projects.items():
        links = []
        for path in paths:
            data = path.read_bytes()
            files[f"/files/{path.name}"] = data
            links.append((f"../../files/{path.name}#sha256={hashlib.sha256(data).hexdigest()}", path.name))
        pages[f"/simple/{project}/"] = page(f"Links for {project}", links)
    return pages, files


def page(title, links):
    body = "".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a><br>\n' for href, text in links)
    return f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n{body}</body></html>\n".encode()


def main():
    dist_dir, port = sys.argv[1], int(sys.argv[2])
    pages, files = build_pages(dist_dir)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.do_GET(head=True)

        def do_GET(self, head=False):
            self.head = head
            path = self.path.split("?", 1)[0]
            if path.startswith("/simple/") and not path.endswith("/"):
                path += "/"
            if path in pages:
                self.reply(200, "text/html; charset=utf-8", pages[path])
            elif path in files:
                self.reply(200, "application/octet-stream", files[path])
            else:
                self.reply(404, "text/plain", b"not found\n")

        def reply(self, status, content_type, body):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not self.head:
                self.wfile.write(body)

        def log_request(self, code="-", size="-"):
            sys.stderr.write(f"{self.command} {self.path.split('?', 1)[0]} {int(code)}\n")
            sys.stderr.flush()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
