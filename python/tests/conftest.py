"""Shared fixtures of facekit's Python suite (make test runs it next to ctest).

The suite tests the build in $FACEKIT_BUILD_DIR (default build/): the Python module from
build/python, the facekit program, and the install of the C++ package. Photos come from the
shared data folder beside the project ($FACEKIT_SHARED, default ../shared) and the sample photo.
"""
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("FACEKIT_BUILD_DIR", ROOT / "build")).resolve()
SHARED = Path(os.environ.get("FACEKIT_SHARED", ROOT.parent / "shared")).resolve()
CLI = BUILD / "facekit"
SAMPLE = ROOT / ".cache" / "samples" / "astronaut.png"
FACES = SHARED / "data" / "faces"

sys.path.insert(0, str(BUILD / "python"))


def shared_photos():
    """The photos of the shared faces folder, sorted (the same list the C++ comparison uses)."""
    return sorted(p for p in FACES.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


@pytest.fixture(scope="session")
def cli():
    assert CLI.exists(), f"{CLI} is not built"
    return CLI


class Server:
    """A real `facekit serve` process on 127.0.0.1 (a free port chosen by the server)."""

    def __init__(self, *args, log=None):
        self.log = log
        self.proc = subprocess.Popen([str(CLI), "serve", "--host", "127.0.0.1", "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        self.stderr_lines = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"facekit serve exited ({self.proc.wait()}): {''.join(self.stderr_lines)}")
            self.stderr_lines.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
            if time.monotonic() > deadline:
                raise RuntimeError("facekit serve did not start in 60 s")
        self.url = f"http://127.0.0.1:{self.port}"

    def terminate(self, timeout=60):
        """SIGTERM, then waits; returns (exit code, the rest of stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rest = self.proc.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest = self.proc.communicate()[1]
            raise
        self.stderr_lines.append(rest)
        return self.proc.returncode, rest

    def close(self):
        with contextlib.suppress(Exception):
            if self.proc.poll() is None:
                self.terminate(timeout=30)


@pytest.fixture
def start_server(cli):
    servers = []

    def start(*args):
        s = Server(*args)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()
