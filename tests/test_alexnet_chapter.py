"""The AlexNet chapter's colour path, the one Colab takes when it has CIFAR-10.

Built offline, the chapter measures on padded MNIST digits (one channel); with CIFAR-10 on disk it
builds its networks with three input channels, flips the training images and trains LeNet-5 on
colour images. That path is run here in quick mode on random images written in CIFAR-10's binary
format (a smoke test: the numbers mean nothing, only that every cell runs on 3x32x32 images).
"""
from test_data import write_cifar10_binary

from test_book import BOOK

CHAPTER = BOOK / "alexnet.ipynb"


def outputs_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", "".join(out.get("traceback", []))[-2000:]
            parts.append(out.get("text", ""))
            for mime in ("text/plain", "text/html"):
                data = out.get("data", {}).get(mime, "")
                parts.append(data if isinstance(data, str) else "".join(data))
    return "\n".join(parts)


def test_the_chapter_runs_on_colour_images_in_cifar10_format(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    write_cifar10_binary(tmp_path / "data", n_per_batch=250)  # in ROOT: a subset of the published sizes
    monkeypatch.setenv("CNNBOOK_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CNNBOOK_QUICK", "1")
    monkeypatch.setenv("CNNBOOK_STRICT", "1")
    nb = nbformat.reads(CHAPTER.read_text(), as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(BOOK)}}).execute()
    text = outputs_text(nb)
    assert "ImageDataset('CIFAR-10', source='local', 1,250 images 3x32x32 uint8" in text
    # LeNet-5 on colour 32x32 images: 3*6*25+6 + 6*16*25+16 + 400*120+120 + 120*84+84 + 84*10+10
    assert "LeNet-5 (32x32 input)" in text and "62,006" in text
    # colour images are mirrored in augmentation, digits are not
    assert "compose(random_crop(padding=4, fill=0.0), random_flip(p=0.5))" in text
