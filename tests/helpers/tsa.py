"""A real RFC 3161 timestamp authority for the tests: ``openssl ts -reply`` behind a small HTTP
server on 127.0.0.1, with its own root CA. Paths choose how it behaves:

- ``/good``: stamps the request as asked.
- ``/otherdata``: stamps different data (a dishonest or broken authority).
- ``/replay``: answers with the last good response it gave (its nonce will not match).
- ``/down``: answers 503, like an authority that is briefly unavailable.
"""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CONFIG = """
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _run(args: list[str], cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path, name: str = "Test") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _run(
        [
            "req",
            "-x509",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "3650",
            "-subj",
            f"/CN={name} Root CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        folder,
    )
    _run(
        [
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "tsa.key",
            "-out",
            "tsa.csr",
            "-subj",
            f"/CN={name} TSA",
        ],
        folder,
    )
    (folder / "tsa_ext.cnf").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    _run(
        [
            "x509",
            "-req",
            "-in",
            "tsa.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "tsa.pem",
            "-days",
            "3650",
            "-extfile",
            "tsa_ext.cnf",
        ],
        folder,
    )
    (folder / "tsaserial").write_text("01\n")
    (folder / "tsa.cnf").write_text(CONFIG.format(dir=folder))


@dataclass
class Authority:
    url: str
    root_pem: Path
    folder: Path
    requests: list[str]


@contextmanager
def running_tsa(folder: Path) -> Iterator[Authority]:
    if not (folder / "tsa.cnf").exists():
        make_ca(folder)
    state: dict[str, bytes] = {}
    seen: list[str] = []
    lock = threading.Lock()

    def reply(query: bytes) -> bytes:
        with lock:
            (folder / "req.tsq").write_bytes(query)
            _run(
                [
                    "ts",
                    "-reply",
                    "-config",
                    "tsa.cnf",
                    "-section",
                    "tsa_config1",
                    "-queryfile",
                    "req.tsq",
                    "-out",
                    "resp.tsr",
                ],
                folder,
            )
            return (folder / "resp.tsr").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.path)
            if self.path == "/down":
                self.send_response(503)
                self.end_headers()
                return
            if self.path == "/otherdata":
                (folder / "other.bin").write_bytes(b"something else entirely")
                _run(
                    ["ts", "-query", "-data", "other.bin", "-sha256", "-cert", "-out", "other.tsq"],
                    folder,
                )
                answer = reply((folder / "other.tsq").read_bytes())
            elif self.path == "/replay" and "last" in state:
                answer = state["last"]
            else:
                answer = reply(body)
                state["last"] = answer
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Authority(
            f"http://127.0.0.1:{server.server_address[1]}", folder / "root.pem", folder, seen
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
