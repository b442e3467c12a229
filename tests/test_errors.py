"""cnnbook.errors: the base of cnnbook's own errors, and file names printed safely."""
import os
import subprocess
import sys

import cnnbook.errors
from cnnbook.checkpoint import CheckpointError
from cnnbook.errors import CnnbookError, printable
from cnnbook.train import TrainingDivergedError


def test_cnnbook_s_errors_share_a_base_and_keep_their_old_kinds():
    assert issubclass(CheckpointError, CnnbookError) and issubclass(CheckpointError, ValueError)
    assert issubclass(TrainingDivergedError, CnnbookError) and issubclass(TrainingDivergedError, ArithmeticError)
    assert "CnnbookError" in cnnbook.errors.__all__


def test_printable_escapes_what_an_encoding_cannot_write():
    latin1 = os.fsdecode(b"/data/caf\xe9/r\xfcn.pt")  # a path whose bytes are not UTF-8
    assert "\udce9" in latin1
    assert printable(latin1) == "/data/caf\\xe9/r\\xfcn.pt"
    assert printable(b"/data/caf\xe9") == "/data/caf\\xe9"
    assert printable("/données/é.pt") == "/données/é.pt"  # valid characters stay as they are
    assert printable("a\ud800b") == "a\\ud800b"  # a lone surrogate that is no escaped byte
    printable(latin1).encode("utf-8", "strict")  # writable by a strict UTF-8 stream


def test_printed_under_a_strict_utf8_stream_it_does_not_crash():
    code = ("import os, sys; from cnnbook.errors import printable; "
            "print(printable(os.fsdecode(b'/x/\\xff.pt')))")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "PYTHONPATH": os.getcwd()}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stdout == b"/x/\\xff.pt\n", r.stderr
