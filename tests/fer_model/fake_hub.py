"""A minimal local stand-in for the Hub's HTTP API: records the repos created and what each commit uploads."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHub:
    """Serves repo creation, pre-upload (every file 'regular', so contents travel inline) and commit endpoints."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.commits: list[dict[str, Any]] = []
        self.created: list[dict[str, Any]] = []  # the bodies of repo-creation requests (name, type, sdk)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_POST(self) -> None:
                hub.requests.append(("POST", self.path))
                body = self._body()
                if self.path == "/api/repos/create":
                    request = json.loads(body)
                    hub.created.append(request)
                    name = "/".join(filter(None, [request.get("organization"), request["name"]]))
                    self._reply(200, {"url": f"{hub.url}/{name}", "name": name})
                elif self.path == "/api/validate-yaml":  # the model card's metadata check
                    self._reply(200, {"errors": [], "warnings": []})
                elif "/preupload/" in self.path:
                    files = json.loads(body)["files"]
                    self._reply(200, {"files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
                    ]})
                elif "/commit/" in self.path:
                    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                    files = {
                        line["value"]["path"]: base64.b64decode(line["value"]["content"])
                        for line in lines
                        if line["key"] == "file"
                    }
                    header = next(line["value"] for line in lines if line["key"] == "header")
                    repo_type, repo = self.path.removeprefix("/api/").split("/commit/")[0].split("/", 1)
                    hub.commits.append({"path": self.path, "repo_type": repo_type.removesuffix("s"), "repo": repo,
                                        "summary": header.get("summary"), "files": files})
                    self._reply(200, {"commitUrl": f"{hub.url}/{repo}/commit/{'1' * 40}", "commitOid": "1" * 40})
                else:
                    self._reply(404, {"error": f"not faked: {self.path}"})

            def do_GET(self) -> None:
                hub.requests.append(("GET", self.path))
                self._reply(404, {"error": f"not faked: {self.path}"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
