"""cnnbook's own errors, and file names shown safely in messages.

Every error that cnnbook raises on purpose about something the user can fix -- a damaged or
foreign checkpoint, a training run that diverged -- derives from :class:`CnnbookError`, so a
program (the command line, say) can tell such a message from a bug::

    try:
        cb.fit(model, train, epochs=3, checkpoint="run.pt", resume=True)
    except cb.errors.CnnbookError as err:
        print(err)          # one line naming the file or the setting, and what to do

No chapter teaches this module; :func:`printable` is how every message names a file.
"""

from __future__ import annotations

import os
import sys

__all__ = ["CnnbookError", "printable"]


class CnnbookError(Exception):
    """The base of the errors cnnbook raises on purpose: each message is one line saying what is
    wrong and what to do. The command line prints it as ``error: ...`` (no traceback)."""


def printable(text: str | bytes | os.PathLike) -> str:
    """``text`` (a path, or a message naming one) as a string that any output stream can write:
    bytes that are not valid in the file system's encoding (a file named with Latin-1 bytes on a
    UTF-8 system) are shown as ``\\xff`` escapes instead of the lone surrogates that make a strict
    UTF-8 stream fail. Used by every message that names a file (no chapter teaches it)."""
    encoding = sys.getfilesystemencoding()
    try:
        raw = os.fsencode(text)  # a str's escaped bytes (surrogateescape) back to those bytes
    except UnicodeEncodeError:  # other lone surrogates: shown as escapes too
        raw = os.fsdecode(text).encode(encoding, "backslashreplace")
    return raw.decode(encoding, "backslashreplace")
