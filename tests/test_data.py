"""Tests of cnnbook.data: file formats, fallbacks, errors, device batches, augmentations.

Tiny datasets are written in MNIST's IDX format and CIFAR-10's binary format into temporary
folders and loaded through load_mnist / load_cifar10, the same code users run. Nothing here reads
../shared; the bundled subset is read from the package itself.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import struct
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnbook import data as D
from cnnbook.data import download as data_download
from cnnbook.data import files as data_files
from cnnbook.data import standin as data_standin

torch.set_num_threads(1)

MNIST_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


# ----------------------------------------------------------------------------- writers of real formats


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000 08 <ndim>, big-endian dims, then the data."""
    return struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + \
        array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, split: str = "train", n: int = 20, gz: bool = False, seed: int = 0):
    """Tiny IDX files in MNIST's format (Fashion-MNIST's too: the same names and layout)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, array in zip(MNIST_NAMES[split], (images, labels)):
        blob = idx_bytes(array)
        path = folder / (name + ".gz" if gz else name)
        path.write_bytes(gzip.compress(blob) if gz else blob)
        paths.append(path)
    return images, labels, paths


CIFAR10_BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
CIFAR10_META = "plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"  # a blank line at the end, as CIFAR's


def write_cifar10_binary(folder: Path, n_per_batch: int = 6, seed: int = 0, meta: bool = True) -> dict:
    """data_batch_1.bin .. data_batch_5.bin and test_batch.bin in CIFAR-10's binary format: records
    of one label byte (0..9) and 3,072 pixel bytes (1024 red, 1024 green, 1024 blue values, row by
    row), plus batches.meta.txt (class names, one per line). Returns {name: (pixels (N, 3072)
    uint8, labels list)}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in CIFAR10_BATCHES:
        pixels = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch, dtype=np.uint8)
        (folder / name).write_bytes(np.concatenate([labels[:, None], pixels], axis=1).tobytes())
        written[name] = (pixels, labels.tolist())
    if meta:
        (folder / "batches.meta.txt").write_text(CIFAR10_META)
    return written


def tar_gz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A .tar.gz archive holding ``members`` (name -> content) and symbolic ``links`` (name -> target)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return out.getvalue()


def cifar10_archive(folder: Path, n_per_batch: int = 6) -> bytes:
    """CIFAR-10's binary archive in miniature: the files of :func:`write_cifar10_binary` under
    cifar-10-batches-bin/, and a readme, as the real one has."""
    write_cifar10_binary(folder, n_per_batch)
    members = {f"cifar-10-batches-bin/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}
    return tar_gz({**members, "cifar-10-batches-bin/readme.html": b"<html></html>"})


def small_cifar10_table(monkeypatch, records: int, md5: str = "") -> None:
    """CIFAR-10's table with ``records`` per batch file (and the archive's ``md5``), so that a test
    can write the published layout in miniature."""
    table = data_files._CIFAR10
    monkeypatch.setattr(data_files, "_CIFAR10", dataclasses.replace(table, records=records, md5=md5 or table.md5))


# ----------------------------------------------------------------------------- MNIST


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["torchvision", "flat"])
def test_mnist_idx_files_load_exactly(tmp_path, gz, layout):
    folder = tmp_path / "MNIST" / "raw" if layout == "torchvision" else tmp_path
    for split in ("train", "test"):
        images, labels, _ = write_mnist(folder, split, n=13 if split == "train" else 7, gz=gz, seed=len(split))
        ds = D.load_mnist(tmp_path, split, download=False)
        assert ds.source == "local" and ds.name == "MNIST"
        assert ds.images.dtype == torch.uint8 and ds.images.shape == (len(images), 1, 28, 28)
        assert torch.equal(ds.images[:, 0], torch.from_numpy(images))
        assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == labels.tolist()
        assert ds.classes == tuple("0123456789") and ds.mean == (0.1307,) and ds.std == (0.3081,)


def test_mnist_truncated_file_names_the_file(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    _, _, (images_path, _) = write_mnist(raw)
    images_path.write_bytes(images_path.read_bytes()[:-100])
    with pytest.raises(D.DataFileError, match="truncated") as err:
        D.load_mnist(tmp_path, download=False)
    assert str(images_path) in str(err.value) and "Delete it" in str(err.value)
    assert err.value.path == images_path and isinstance(err.value, ValueError)


def test_mnist_truncated_gzip_names_the_file(tmp_path):
    _, _, (images_path, _) = write_mnist(tmp_path, gz=True)
    images_path.write_bytes(images_path.read_bytes()[:-50])
    with pytest.raises(D.DataFileError) as err:
        D.load_mnist(tmp_path, download=False)
    assert str(images_path) in str(err.value) and "download" in str(err.value)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"\x00\x00\x09\x03" + b[4:], "bad magic number"),      # not bytes
    (lambda b: b"\x00\x00\x08\x02" + b[4:], "bad magic number"),      # wrong number of dims
    (lambda b: b + b"\x00" * 10, "beyond"),                            # trailing garbage
    (lambda b: b[:10], "header"),                                     # cut inside the header
    (lambda b: b"", "too short"),
])
def test_mnist_corrupt_files(tmp_path, damage, message):
    _, _, (images_path, _) = write_mnist(tmp_path)
    images_path.write_bytes(damage(images_path.read_bytes()))
    with pytest.raises(D.DataFileError, match=message) as err:
        D.load_mnist(tmp_path, download=False)
    assert str(images_path) in str(err.value)


def test_mnist_label_count_and_image_size_must_match(tmp_path):
    _, _, (images_path, labels_path) = write_mnist(tmp_path, n=10)
    labels_path.write_bytes(idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(D.DataFileError, match="9 labels for the 10 images") as err:
        D.load_mnist(tmp_path, download=False)
    assert str(labels_path) in str(err.value)
    images_path.write_bytes(idx_bytes(np.zeros((9, 32, 32), np.uint8)))
    with pytest.raises(D.DataFileError, match="28x28"):
        D.load_mnist(tmp_path, download=False)


def test_bad_split_root_and_types(tmp_path):
    for load in (D.load_mnist, D.load_cifar10):
        with pytest.raises(ValueError, match="split"):
            load(tmp_path, "validation", download=False)
        a_file = tmp_path / "file.txt"
        a_file.write_text("x")
        with pytest.raises(ValueError, match="root"):
            load(a_file, download=False)
        with pytest.raises(ValueError, match="root"):  # cannot be created: its parent is a file
            load(a_file / "data", download=True, verbose=False)
        with pytest.raises(TypeError, match="root"):
            load(42, download=False)
    with pytest.raises(ValueError, match="split"):
        D.cifar10_stand_in("val")


def test_default_root_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_DATA", str(tmp_path))
    assert D.default_root() == tmp_path
    images, _, _ = write_mnist(tmp_path / "MNIST" / "raw", "test", n=5)
    assert torch.equal(D.load_mnist(split="test", download=False).images[:, 0], torch.from_numpy(images))
    monkeypatch.delenv("CNNBOOK_DATA")
    assert D.default_root() == Path("~/.cache/cnnbook").expanduser()


def test_offline_mnist_falls_back_to_bundled_subset(tmp_path, capsys):
    ds = D.load_mnist(tmp_path, download=False)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "MNIST not found" in out and "bundled" in out and str(tmp_path) in out
    assert ds.source == "bundled" and ds.name == "MNIST (bundled subset)"
    assert ds.images.shape == (12_000, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert torch.bincount(ds.labels, minlength=10).tolist() == [1200] * 10
    # real handwriting, not noise: dark background, bright strokes, the known mean and std
    pixels = ds.images.float() / 255
    assert abs(pixels.mean().item() - ds.mean[0]) < 5e-4 and abs(pixels.std().item() - ds.std[0]) < 5e-4
    assert (ds.images[:, :, 0, :] == 0).float().mean() > 0.99  # top rows are empty
    test = D.load_mnist(tmp_path, "test", download=False, verbose=False)
    assert capsys.readouterr().out == ""
    assert torch.bincount(test.labels, minlength=10).tolist() == [200] * 10
    assert test.mean == ds.mean  # both splits normalised with the training statistics


def test_missing_bundled_subset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "_BUNDLED_MNIST", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="reinstall cnnbook"):
        D.load_mnist(tmp_path, download=False, verbose=False)


PACKAGE_DATA = Path(D.__file__).parent.parent / "_data"


@pytest.mark.parametrize("folder, most", [("mnist", 3_000_000), ("fashion_mnist", 4_000_000)])
def test_bundled_subset_is_small(folder, most):
    total = sum(p.stat().st_size for p in (PACKAGE_DATA / folder).iterdir() if p.is_file())
    assert 0 < total <= most


def test_bundled_subsets_are_credited_and_their_md5s_stated():
    readme = (PACKAGE_DATA / "README.md").read_text()
    for must in ("LeCun", "Cortes", "Burges", "CC BY-SA 3.0", "make_mnist_subset.py", "Zalando Research",
                 "Xiao", "Rasul", "Vollgraf", "MIT", "--dataset fashion-mnist"):
        assert must in readme
    for folder in ("mnist", "fashion_mnist"):
        section = readme[readme.index(f"## {folder}/"):]
        for path in sorted((PACKAGE_DATA / folder).iterdir()):
            md5 = hashlib.md5(path.read_bytes()).hexdigest()
            assert f"| {path.name} |" in section and md5 in section.split("\n## ")[0], (folder, path.name)


def test_offline_download_attempt_is_quick(tmp_path, capsys, monkeypatch):
    """download=True without network (or with the probe refused) falls back within seconds."""
    monkeypatch.setattr(data_files, "online", lambda url: False)
    for env in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(env, raising=False)
    start = time.perf_counter()
    ds = D.load_mnist(tmp_path, "test")
    assert time.perf_counter() - start < 5
    assert ds.source == "bundled" and "could not be downloaded" in capsys.readouterr().out


def test_downloaded_files_are_read_and_named_download(tmp_path, monkeypatch, capsys):
    def fake_download(root, verbose):  # stands in for torchvision's downloader
        write_mnist(root / "MNIST" / "raw", "train", n=10, gz=True)
        return True

    monkeypatch.setattr(data_files, "_download_mnist", fake_download)
    ds = D.load_mnist(tmp_path)
    assert ds.source == "download" and len(ds) == 10 and capsys.readouterr().out == ""
    assert D.load_mnist(tmp_path).source == "local"


def test_failed_download_leaves_no_partial_files(tmp_path):
    (tmp_path / "kept.txt").write_text("was here before")
    with pytest.raises(RuntimeError):
        with data_download.download_guard(tmp_path, verbose=False):
            (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"half a file")
            (tmp_path / "cifar-10-batches-bin").mkdir()
            raise RuntimeError("connection reset")
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]

# ----------------------------------------------------------------------------- Fashion-MNIST


def test_offline_fashion_mnist_falls_back_to_bundled_subset(tmp_path, capsys):
    ds = D.load_fashion_mnist(tmp_path, download=False)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("Fashion-MNIST not found") and str(tmp_path) in out
    assert "bundled" in out and "6,000 train images" in out
    assert ds.source == "bundled" and ds.name == "Fashion-MNIST (bundled subset)"
    assert ds.classes == D.FASHION_MNIST_CLASSES and len(ds.classes) == 10 and ds.classes[9] == "Ankle boot"
    assert ds.images.shape == (6_000, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert torch.bincount(ds.labels, minlength=10).tolist() == [600] * 10
    pixels = ds.images.float() / 255
    assert abs(pixels.mean().item() - ds.mean[0]) < 5e-4 and abs(pixels.std().item() - ds.std[0]) < 5e-4
    test = D.load_fashion_mnist(tmp_path, "test", download=False, verbose=False)
    assert capsys.readouterr().out == ""
    assert torch.bincount(test.labels, minlength=10).tolist() == [200] * 10
    assert test.mean == ds.mean and test.classes == ds.classes
    # a different dataset from the bundled MNIST: its own images
    assert not torch.equal(test.images, D.load_mnist(tmp_path, "test", download=False, verbose=False).images)


def test_fashion_mnist_names_and_statistics_are_torchvisions_and_the_datas():
    assert D.FASHION_MNIST_CLASSES == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                       "Shirt", "Sneaker", "Bag", "Ankle boot")
    assert D.FASHION_MNIST_MEAN == (0.2860,) and D.FASHION_MNIST_STD == (0.3530,)
    tv = pytest.importorskip("torchvision.datasets")
    for table, theirs in ((data_files._MNIST, tv.MNIST), (data_files._FASHION_MNIST, tv.FashionMNIST)):
        assert table.mirrors == tuple(theirs.mirrors) and table.resources == tuple(theirs.resources)
        assert table.classes == tuple(theirs.classes) or table.name == "MNIST"


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("folder", ["FashionMNIST/raw", "fashion-mnist"])
def test_fashion_mnist_idx_files_load_exactly(tmp_path, gz, folder):
    for split in ("train", "test"):
        images, labels, _ = write_mnist(tmp_path / folder, split, n=11 if split == "train" else 7, gz=gz,
                                        seed=len(split))
        ds = D.load_fashion_mnist(tmp_path, split, download=False)
        assert ds.source == "local" and ds.name == "Fashion-MNIST"
        assert ds.classes == D.FASHION_MNIST_CLASSES and ds.mean == D.FASHION_MNIST_MEAN
        assert ds.images.shape == (len(labels), 1, 28, 28) and ds.images.dtype == torch.uint8
        assert torch.equal(ds.images[:, 0], torch.from_numpy(images))
        assert ds.labels.tolist() == labels.tolist()


def test_mnist_and_fashion_mnist_never_take_each_others_files(tmp_path, capsys):
    """The same file names: each loader looks only in its own folders (MNIST also in ROOT itself)."""
    mnist_images, _, _ = write_mnist(tmp_path / "MNIST" / "raw", "test", n=5, seed=1)
    fashion_images, _, _ = write_mnist(tmp_path / "FashionMNIST" / "raw", "test", n=6, seed=2)
    assert torch.equal(D.load_mnist(tmp_path, "test", download=False).images[:, 0], torch.from_numpy(mnist_images))
    assert torch.equal(D.load_fashion_mnist(tmp_path, "test", download=False).images[:, 0],
                       torch.from_numpy(fashion_images))
    only_root = tmp_path / "root"
    write_mnist(only_root, "test", n=5)
    assert D.load_mnist(only_root, "test", download=False).source == "local"
    assert D.load_fashion_mnist(only_root, "test", download=False, verbose=False).source == "bundled"


def test_fashion_mnist_bad_labels_and_sizes_name_the_file(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    _, _, (images_path, labels_path) = write_mnist(raw, "test", n=10)
    labels_path.write_bytes(idx_bytes(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 10])))
    with pytest.raises(D.DataFileError, match=r"labels must be classes 0\.\.9, found 10") as err:
        D.load_fashion_mnist(tmp_path, "test", download=False)
    assert err.value.path == labels_path and "call load_fashion_mnist() again" in str(err.value)
    images_path.write_bytes(idx_bytes(np.zeros((10, 32, 32))))
    with pytest.raises(D.DataFileError, match="Fashion-MNIST images are 28x28"):
        D.load_fashion_mnist(tmp_path, "test", download=False)


def test_fashion_mnist_download_goes_to_torchvisions_folder(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_download(root, table, verbose):  # stands in for torchvision's downloader
        calls.append((table.name, table.folders[0]))
        write_mnist(root / table.folders[0], "train", n=10, gz=True)
        return True

    monkeypatch.setattr(data_files, "_download_idx", fake_download)
    ds = D.load_fashion_mnist(tmp_path)
    assert calls == [("Fashion-MNIST", "FashionMNIST/raw")]
    assert ds.source == "download" and ds.name == "Fashion-MNIST" and len(ds) == 10
    assert capsys.readouterr().out == "" and D.load_fashion_mnist(tmp_path).source == "local"


def test_fashion_mnist_offline_download_attempt_is_quick_and_says_so(tmp_path, capsys, monkeypatch):
    probed = []
    monkeypatch.setattr(data_files, "online", lambda url: probed.append(url) or False)
    for env in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(env, raising=False)
    start = time.perf_counter()
    ds = D.load_fashion_mnist(tmp_path, "test")
    assert time.perf_counter() - start < 5 and probed == [data_files._FASHION_MNIST.mirrors[0]]
    out = capsys.readouterr().out
    assert ds.source == "bundled" and out.count("\n") == 1 and "could not be downloaded" in out


def test_fashion_mnist_missing_bundled_subset_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(data_files, "_BUNDLED_FASHION_MNIST", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST is not in .*reinstall cnnbook"):
        D.load_fashion_mnist(tmp_path, download=False, verbose=False)


@pytest.mark.parametrize("root, split, error, words", [
    ("test", "train", ValueError, "looks like a split name"),
    (None, "val", ValueError, "split must be 'train' or 'test'"),
    (3, "train", TypeError, "root must be a folder path"),
])
def test_fashion_mnist_bad_arguments(tmp_path, monkeypatch, root, split, error, words):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=words):
        D.load_fashion_mnist(root, split, download=False)


# ----------------------------------------------------------------------------- CIFAR-10


@pytest.mark.parametrize("layout", ["archive", "flat"])
def test_cifar10_binary_batches_load_exactly(tmp_path, layout, monkeypatch):
    if layout == "archive":  # the folder the archive unpacks to holds the published sizes only
        small_cifar10_table(monkeypatch, records=6)
    folder = tmp_path / "cifar-10-batches-bin" if layout == "archive" else tmp_path
    written = write_cifar10_binary(folder)
    train = D.load_cifar10(tmp_path, "train", download=False)
    assert train.source == "local" and train.name == "CIFAR-10" and train.images.shape == (30, 3, 32, 32)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert train.classes == ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    pixels, labels = written["data_batch_2.bin"]
    # image 0 of batch 2: the first 1024 values are the red plane, row by row
    assert torch.equal(train.images[6, 0], torch.from_numpy(pixels[0, :1024].reshape(32, 32)))
    assert torch.equal(train.images[6, 2, 31], torch.from_numpy(pixels[0, -32:]))
    assert train.labels[6:12].tolist() == labels
    everything = np.concatenate([written[name][0] for name in CIFAR10_BATCHES[:5]])
    assert torch.equal(train.images.flatten(1), torch.from_numpy(everything))
    test = D.load_cifar10(tmp_path, "test", download=False)
    assert len(test) == 6 and test.labels.tolist() == written["test_batch.bin"][1]
    assert test.mean == D.CIFAR10_MEAN and test.std == D.CIFAR10_STD


def test_cifar10_without_meta_uses_cifar_names(tmp_path):
    write_cifar10_binary(tmp_path, meta=False)
    assert D.load_cifar10(tmp_path, download=False).classes == D.CIFAR10_CLASSES


def test_cifar10_published_folder_needs_the_published_sizes(tmp_path):
    """In cifar-10-batches-bin (as the archive unpacks) every batch must be 30,730,000 bytes."""
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar10_binary(folder, n_per_batch=2)
    with pytest.raises(D.DataFileError, match="holds 6,146 bytes, expected 30,730,000 "
                       r"\(10,000 records of 3,073 bytes: 1 label byte and 3,072 pixel bytes\)") as err:
        D.load_cifar10(tmp_path, "test", download=False)
    assert err.value.path == folder / "test_batch.bin" and f"Delete the folder {folder}" in str(err.value)


def test_cifar10_corrupt_and_incomplete(tmp_path, monkeypatch):
    write_cifar10_binary(tmp_path)
    path = tmp_path / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(D.DataFileError, match="not a whole number of 3,073-byte records") as err:
        D.load_cifar10(tmp_path, download=False)
    assert str(path) in str(err.value) and "download" in str(err.value)
    path.write_bytes(bytes([3]) + bytes(3072) + bytes([12]) + bytes(3072))
    with pytest.raises(D.DataFileError, match=r"record 1 \(byte offset 3,073\) has label 12, but labels are 0..9"):
        D.load_cifar10(tmp_path, download=False)
    small_cifar10_table(monkeypatch, records=6)
    folder = tmp_path / "cifar-10-batches-bin"
    write_cifar10_binary(folder)
    (folder / "data_batch_3.bin").unlink()
    with pytest.raises(D.DataFileError, match="missing") as err:
        D.load_cifar10(tmp_path, download=False)
    assert err.value.path == folder / "data_batch_3.bin"


def test_cifar10_download_checks_the_md5_and_unpacks_the_batches(tmp_path, monkeypatch, capsys):
    """The download path end to end, with the network replaced by a miniature archive."""
    archive = cifar10_archive(tmp_path / "source")
    small_cifar10_table(monkeypatch, records=6, md5=hashlib.md5(archive).hexdigest())
    monkeypatch.setattr(data_files, "online", lambda url: True)
    asked = []

    def urlopen(url, timeout):
        asked.append(url)
        return io.BytesIO(archive)

    monkeypatch.setattr(data_download.urllib.request, "urlopen", urlopen)
    root = tmp_path / "data"
    ds = D.load_cifar10(root, "test")
    assert ds.source == "download" and ds.name == "CIFAR-10" and len(ds) == 6
    assert asked == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    assert "Downloading https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in capsys.readouterr().out
    unpacked = sorted(p.name for p in (root / "cifar-10-batches-bin").iterdir())
    assert unpacked == sorted(CIFAR10_BATCHES + ["batches.meta.txt"])  # the readme is not unpacked
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]
    assert D.load_cifar10(root, "train").source == "local" and len(asked) == 1


def test_cifar10_download_with_a_wrong_md5_falls_back_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    archive = cifar10_archive(tmp_path / "source")
    small_cifar10_table(monkeypatch, records=6, md5="0" * 32)
    monkeypatch.setattr(data_files, "online", lambda url: True)
    monkeypatch.setattr(data_download.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(archive))
    root = tmp_path / "data"
    root.mkdir()
    ds = D.load_cifar10(root, "test")
    assert ds.source == "stand-in" and "could not be downloaded" in capsys.readouterr().out
    assert list(root.iterdir()) == []


def test_offline_cifar10_falls_back_to_a_stand_in_named_as_such(tmp_path, capsys):
    ds = D.load_cifar10(tmp_path, "test", download=False)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "NOT CIFAR-10" in out and "stand-in" in out
    assert ds.source == "stand-in" and "stand-in" in ds.name
    assert ds.images.shape == (2000, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert not set(ds.classes) & set(D.CIFAR10_CLASSES)
    assert torch.bincount(ds.labels, minlength=10).tolist() == [200] * 10
    again = D.load_cifar10(tmp_path, "test", download=False, verbose=False)
    assert capsys.readouterr().out == ""
    assert torch.equal(again.images, ds.images) and torch.equal(again.labels, ds.labels)


def test_stand_in_statistics_match_its_constants():
    images, _ = data_standin._generate_stand_in(2000, 0)
    pixels = images.float().div(255).transpose(0, 1).reshape(3, -1)
    assert torch.allclose(pixels.mean(1), torch.tensor(data_standin._STAND_IN_MEAN), atol=0.015)
    assert torch.allclose(pixels.std(1), torch.tensor(data_standin._STAND_IN_STD), atol=0.015)


def test_stand_in_is_learnable_but_not_trivial():
    """Raw pixels do not separate the classes (random colours and positions), but a classifier on
    shift-invariant features (the magnitude of the image's Fourier transform) beats chance clearly."""
    torch.manual_seed(0)
    images, y = data_standin._generate_stand_in(2000, 7)
    x = images.float().div(255)

    def fit_linear(features):
        features = (features - features[:1400].mean(0)) / (features[:1400].std(0) + 1e-6)
        model = torch.nn.Linear(features.shape[1], 10)
        opt = torch.optim.Adam(model.parameters(), 1e-2, weight_decay=1e-3)
        for _ in range(50):
            loss = torch.nn.functional.cross_entropy(model(features[:1400]), y[:1400])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return (model(features[1400:]).argmax(1) == y[1400:]).float().mean().item()

    pixels = fit_linear(x.flatten(1)[:, ::3].contiguous())  # a third of the pixel values, for speed
    spectrum = torch.fft.rfft2(x - x.mean((2, 3), keepdim=True)).abs().sum(1).add(1e-3).log().flatten(1)
    fourier = fit_linear(spectrum)
    assert pixels < 0.3 and fourier > 0.4 and fourier > pixels + 0.2, (pixels, fourier)


# ----------------------------------------------------------------------------- ImageDataset, as_dataset


def toy(n: int = 50, classes: int = 5, channels: int = 1) -> D.ImageDataset:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, channels, 4, 4).contiguous()
    return D.as_dataset((images, torch.arange(n) % classes))


def test_subset_is_class_balanced_and_repeatable():
    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 5)
    ds = D.as_dataset((torch.zeros(85, 2, 2, dtype=torch.uint8), labels))
    sub = ds.subset(15, seed=3)
    assert torch.bincount(sub.labels).tolist() == [5, 5, 5]
    counts = torch.bincount(ds.subset(40).labels).tolist()  # class 2 runs out after 5
    assert counts[2] == 5 and sorted(counts[:2]) == [17, 18]
    assert torch.equal(ds.subset(15, seed=3).labels, sub.labels)
    assert torch.all(sub.labels[1:] >= 0) and torch.equal(sub.labels, sub.labels.sort().values)  # original order
    big = toy(100)
    assert not torch.equal(big.subset(20, seed=0).images, big.subset(20, seed=1).images)
    with pytest.raises(ValueError, match="n must"):
        ds.subset(0)
    with pytest.raises(ValueError, match="n must"):
        ds.subset(86)


def test_as_dataset_pairs():
    ds = D.as_dataset((torch.full((4, 5, 5), 51, dtype=torch.uint8), [0, 1, 2, 1]))
    assert ds.images.shape == (4, 1, 5, 5) and ds.classes == ("0", "1", "2")
    assert ds.mean == pytest.approx((0.2,)) and ds.source == "memory"
    floats = D.as_dataset((np.random.rand(3, 2, 4, 4).astype(np.float64), np.array([0, 1, 0])))
    assert floats.images.dtype == torch.float32 and floats.mean == (0.0, 0.0) and floats.std == (1.0, 1.0)
    assert D.as_dataset(ds) is ds
    with pytest.raises(ValueError, match="labels"):
        D.as_dataset((torch.zeros(4, 5, 5), torch.tensor([0.0, 1.0, 0.0, 1.0])))
    with pytest.raises(ValueError, match="labels"):
        D.as_dataset((torch.zeros(4, 5, 5), torch.tensor([0, 1, 0])))
    with pytest.raises(ValueError, match="images"):
        D.as_dataset((torch.zeros(4, 5), torch.tensor([0, 1, 0, 1])))
    with pytest.raises(ValueError, match="0..255"):
        D.as_dataset((torch.full((2, 3, 3), 300), [0, 1]))
    with pytest.raises(TypeError, match="data"):
        D.as_dataset(torch.zeros(3, 3))


def test_dataset_to_device_keeps_uint8():
    ds = toy().to("cpu")
    assert ds.images.dtype == torch.uint8 and ds.labels.device.type == "cpu" and "50 images" in repr(ds)


# ----------------------------------------------------------------------------- DeviceLoader


def test_loader_normalises_and_covers_every_sample_once():
    ds = toy(50)
    loader = D.DeviceLoader(ds, 8, shuffle=True, device="cpu", seed=1)
    assert len(loader) == 7
    batches = list(loader)
    assert [len(y) for _, y in batches] == [8] * 6 + [2]
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    assert x.dtype == torch.float32 and x.shape == (50, 1, 4, 4) and y.dtype == torch.int64
    values = x[:, 0, 0, 0] * ds.std[0] + ds.mean[0]  # undo the normalisation: the pixel value / 255
    seen = (values * 255).round().long()
    assert sorted(seen.tolist()) == list(range(50))  # every sample exactly once
    assert torch.equal(y, seen % 5)  # labels travel with their images
    assert seen.tolist() != list(range(50))  # shuffled


def test_loader_orders_per_epoch_and_seed():
    def order(loader):
        return torch.cat([y for _, y in loader]).tolist()

    ds = D.as_dataset((torch.zeros(40, 2, 2, dtype=torch.uint8), torch.arange(40)))
    a = D.DeviceLoader(ds, 16, shuffle=True, device="cpu", seed=5)
    first, second = order(a), order(a)
    assert first != second and sorted(first) == sorted(second) == list(range(40))
    b = D.DeviceLoader(ds, 16, shuffle=True, device="cpu", seed=5)
    assert order(b) == first and order(b) == second
    b.set_epoch(1)
    assert order(b) == second
    assert order(D.DeviceLoader(ds, 16, shuffle=True, device="cpu", seed=6)) != first
    assert order(D.DeviceLoader(ds, 16, device="cpu")) == list(range(40))


def test_loader_ranks_are_disjoint_and_cover():
    ds = D.as_dataset((torch.zeros(48, 2, 2, dtype=torch.uint8), torch.arange(48)))
    parts = [torch.cat([y for _, y in D.DeviceLoader(ds, 5, shuffle=True, device="cpu", rank=r, world_size=4)]).tolist()
             for r in range(4)]
    assert all(len(p) == 12 for p in parts)
    assert sorted(sum(parts, [])) == list(range(48))
    # 50 samples on 4 ranks: every rank gets 13 (two repeated), all samples covered
    ds = D.as_dataset((torch.zeros(50, 2, 2, dtype=torch.uint8), torch.arange(50)))
    loaders = [D.DeviceLoader(ds, 5, shuffle=True, device="cpu", rank=r, world_size=4) for r in range(4)]
    assert {len(lo) for lo in loaders} == {3}
    parts = [torch.cat([y for _, y in lo]).tolist() for lo in loaders]
    assert all(len(p) == 13 for p in parts) and set(sum(parts, [])) == set(range(50))
    dropped = D.DeviceLoader(ds, 5, drop_last=True, device="cpu", rank=3, world_size=4)
    assert dropped.num_samples == 12 and len(dropped) == 2


def test_loader_augments_before_normalising():
    ds = D.as_dataset((torch.zeros(4, 1, 6, 6, dtype=torch.uint8), [0, 1, 0, 1]))
    ds.mean, ds.std = (0.5,), (0.25,)
    seen = []

    def spy(x):
        seen.append(x.clone())
        return x + 1.0

    x, _ = next(iter(D.DeviceLoader(ds, 4, augment=spy, device="cpu")))
    assert torch.equal(seen[0], torch.zeros(4, 1, 6, 6))  # augment sees pixel values in [0, 1]
    assert torch.allclose(x, torch.full_like(x, (1.0 - 0.5) / 0.25))


def test_loader_validates_arguments():
    ds = toy(10)
    for bad in (0, -1):
        with pytest.raises(ValueError, match="batch_size"):
            D.DeviceLoader(ds, bad, device="cpu")
    for bad in (2.5, "8", True):  # the wrong type: TypeError (one rule, cnnbook._checks)
        with pytest.raises(TypeError, match="batch_size"):
            D.DeviceLoader(ds, bad, device="cpu")
    with pytest.raises(ValueError, match="rank"):
        D.DeviceLoader(ds, 2, device="cpu", rank=2, world_size=2)
    with pytest.raises(ValueError, match="world_size"):
        D.DeviceLoader(ds, 2, device="cpu", world_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        D.DeviceLoader(ds, 20, drop_last=True, device="cpu")
    with pytest.raises(TypeError, match="augment"):
        D.DeviceLoader(ds, 2, augment="flip", device="cpu")


def test_loader_accepts_pairs_and_keeps_float_data():
    x = torch.randn(10, 3, 4, 4)
    loader = D.DeviceLoader((x, torch.arange(10) % 2), 4, device="cpu")
    xb, yb = next(iter(loader))
    assert torch.equal(xb, x[:4]) and yb.tolist() == [0, 1, 0, 1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_loader_on_cuda_never_waits_for_the_gpu():
    ds = toy(1000, channels=3)
    loader = D.DeviceLoader(ds, 64, shuffle=True, augment=D.compose(D.random_crop(1), D.random_flip()), device="cuda")
    assert loader.dataset.images.is_cuda
    next(iter(loader))  # warm up
    torch.cuda.set_sync_debug_mode("error")
    try:
        for x, y in loader:
            assert x.is_cuda and y.is_cuda
    finally:
        torch.cuda.set_sync_debug_mode("default")


# ----------------------------------------------------------------------------- augmentations


def test_random_shift_moves_a_known_image():
    x = torch.zeros(200, 1, 9, 9)
    x[:, :, 4, 4] = 1.0  # one bright pixel in the centre
    out = D.random_shift(2, generator=torch.Generator().manual_seed(0))(x)
    assert out.shape == x.shape
    assert torch.all(out.sum((1, 2, 3)) == 1)  # the pixel moved, was not lost (shift <= 2 < border)
    where = out[:, 0].flatten(1).argmax(1)
    dy, dx = where // 9 - 4, where % 9 - 4
    assert dy.abs().max() == 2 and dx.abs().max() == 2  # every shift up to 2 is drawn
    assert len(set(zip(dy.tolist(), dx.tolist()))) == 25
    # a shift really shifts content: compare with torch.roll where nothing wraps
    img = torch.rand(1, 2, 8, 8)
    shifted = D.translate(img, torch.tensor([2]), torch.tensor([-1]), fill=0.0)
    assert torch.equal(shifted[0, :, :7, 2:], img[0, :, 1:, :6])
    assert torch.all(shifted[0, :, :, :2] == 0) and torch.all(shifted[0, :, 7, :] == 0)


def test_random_crop_keeps_content_and_pads_with_fill():
    x = torch.rand(64, 3, 8, 8) + 1.0  # all values >= 1
    out = D.random_crop(3, fill=-5.0, generator=torch.Generator().manual_seed(1))(x)
    assert out.shape == x.shape
    for img, src in zip(out, x):
        kept = img[img != -5.0]  # every kept value is from the same image
        assert kept.numel() >= 3 * 5 * 5 and torch.isin(kept, src).all()
    assert (out == -5.0).any() and (out != -5.0).any()
    assert torch.equal(D.random_crop(0)(x), x)


def test_random_flip_flips_left_right():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(100, 2, 1, 1)
    out = D.random_flip(0.5, generator=torch.Generator().manual_seed(2))(x)
    flipped = (out == x.flip(3)).flatten(1).all(1)
    same = (out == x).flatten(1).all(1)
    assert torch.all(flipped ^ same) and 25 < flipped.sum() < 75
    assert torch.equal(D.random_flip(1.0)(x), x.flip(3)) and torch.equal(D.random_flip(0.0)(x), x)


def test_compose_and_argument_checks():
    x = torch.rand(5, 1, 6, 6)
    aug = D.compose(D.random_flip(1.0), D.random_flip(1.0))
    assert torch.equal(aug(x), x) and "random_flip" in repr(aug)
    for bad, error in ((-1, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="max_shift"):
            D.random_shift(bad)
        with pytest.raises(error, match="padding"):
            D.random_crop(bad)
    with pytest.raises(ValueError, match="p must"):
        D.random_flip(1.5)
    with pytest.raises(TypeError, match="p must"):
        D.random_flip("0.5")
    with pytest.raises(TypeError, match="augs"):
        D.compose(D.random_flip(), 3)
    with pytest.raises(ValueError, match="x must"):
        D.random_flip()(torch.zeros(6, 6))


@pytest.mark.parametrize("word", ["train", "test"])
def test_a_split_name_passed_as_root_is_caught(word, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no folder of that name here
    for load in (D.load_mnist, D.load_cifar10):
        with pytest.raises(ValueError, match=f"use split='{word}'"):
            load(word, download=False)
    assert not (tmp_path / word).exists(), "nothing may be created for the mistaken root"


def test_split_holds_out_a_disjoint_balanced_validation_set():
    import cnnbook as cb

    images = torch.arange(200, dtype=torch.uint8).view(200, 1, 1, 1).expand(200, 1, 2, 2).contiguous()
    labels = torch.arange(200) % 4
    data = cb.as_dataset((images, labels))
    train, val = data.split(40, seed=3)
    assert len(train) == 160 and len(val) == 40
    ids_train = set(train.images[:, 0, 0, 0].tolist())
    ids_val = set(val.images[:, 0, 0, 0].tolist())
    assert ids_train.isdisjoint(ids_val) and len(ids_train | ids_val) == 200
    assert torch.bincount(val.labels).tolist() == [10, 10, 10, 10]
    assert train.mean == data.mean and val.std == data.std
    assert data.split(40, seed=3)[1].images.equal(val.images)
    assert not data.split(40, seed=4)[1].images.equal(val.images)
    with pytest.raises(ValueError, match="n_val must be from 1 to 199"):
        data.split(200)
    with pytest.raises(TypeError, match="n_val must be an int"):
        data.split(0.2)


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_the_host_memory_path_gives_the_same_batches(device):
    """on_host=True forces the path taken when the data does not fit on the GPU: the images stay
    in (pinned) host memory and each batch is copied over; in order, the batches are the same, and
    shuffled, every epoch still visits every sample once (its permutation is drawn on the host)."""
    ds = toy(50, channels=3)
    kw = dict(device=device, augment=D.random_flip(1.0))
    on_device, on_host = D.DeviceLoader(ds, 16, **kw), D.DeviceLoader(ds, 16, on_host=True, **kw)
    assert on_host.dataset.images.device.type == "cpu" and on_host._on_host and not on_device._on_host
    if device == "cuda":
        assert on_host.dataset.images.is_pinned()
    for (x1, y1), (x2, y2) in zip(on_device, on_host):
        assert x2.device.type == device and torch.equal(x1, x2) and torch.equal(y1, y2)
    shuffled = D.DeviceLoader(ds, 16, on_host=True, shuffle=True, seed=3, device=device)
    for _epoch in range(2):
        firsts = torch.cat([x[:, 0, 0, 0] for x, _ in shuffled]).cpu()
        expected = (torch.arange(50) / 255 - ds.mean[0]) / ds.std[0]
        assert torch.allclose(firsts.sort().values, expected, atol=1e-5)


def test_pad_images_adds_background_and_keeps_the_statistics():
    ds = toy(6)
    padded = D.pad_images(ds, 2)
    n, c, h, w = ds.images.shape
    assert padded.images.shape == (n, c, h + 4, w + 4) and padded.images.dtype == torch.uint8
    assert torch.equal(padded.images[:, :, 2:-2, 2:-2], ds.images)
    border = padded.images.clone()
    border[:, :, 2:-2, 2:-2] = 0
    assert border.sum() == 0  # black, the digits' background
    assert padded.mean == ds.mean and padded.std == ds.std  # a pixel means what it meant unpadded
    assert torch.equal(padded.labels, ds.labels) and D.pad_images(ds, 0) is ds
    floats = D.as_dataset((torch.rand(4, 1, 5, 5), torch.arange(4)))
    fpad = D.pad_images(floats, 1)
    assert fpad.images.shape == (4, 1, 7, 7) and fpad.images.dtype == torch.float32
    assert fpad.images[:, :, 0].abs().sum() == 0 and fpad.mean == floats.mean
    with pytest.raises(ValueError, match="pad"):
        D.pad_images(ds, -1)
    with pytest.raises(TypeError, match="pad"):
        D.pad_images(ds, 1.5)
    with pytest.raises(TypeError, match="data"):
        D.pad_images((ds.images, ds.labels), 2)
