"""Safe files: an archive of JSON metadata plus NumPy arrays, written atomically.

The format is a zip file holding ``meta.json`` and one ``.npy`` entry per array
(``arrays/<name>.npy``). Reading never unpickles anything (``allow_pickle=False``),
zip's CRC-32 catches flipped bytes, and a truncated, corrupted or foreign file raises
:class:`relunet.errors.ModelFileError` before anything is built from it. Writing goes
to a temporary file in the same directory, is flushed to disk, then renamed over the
target, so a crash mid-write leaves any previous file intact.
"""

from __future__ import annotations

import io as _io
import json
import os
import tempfile
import zipfile
import zlib
from typing import Any

import numpy as np

from .errors import ModelFileError

MAGIC = "relunet"


def write_archive(path: str | os.PathLike, kind: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Atomically write ``meta`` (JSON-serialisable) and ``arrays`` to ``path``.

    Args:
        kind: what the file holds (e.g. ``"model"``, ``"checkpoint"``); checked on read.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    header = {"format": MAGIC, "kind": kind, "version": 1, "arrays": sorted(arrays), "meta": meta}
    fd, tmp = tempfile.mkstemp(prefix=".relunet-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr("meta.json", json.dumps(header))
                for name, arr in arrays.items():
                    buf = _io.BytesIO()
                    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
                    zf.writestr(f"arrays/{name}.npy", buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_archive(path: str | os.PathLike, kind: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read an archive written by :func:`write_archive`; returns ``(meta, arrays)``.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: not a relunet file, of another kind or version, truncated or corrupted.
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path, "r") as zf:
            bad = zf.testzip()  # reads every entry and checks its CRC-32
            if bad is not None:
                raise ModelFileError(f"{path}: corrupted (checksum mismatch in {bad})")
            try:
                header = json.loads(zf.read("meta.json"))
            except KeyError:
                raise ModelFileError(f"{path}: not a relunet file (no meta.json)") from None
            if not isinstance(header, dict) or header.get("format") != MAGIC:
                raise ModelFileError(f"{path}: not a relunet file")
            if header.get("kind") != kind:
                raise ModelFileError(f"{path}: holds a {header.get('kind')!r}, expected a {kind!r}")
            if header.get("version") != 1:
                raise ModelFileError(f"{path}: unsupported format version {header.get('version')!r}")
            arrays = {}
            for name in header["arrays"]:
                with zf.open(f"arrays/{name}.npy") as f:
                    arrays[name] = np.lib.format.read_array(_io.BytesIO(f.read()), allow_pickle=False)
            return header["meta"], arrays
    except FileNotFoundError:
        raise
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError, json.JSONDecodeError,
            TypeError, zlib.error,
            # a flipped bit in a zip header can claim an unsupported method, version or
            # encryption: zipfile raises these before any checksum is read
            NotImplementedError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: truncated, corrupted or not a relunet file ({exc})") from None
