"""Hostile and damaged data files (issue 22): CIFAR-10's binary batches and class names, its
Python version, its archive, MNIST's and Fashion-MNIST's IDX files raw and gzip-compressed, gzip
bombs.

Each gets one DataFileError line naming the file, within bounded memory (an address-space cap and
tracemalloc) and time; the files are left as they were and nothing else is written into their
folder. The large gzip bomb runs in a child process with its address space capped.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
import torch
from test_data import CIFAR10_BATCHES, cifar10_archive, small_cifar10_table, tar_gz, write_cifar10_binary

import cnnbook as cb
from cnnbook.data import download as data_download
from cnnbook.data import files as data_files
from cnnbook.data.files import read_idx

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

torch.set_num_threads(1)

RECORD = 3073  # one CIFAR-10 record: 1 label byte, 3,072 pixel bytes
PUBLISHED = 10_000 * RECORD  # 30,730,000 bytes: each of CIFAR-10's batch files
REPO = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- helpers


def snapshot(folder: Path) -> dict[Path, tuple[int, int, str]]:
    """Every file under ``folder`` with its size, modification time and (up to 64 MB: not the
    sparse giants) the SHA-256 of its content."""
    def state(p: Path) -> tuple[int, int, str]:
        stat = p.stat()
        small = stat.st_size < 1 << 26
        return stat.st_size, stat.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest() if small else ""

    return {p: state(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def address_space_cap(extra: int = 256 << 20) -> Iterator[None]:
    """On Linux, let the process map at most ``extra`` more bytes meanwhile: any larger allocation,
    even one never touched (which RSS would not show), fails."""
    status = Path("/proc/self/status")
    if resource is None or not status.exists():
        yield
        return
    size = int(next(ln.split()[1] for ln in status.read_text().splitlines() if ln.startswith("VmSize:"))) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + extra if hard == resource.RLIM_INFINITY else min(size + extra, hard),
                                            hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def refused(fn: Callable[[], object], path: Path, words: str, folder: Path, max_bytes: int) -> cb.DataFileError:
    """``fn`` must raise one DataFileError line naming ``path`` and ``words``, allocating at most
    ``max_bytes`` (traced) within a capped address space and in under 20 s, and leave every file in
    ``folder`` as it was, with none added."""
    before = snapshot(folder)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with address_space_cap(), pytest.raises(cb.DataFileError) as err:
            fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 20
    text = str(err.value)
    assert "\n" not in text and str(path) in text and words in text, text
    assert err.value.path == path
    assert peak <= max_bytes, f"{peak:,} bytes allocated, at most {max_bytes:,} expected"
    assert snapshot(folder) == before, "the folder changed"
    return err.value


def idx(dims: tuple[int, ...], data: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + data


SLACK = 6 << 20  # a read buffer and the interpreter's own change


# ----------------------------------------------------------------------------- CIFAR-10 batch files


def test_the_control_good_files_load(tmp_path):
    write_cifar10_binary(tmp_path)
    assert cb.load_cifar10(tmp_path, "test", download=False).images.shape == (6, 3, 32, 32)


@pytest.mark.parametrize("content, words", [
    (b"", "holds 0 bytes, not a whole number of 3,073-byte records (expected 30,730,000 bytes: "
          "10,000 records of 3,073 bytes: 1 label byte and 3,072 pixel bytes)"),
    (bytes(RECORD - 1), "holds 3,072 bytes, not a whole number of 3,073-byte records"),  # truncated
    (bytes(5 * RECORD + 100), "holds 15,465 bytes, not a whole number"),  # not a multiple
    (bytes(10_001 * RECORD), "holds 10,001 records (30,733,073 bytes), more than the 10,000 records"),  # oversized
    (bytes([10]) + bytes(3072), "record 0 (byte offset 0) has label 10, but labels are 0..9 (1 of 1 records"),
    (bytes(RECORD) * 3 + (bytes([255]) + bytes(3072)) * 2, "record 3 (byte offset 9,219) has label 255, "
                                                            "but labels are 0..9 (2 of 5 records out of range)"),
])
def test_bad_batch_files(tmp_path, content, words):
    write_cifar10_binary(tmp_path)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(content)
    refused(lambda: cb.load_cifar10(tmp_path, "test", download=False), path, words, tmp_path,
            3 * len(content) + SLACK)


@pytest.mark.parametrize("size, words", [
    (PUBLISHED - RECORD, "holds 30,726,927 bytes, expected 30,730,000 (10,000 records"),  # one record short
    (PUBLISHED + 1, "holds 30,730,001 bytes, expected 30,730,000"),
    (PUBLISHED + RECORD, "holds 30,733,073 bytes, expected 30,730,000"),
])
def test_published_batch_files_must_have_the_published_size(tmp_path, size, words):
    """In cifar-10-batches-bin, as the archive unpacks, a file is refused from its size on disk
    alone (nothing is read, so a sparse file of any size costs nothing)."""
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar10_binary(folder)
    path = folder / "test_batch.bin"
    with open(path, "wb") as f:
        f.truncate(size)
    refused(lambda: cb.load_cifar10(tmp_path, "test", download=False), path, words, tmp_path, SLACK)


def test_a_batch_file_of_terabytes_is_refused_from_its_size(tmp_path):
    write_cifar10_binary(tmp_path)
    path = tmp_path / "data_batch_4.bin"
    with open(path, "wb") as f:  # sparse: no disk used
        f.truncate(RECORD * 10**9)
    refused(lambda: cb.load_cifar10(tmp_path, "train", download=False), path,
            "holds 1,000,000,000 records (3,073,000,000,000 bytes), more than", tmp_path, SLACK)


# ----------------------------------------------------------------------------- CIFAR-10 class names


@pytest.mark.parametrize("content, words", [
    (b"plane\ncar\nbird\ncat\ndeer\n\xff\xfeog\nfrog\nhorse\nship\ntruck\n",
     "the class names are not ASCII/UTF-8 text (byte 0xff at offset 24)"),
    ("avi\u00f3n\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n".encode("latin-1"), "not ASCII/UTF-8"),
    (b"plane\ncar\nbird\n", "expected 10 class names, one per line, found 3"),
    (b"", "expected 10 class names, one per line, found 0"),
    (b"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n", "found 11"),
    (b"plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntr\x1b[2Juck\n", "the class name 'tr\\x1b[2Juck' holds "
                                                                          "characters that cannot be printed"),
    (b"x\n" * 3000, "holds 6,000 bytes, expected at most 4,096 (10 class names, one per line)"),
])
def test_bad_class_name_files(tmp_path, content, words):
    write_cifar10_binary(tmp_path)
    path = tmp_path / "batches.meta.txt"
    path.write_bytes(content)
    refused(lambda: cb.load_cifar10(tmp_path, "test", download=False), path, words, tmp_path, SLACK)


def test_class_names_in_utf8_are_read(tmp_path):
    write_cifar10_binary(tmp_path)
    names = ["avi\u00f3n", "coche", "p\u00e1jaro", "gato", "ciervo", "perro", "rana", "caballo", "barco", "cami\u00f3n"]
    (tmp_path / "batches.meta.txt").write_bytes("\ufeff".encode() + "\r\n".join(names).encode())
    assert cb.load_cifar10(tmp_path, "test", download=False).classes == tuple(names)


# ----------------------------------------------------------------------------- CIFAR-10's Python version


@pytest.mark.parametrize("where", ["cifar-10-batches-py", "data_batch_1", "cifar-10-python.tar.gz"])
@pytest.mark.parametrize("download", [False, True])
def test_only_the_python_version_is_refused_with_advice(tmp_path, monkeypatch, where, download):
    """Torchvision's folder, its batches put in ROOT, or its archive: a one-line error saying what
    it is and how to get the binary version (offline: no download possible), never a stand-in."""
    monkeypatch.setattr(data_files, "online", lambda url: False)
    found = tmp_path / where
    if where == "cifar-10-batches-py":
        found.mkdir()
        for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
                     "batches.meta"]:
            (found / name).write_bytes(b"\x80\x02}q\x00.")  # never opened
    else:
        found.write_bytes(b"\x80\x02}q\x00.")
    err = refused(lambda: cb.load_cifar10(tmp_path, "train", download=download, verbose=False), found,
                  "this is CIFAR-10's Python version", tmp_path, SLACK)
    text = str(err)
    assert "which cnnbook does not read" in text
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (md5 c32a1d4ab5d03f1284b67883e8d87530)" in text
    assert f"unpack it into {tmp_path}" in text


def test_the_python_version_next_to_the_binary_one_is_ignored(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    write_cifar10_binary(tmp_path / "cifar-10-batches-py" / "not-read")
    write_cifar10_binary(tmp_path, n_per_batch=3)
    assert len(cb.load_cifar10(tmp_path, "test", download=False)) == 3


# ----------------------------------------------------------------------------- CIFAR-10's archive


def unpack(archive_bytes: bytes, tmp_path: Path) -> Callable[[], None]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    archive = tmp_path / "cifar-10-binary.tar.gz"
    archive.write_bytes(archive_bytes)
    return lambda: data_files._unpack_record_files(archive, tmp_path / "cifar-10-batches-bin", data_files._CIFAR10)


def good_members(tmp_path: Path) -> dict[str, bytes]:
    folder = tmp_path / "source"
    write_cifar10_binary(folder, n_per_batch=2)
    return {f"cifar-10-batches-bin/{p.name}": p.read_bytes() for p in folder.iterdir()}


def test_the_control_a_good_archive_unpacks(tmp_path, monkeypatch):
    small_cifar10_table(monkeypatch, records=2)
    unpack(tar_gz(good_members(tmp_path)), tmp_path / "root")()
    assert sorted(p.name for p in (tmp_path / "root" / "cifar-10-batches-bin").iterdir()) == \
        sorted(CIFAR10_BATCHES + ["batches.meta.txt"])


@pytest.mark.parametrize("change, words", [
    (lambda m: ({k: v for k, v in m.items() if "test_batch" not in k}, {}),
     "the archive lacks cifar-10-batches-bin/test_batch.bin"),
    (lambda m: ({k: v for k, v in m.items() if "test_batch" not in k},
                {"cifar-10-batches-bin/test_batch.bin": "/etc/passwd"}), "test_batch.bin is not a regular file"),
    (lambda m: ({**m, "cifar-10-batches-bin/data_batch_2.bin": bytes(3 * RECORD)}, {}),
     "data_batch_2.bin holds 9,219 bytes, expected 6,146"),
    (lambda m: ({**m, "cifar-10-batches-bin/batches.meta.txt": bytes(5000)}, {}),
     "batches.meta.txt holds 5,000 bytes, expected at most 4,096"),
    (lambda m: ({**{f"junk/{i}": b"" for i in range(70)}, **m}, {}), "the archive has more than 64 entries"),
])
def test_hostile_archives_are_refused(tmp_path, monkeypatch, change, words):
    small_cifar10_table(monkeypatch, records=2)
    members, links = change(good_members(tmp_path))
    root = tmp_path / "root"
    root.mkdir()
    refused(unpack(tar_gz(members, links), root), root / "cifar-10-binary.tar.gz", words, root, 16 * RECORD + SLACK)
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-binary.tar.gz"]  # nothing unpacked, no leftovers


def test_archive_members_outside_the_table_are_never_written(tmp_path, monkeypatch):
    """Names that climb out of the folder, absolute names and links are skipped: only the names in
    the table are read, and they are written under names the table gives."""
    small_cifar10_table(monkeypatch, records=2)
    hostile = {"../escaped.bin": b"x", "cifar-10-batches-bin/../../escaped2.bin": b"x", "/tmp/escaped3.bin": b"x",
               "cifar-10-batches-bin/data_batch_1.bin/../../escaped4": b"x"}
    links = {"cifar-10-batches-bin/evil-link": "/etc/passwd"}
    root = tmp_path / "deep" / "root"
    root.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    unpack(tar_gz({**hostile, **good_members(tmp_path / "src")}, links), root)()
    added = {p.relative_to(tmp_path) for p in set(tmp_path.rglob("*")) - before}
    assert {p for p in added if p.parts[0] != "src"} == {Path("deep/root/cifar-10-binary.tar.gz"),
                                                         Path("deep/root/cifar-10-batches-bin")} | {
        Path("deep/root/cifar-10-batches-bin") / name for name in CIFAR10_BATCHES + ["batches.meta.txt"]}
    assert not Path("/tmp/escaped3.bin").exists()


def test_a_hostile_download_falls_back_and_leaves_the_folder_as_it_was(tmp_path, monkeypatch, capsys):
    """An archive with the right md5 (here: the table's md5 made to match) whose content is wrong."""
    members = good_members(tmp_path)
    members["cifar-10-batches-bin/test_batch.bin"] = bytes(5)
    archive = tar_gz(members)
    small_cifar10_table(monkeypatch, records=2, md5=hashlib.md5(archive).hexdigest())
    monkeypatch.setattr(data_files, "online", lambda url: True)
    monkeypatch.setattr(data_download.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(archive))
    root = tmp_path / "root"
    root.mkdir()
    (root / "kept.txt").write_text("was here before")
    assert cb.load_cifar10(root, "test").source == "stand-in"
    assert "could not be downloaded" in capsys.readouterr().out
    assert [p.name for p in root.iterdir()] == ["kept.txt"]


def test_a_download_larger_than_the_table_allows_is_cut_off(tmp_path, monkeypatch):
    archive = cifar10_archive(tmp_path / "source")
    small_cifar10_table(monkeypatch, records=6, md5=hashlib.md5(archive).hexdigest())
    monkeypatch.setattr(data_files, "_CIFAR10", dataclasses.replace(data_files._CIFAR10,
                                                                    archive_max_bytes=len(archive) - 1))
    monkeypatch.setattr(data_files, "online", lambda url: True)
    monkeypatch.setattr(data_download.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(archive))
    root = tmp_path / "root"
    assert cb.load_cifar10(root, "test", verbose=False).source == "stand-in"
    assert list(root.iterdir()) == []


# ----------------------------------------------------------------------------- MNIST IDX files


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("content, words", [
    (idx((10**9, 28, 28), bytes(784)), "announces (1000000000, 28, 28) = 784,000,000,000 bytes of data"),
    (idx((60_000, 28, 28), bytes(784)), "announces (60000, 28, 28) = 47,040,000 bytes of data"),
    (b"\x00\x00\x09\x03" + idx((1, 28, 28), bytes(784))[4:], "bad magic number 0x00000903"),
    (b"\x1f\x8c" + bytes(100), "bad magic number 0x1f8c0000"),
    (idx((1, 28, 28), bytes(784 + 1)), "the file has data beyond the (1, 28, 28) = 784 bytes"),
])
def test_idx_headers_are_checked_against_the_file(tmp_path, gz, content, words):
    path = tmp_path / ("images.gz" if gz else "images")
    path.write_bytes(gzip.compress(content) if gz else content)
    refused(lambda: read_idx(path, 3), path, words, tmp_path, 2 * len(content) + SLACK)


def test_load_mnist_refuses_more_records_than_mnist_has(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    path = raw / "t10k-images-idx3-ubyte"
    path.write_bytes(idx((10_001, 28, 28), bytes(10_001 * 784)))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(idx((10_001,), bytes(10_001)))
    refused(lambda: cb.load_mnist(tmp_path, "test", download=False), path,
            "its header announces 10,001 records, more than the 10,000 this file can hold", tmp_path, SLACK)


@pytest.mark.parametrize("folder", ["FashionMNIST/raw", "fashion-mnist"])
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("content, words", [
    (idx((3, 28, 28), bytes(2 * 784 + 5)), "the file is truncated"),  # 2 images and a bit of one
    (idx((3, 28, 28), bytes(3 * 784 + 1)), "has data beyond the (3, 28, 28) = 2,352 bytes"),
    (idx((10_001, 28, 28), bytes(784)), "10,001 records, more than the 10,000 this file can hold"),
    (b"\x00\x00\x08\x01" + idx((3, 28, 28), bytes(3 * 784))[4:], "bad magic number 0x00000801"),
    (b"\x1f\x8c" + bytes(100), "bad magic number 0x1f8c0000"),
])
def test_load_fashion_mnist_refuses_damaged_files(tmp_path, folder, gz, content, words):
    """Fashion-MNIST's files go through the same bounded reader: truncated, oversized, a wrong magic
    number -- one DataFileError line naming the file, with the loader's own advice."""
    raw = tmp_path / folder
    raw.mkdir(parents=True)
    path = raw / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(idx((3,), bytes(3)))
    err = refused(lambda: cb.load_fashion_mnist(tmp_path, "test", download=False), path, words, tmp_path,
                  2 * len(content) + SLACK)
    assert "call load_fashion_mnist() again" in str(err)


def test_a_damaged_copy_of_the_bundled_fashion_mnist_subset(tmp_path, monkeypatch):
    copy = tmp_path / "bundled"
    shutil.copytree(REPO / "cnnbook" / "_data" / "fashion_mnist", copy)
    path = copy / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    monkeypatch.setattr(data_files, "_BUNDLED_FASHION_MNIST", copy)
    err = refused(lambda: cb.load_fashion_mnist(tmp_path / "empty", "test", download=False, verbose=False),
                  path, "cannot be read", copy, 4 * path.stat().st_size + SLACK)
    assert "bundled with cnnbook is damaged: reinstall cnnbook" in str(err)


def gzip_stream(header: bytes, zeros: int, tail: bytes = b"") -> bytes:
    """A .gz file of ``header``, ``zeros`` zero bytes and ``tail``, compressed piece by piece."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    parts = [packer.compress(header)]
    chunk = bytes(1 << 20)
    for start in range(0, zeros, len(chunk)):
        parts.append(packer.compress(chunk[:min(len(chunk), zeros - start)]))
    return b"".join(parts + [packer.compress(tail), packer.flush()])


@pytest.mark.parametrize("extra", [1, 1000])
def test_a_gzip_stream_with_more_data_than_its_header_is_refused(tmp_path, extra):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip_stream(idx((20, 28, 28), b""), 20 * 784 + extra))
    refused(lambda: read_idx(path, 3), path, "has data beyond the (20, 28, 28) = 15,680 bytes", tmp_path,
            15_681 + SLACK)


def test_a_gzip_file_with_trailing_garbage_is_refused(tmp_path):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx((2, 28, 28), bytes(2 * 784))) + b"\x00 not gzip data")
    refused(lambda: read_idx(path, 3), path, "cannot be read", tmp_path, SLACK)


BOMB_CHILD = """
import json, resource, sys, time, tracemalloc
from pathlib import Path
import cnnbook as cb
status = Path("/proc/self/status").read_text()
size = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmSize:"))) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + (512 << 20), resource.RLIM_INFINITY))
tracemalloc.start()
start = time.perf_counter()
try:
    cb.load_mnist(sys.argv[1], "train", download=False)
    error = None
except Exception as err:
    error = f"{type(err).__name__}: {err}"
print(json.dumps({"error": error, "peak": tracemalloc.get_traced_memory()[1], "seconds": time.perf_counter() - start}))
"""


@pytest.fixture(scope="module")
def zeros_784_mb() -> bytes:
    """784 MB of zero bytes in about 760 KB of gzip: 49 copies of one member holding 16 MB."""
    return gzip.compress(bytes(16_000_000), 9) * 49


@pytest.mark.skipif(resource is None or not Path("/proc/self/status").exists(), reason="needs Linux")
@pytest.mark.parametrize("dims, words", [
    ((60_000, 28, 28), "has data beyond the (60000, 28, 28) = 47,040,000 bytes its header announces"),
    ((1_000_000, 28, 28), "announces 1,000,000 records, more than the 60,000 this file can hold"),
])
def test_a_gzip_bomb_is_refused_in_bounded_memory(tmp_path, zeros_784_mb, dims, words):
    """The issue's case: a .gz file of about 762 KB that inflates to 784 MB (a header, then the
    zeros: two gzip members, read as one stream). Loaded in a child process whose address space may
    grow by at most 512 MB: refused, having inflated at most what the header announces (47 MB)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    path = raw / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx(dims, b"")) + zeros_784_mb)
    assert 700_000 < path.stat().st_size < 800_000
    (raw / "train-labels-idx1-ubyte").write_bytes(idx((60_000,), bytes(60_000)))
    before = snapshot(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(BOMB_CHILD), str(tmp_path)], capture_output=True,
                         text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    result = __import__("json").loads(run.stdout.splitlines()[-1])
    assert result["error"].startswith("DataFileError: ") and str(path) in result["error"], result
    assert words in result["error"] and "\n" not in result["error"]
    assert result["peak"] < 47_040_001 + (16 << 20), result
    assert result["seconds"] < 30, result
    assert snapshot(tmp_path) == before


def test_good_mnist_files_still_load_in_both_forms(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    for name, content in (("raw", idx((5, 28, 28), data.tobytes())), ("x.gz", gzip.compress(idx((5, 28, 28),
                                                                                              data.tobytes())))):
        (tmp_path / name).write_bytes(content)
        assert torch.equal(read_idx(tmp_path / name, 3), torch.from_numpy(data))
