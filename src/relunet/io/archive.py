"""Safe files: an archive of JSON metadata plus NumPy arrays, written atomically.

The format is a zip file holding ``meta.json`` and one ``.npy`` entry per array
(``arrays/<name>.npy``). Reading never unpickles anything (``allow_pickle=False``),
zip's CRC-32 catches flipped bytes, and a truncated, corrupted or foreign file raises
:class:`relunet.errors.ModelFileError` before anything is built from it. Writing goes
to a temporary file in the same directory, is flushed to disk, then renamed over the
target, so a crash mid-write leaves any previous file intact.
"""

from __future__ import annotations

import errno
import io as _io
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from typing import Any

import numpy as np

from relunet.errors import ModelFileError

MAGIC = "relunet"


def output_target(path: str | os.PathLike) -> tuple[str, bool]:
    """Where a write to ``path`` lands, checked before any work: ``(real path, atomic)``.

    Symbolic links are followed (as ``open`` does), so an atomic rename replaces the file
    they point to, not the link. ``atomic`` is False for an existing non-regular file
    (``/dev/stdout``, a FIFO): renaming over it would replace the device, so it is
    written in place.

    Raises:
        IsADirectoryError: ``path`` is a directory.
        FileNotFoundError: the folder that should hold ``path`` does not exist.
        PermissionError: that folder is not writable.
    """
    path = os.fspath(path)
    try:
        st: os.stat_result | None = os.stat(path)  # follows symlinks
    except OSError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file name", path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        # a device or pipe (/dev/stdout, /dev/null, a FIFO): written in place, by the name given
        # (/dev/stdout resolves to /proc/PID/fd/pipe:[N], which cannot be opened by that name)
        return path, False
    real = os.path.realpath(path)
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise FileNotFoundError(errno.ENOENT, f"folder {folder} {what}", path)
    if st is not None and not os.access(real, os.W_OK):
        raise PermissionError(errno.EACCES, "file is not writable", path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"folder {folder} is not writable", path)
    return real, True


def _file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, flushed,
    then renamed over the target, so a crash mid-write leaves any previous file intact."""
    real, atomic = output_target(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not atomic:
        with open(real, "wb") as f:
            f.write(raw)
        return
    try:  # a file replaced keeps its permissions (a private 0600 file must not become 0644)
        mode = stat.S_IMODE(os.stat(real).st_mode)
    except OSError:
        mode = _file_mode()
    fd, tmp = tempfile.mkstemp(prefix=".relunet-", suffix=".tmp", dir=os.path.dirname(real))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes it private (0600); give it the old file's or a normal file's mode
        os.replace(tmp, real)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_archive(path: str | os.PathLike, kind: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Atomically write ``meta`` (JSON-serialisable) and ``arrays`` to ``path``.

    Args:
        kind: what the file holds (e.g. ``"model"``, ``"checkpoint"``); checked on read.
    """
    header = {"format": MAGIC, "kind": kind, "version": 1, "arrays": sorted(arrays), "meta": meta}
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("meta.json", json.dumps(header))
        for name, arr in arrays.items():
            entry = _io.BytesIO()
            np.lib.format.write_array(entry, np.asarray(arr), allow_pickle=False)
            zf.writestr(f"arrays/{name}.npy", entry.getvalue())
    write_atomic(path, buf.getvalue())


def _read_npy(path: str, name: str, raw: bytes) -> np.ndarray:
    """One ``.npy`` entry, its header checked against its size first: a tampered header
    declaring a huge shape must fail here, not make numpy allocate that many bytes."""
    buf = _io.BytesIO(raw)
    major, _ = np.lib.format.read_magic(buf)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(buf)
    if dtype.hasobject:
        raise ModelFileError(f"{path}: array {name} holds Python objects, which are never unpickled")
    need = math.prod(shape) * dtype.itemsize
    have = len(raw) - buf.tell()
    if need != have:
        raise ModelFileError(f"{path}: array {name}: its header declares shape {shape} of {dtype} "
                             f"({need} bytes) but the file holds {have} bytes; truncated or corrupted")
    buf.seek(0)
    return np.lib.format.read_array(buf, allow_pickle=False)


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
                    arrays[name] = _read_npy(path, name, f.read())
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
