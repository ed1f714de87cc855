"""A real OpenSSH server (Debian's `openssh-server`) on 127.0.0.1 serving bare repositories, for tests.

`/usr/sbin/sshd -D` runs as a child in its own process group with its own host key, public-key login only, and
an authorized_keys file of the test's client key; the login shell runs the `git-upload-pack` /
`git-receive-pack` that libgit2 asks for, on a repository's absolute path:
`ssh://<user>@127.0.0.1:<port>/<path>.git`. As root, sshd needs its privilege-separation directory (`/run/sshd`,
which the package's service start would create); it is created when missing.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def keygen(path: Path, comment: str) -> Path:
    """A new ed25519 key pair at `path` and `path.pub`; returns `path`."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SshServer:
    root: Path  # config, keys and the log live here
    client_key: Path
    port: int = 0
    _process: subprocess.Popen | None = None

    @property
    def host_key(self) -> Path:
        return self.root / "host_key"

    def url(self, repo: Path) -> str:
        return f"ssh://{getpass.getuser()}@127.0.0.1:{self.port}{repo}"

    def known_hosts_line(self) -> str:
        """This server's entry as `ssh-keyscan` writes it: `[127.0.0.1]:PORT ssh-ed25519 AAAA...`."""
        key_type, key = (self.root / "host_key.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}\n"

    def start(self) -> "SshServer":
        if not Path(SSHD).exists() or not shutil.which("git-upload-pack"):
            raise FileNotFoundError(f"{SSHD} (Debian package openssh-server) and git are needed")
        if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
            Path("/run/sshd").mkdir(mode=0o755)
        keygen(self.host_key, "test-host")
        authorized = self.root / "authorized_keys"
        authorized.write_text(Path(f"{self.client_key}.pub").read_text())
        config = self.root / "sshd_config"
        config.write_text(f"HostKey {self.host_key}\nAuthorizedKeysFile {authorized}\nPidFile none\n"
                          "ListenAddress 127.0.0.1\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
                          "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\n")
        self.port = _free_port()
        with open(self.root / "sshd.log", "w") as log:
            self._process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config), "-p", str(self.port)],
                                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while True:  # until it listens, or it exited
            if self._process.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self._process.wait()
            self._process = None
