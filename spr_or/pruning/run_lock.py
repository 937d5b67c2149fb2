"""One writer per run folder: an advisory lock (``fcntl.flock``) on ``<out>/.run.lock``, which also
records its owner (pid, host, start time) so a refused second writer is told who holds the folder.

The operating system drops the lock when its owner dies, so a lock left by a killed run is taken
over, with a warning naming the dead owner; a lock held by a live process is refused. Only rank 0
of a DDP run takes it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import warnings
from pathlib import Path

from spr_core.errors import UserError

LOCK_FILE = ".run.lock"


class RunFolderBusy(UserError):
    """Another process writes into the run folder; the message names it."""


class RunLock:
    """``with RunLock(folder):`` holds the folder's lock for the block (or refuses at once)."""

    def __init__(self, folder):
        self.path = Path(folder) / LOCK_FILE
        self._fd: int | None = None

    def _owner(self, fd: int) -> dict:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 4096).decode(errors="replace").strip()
        try:
            owner = json.loads(text) if text else {}
        except json.JSONDecodeError:
            owner = {}
        return owner if isinstance(owner, dict) else {}

    def acquire(self) -> None:
        """Take the lock; RunFolderBusy naming the holder if a live process has it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = self._owner(fd)
            os.close(fd)
            raise RunFolderBusy(f"--out: {self.path.parent} is in use by another run (pid {owner.get('pid', '?')} on "
                                f"{owner.get('host', '?')}, since {owner.get('since', '?')}); wait for it to end or "
                                "choose another --out") from None
        owner, host = self._owner(fd), socket.gethostname()
        if owner.get("pid") not in (None, os.getpid()):  # the lock is free, so its recorded owner has ended
            warnings.warn(f"{self.path.parent}: taking over the lock of a run that ended without releasing it "
                          f"(pid {owner['pid']} on {owner.get('host', '?')}, since {owner.get('since', '?')})",
                          stacklevel=2)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": host,
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Clear the owner record and drop the lock (idempotent)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
