"""Downloads that leave nothing half-written, and archives unpacked member by member.

* :func:`online`: a quick check that a download host answers;
* :func:`download_guard`: silence a download, bound its waits, remove what it created if it fails;
* :func:`fetch`: a URL to a file, size-bounded and md5-checked, through a temporary file of its own;
* :func:`unpack_tar`: only the named members of a .tar.gz, each a regular file of a size in range,
  written under names the caller gives (never the archive's), into a folder that appears whole.

:mod:`cnnbook.data.files` downloads MNIST and CIFAR-10 with these (LeNet-5 and AlexNet chapters).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import socket
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from .dataset import DataFileError

__all__ = ["online", "download_guard", "md5_of", "fetch", "unpack_tar"]

_PROBE_TIMEOUT_S = 3.0
_CHUNK = 1 << 22  # files are copied 4 MiB at a time
_TAR_MAX_MEMBERS = 64  # stop looking through an archive after this many entries


def online(url: str) -> bool:
    """A quick check (at most a few seconds) that the host of ``url`` answers, so that an offline
    machine falls back at once instead of waiting on the downloader. Trusts a configured proxy.
    LeNet-5 chapter (its data)."""
    proxies = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
    if any(os.environ.get(v) for v in proxies):
        return True
    parts = urlparse(url)
    try:
        socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)),
                                 timeout=_PROBE_TIMEOUT_S).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def download_guard(folder: Path, verbose: bool) -> Iterator[None]:
    """Silence the downloader's messages unless ``verbose``, bound every socket wait, and remove the
    files this download created in ``folder`` if it fails, so that no half-written file is left
    behind. LeNet-5 chapter (its data)."""
    before = set(folder.iterdir())
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60)
    try:
        with contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO()):
            yield
    except BaseException:
        for path in set(folder.iterdir()) - before:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        raise
    finally:
        socket.setdefaulttimeout(old_timeout)


def md5_of(path: Path) -> str:
    """The md5 of the file ``path`` (hex), read in chunks. AlexNet chapter (its data)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, dest: Path, md5: str, max_bytes: int) -> None:
    """Download ``url`` to ``dest`` through a temporary file of its own in the same folder, which
    replaces ``dest`` only once all of it (at most ``max_bytes``) is there with the right ``md5``;
    OSError otherwise, with nothing left behind. AlexNet chapter (its data)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        digest, size = hashlib.md5(usedforsecurity=False), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise OSError(f"{url} is larger than the {max_bytes:,} bytes expected")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != md5:
            raise OSError(f"{url} has md5 {digest.hexdigest()}, expected {md5}")
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unpack_tar(archive: Path, folder: Path, members: dict[str, tuple[str, int, int]], advice: str) -> None:
    """Unpack ``members`` of the .tar.gz ``archive`` into ``folder``, which must not exist yet.

    ``members`` maps a member's name in the archive to (the file name to write in ``folder``, its
    smallest and largest size in bytes). Only those members are read, each one a regular file (no
    link, no device) of a size in range, written under the name given here -- never a name from the
    archive, so no member can write elsewhere; everything else in the archive is skipped. The files
    go into a temporary folder that becomes ``folder`` only when all of them are there. A member
    missing or wrong: :class:`DataFileError` naming the archive, with ``advice``. AlexNet chapter.
    """
    wanted = dict(members)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in _members(tar, archive, advice):
                if member.name in wanted:
                    name, low, high = wanted.pop(member.name)
                    _check_member(archive, member, low, high, advice)
                    _copy_member(tar, member, staging / name)
        if wanted:
            raise DataFileError(archive, f"the archive lacks {sorted(wanted)[0]}", advice)
        os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _members(tar: tarfile.TarFile, archive: Path, advice: str) -> Iterator[tarfile.TarInfo]:
    for i, member in enumerate(tar):
        if i >= _TAR_MAX_MEMBERS:
            raise DataFileError(archive, f"the archive has more than {_TAR_MAX_MEMBERS} entries", advice)
        yield member


def _check_member(archive: Path, member: tarfile.TarInfo, low: int, high: int, advice: str) -> None:
    if not member.isreg():
        raise DataFileError(archive, f"{member.name} is not a regular file (a link or a device)", advice)
    if not low <= member.size <= high:
        expected = f"{low:,}" if low == high else f"at most {high:,}" if low == 0 else f"{low:,} to {high:,}"
        raise DataFileError(archive, f"{member.name} holds {member.size:,} bytes, expected {expected}", advice)


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    source = tar.extractfile(member)
    assert source is not None  # a regular file, checked
    left = member.size
    with source, open(dest, "xb") as out:
        while left > 0 and (chunk := source.read(min(_CHUNK, left))):
            out.write(chunk)
            left -= len(chunk)
    if left:
        raise OSError(f"{member.name} ends {left:,} bytes early")
