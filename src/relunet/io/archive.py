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
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from relunet.errors import DataFormatError, ModelFileError

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


#: the default limit on the bytes an archive's entries may inflate to, all together
#: (``read_archive(..., max_bytes=)`` overrides it): 4 GiB
MAX_ARCHIVE_BYTES = 4 * 2**30
#: the default limit on ``meta.json`` (``read_archive(..., max_meta_bytes=)``): 64 MiB
MAX_META_BYTES = 64 * 2**20
#: an entry may inflate to at most this many times its compressed size (plus 64 KiB):
#: relunet stores its entries uncompressed, numeric arrays compress by a few percent, and a
#: file of zeros deflated a thousandfold is a zip bomb, not a model
MAX_INFLATION = 100
#: the room allowed for an ``.npy`` entry's header beyond its data
NPY_HEADER_BYTES = 4096


def _open_regular(path: str) -> _io.BufferedReader:
    """``path`` opened for reading, refused unless it is a regular file.

    A device (``/dev/zero``) or a FIFO would be read without end; the file is opened
    non-blocking (a FIFO without a writer must not hang) and checked again on the open
    descriptor (the name may have been replaced in between).
    """
    st = os.stat(path)  # FileNotFoundError passes through
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{path}: not a regular file (a folder, device or pipe); "
                             "a model or checkpoint must be a file on disk")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelFileError(f"{path}: not a regular file (a folder, device or pipe)")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_entry_sizes(path: str, zf: zipfile.ZipFile, max_bytes: int, max_meta_bytes: int) -> None:
    """Every entry's declared size against the limits, from the zip directory alone."""
    total = 0
    for info in zf.infolist():
        limit = max_meta_bytes if info.filename == "meta.json" else max_bytes
        if info.file_size > limit:
            raise ModelFileError(f"{path}: entry {info.filename} declares {info.file_size} bytes, over the "
                                 f"limit of {limit} (pass a larger max_bytes to read it anyway)")
        if info.file_size > MAX_INFLATION * info.compress_size + 2**16:
            raise ModelFileError(f"{path}: entry {info.filename} would inflate {info.compress_size} bytes "
                                 f"to {info.file_size}; refused as a zip bomb")
        total += info.file_size
    if total > max_bytes:
        raise ModelFileError(f"{path}: its entries declare {total} bytes in all, over the limit of "
                             f"{max_bytes} (pass a larger max_bytes to read it anyway)")


def read_capped(f: Any, limit: int, what: str, path: str) -> bytes:
    """At most ``limit`` bytes of ``f``, refused if there are more (a directory entry may lie)."""
    raw = f.read(limit + 1)
    if len(raw) > limit:
        raise ModelFileError(f"{path}: {what} holds more than {limit} bytes; refused")
    return raw


def read_npy_entry(path: str, name: str, f: Any, size: int) -> np.ndarray:
    """One ``.npy`` entry of ``size`` bytes (``f``: the zip entry, opened), its header checked
    against that size before any data is read: a tampered header declaring a huge shape must
    fail here, not make numpy allocate that many bytes. The data is read straight into the
    result (one copy).

    Raises:
        ModelFileError: an object array, or a header that does not match ``size``.
    """
    major, _ = np.lib.format.read_magic(f)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(f)
    if dtype.hasobject:
        raise ModelFileError(f"{path}: array {name} holds Python objects, which are never unpickled")
    need = math.prod(shape) * dtype.itemsize
    have = size - f.tell()
    if need != have:
        raise ModelFileError(f"{path}: array {name}: its header declares shape {shape} of {dtype} "
                             f"({need} bytes) but the file holds {have} bytes; truncated or corrupted")
    arr = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
    view = memoryview(arr.reshape(-1, order="A").view(np.uint8)) if arr.size else memoryview(b"")
    got = 0
    while got < need:
        n = f.readinto(view[got:])
        if not n:
            raise ModelFileError(f"{path}: array {name} is truncated ({got} of {need} bytes)")
        got += n
    if f.read(1):  # also completes the entry's CRC-32 check
        raise ModelFileError(f"{path}: array {name} holds more bytes than its header declares")
    return arr


def read_archive(
    path: str | os.PathLike,
    kind: str,
    *,
    max_bytes: int = MAX_ARCHIVE_BYTES,
    max_meta_bytes: int = MAX_META_BYTES,
    entry_limits: Callable[[dict[str, Any]], Mapping[str, int]] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read an archive written by :func:`write_archive`; returns ``(meta, arrays)``.

    Sizes are checked before the memory is taken: ``path`` must be a regular file (a
    device or FIFO would be read without end); every entry's size, as the zip directory
    declares it, must stay within ``max_bytes`` (all entries together) and
    ``max_meta_bytes`` (``meta.json``), and within :data:`MAX_INFLATION` times its
    compressed size; reads are capped at those sizes, whatever the directory says.
    ``entry_limits(meta)``, given the file's metadata, may name a tighter limit (in
    bytes) for each array; an array it does not name is refused.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: not a relunet file, of another kind or version, truncated,
            corrupted, or over a size limit.
    """
    path = os.fspath(path)
    try:
        with _open_regular(path) as fh, zipfile.ZipFile(fh, "r") as zf:
            _check_entry_sizes(path, zf, max_bytes, max_meta_bytes)
            header = _read_header(path, zf, kind, max_meta_bytes)
            names = _array_names(path, zf, header)
            limits = entry_limits(header["meta"]) if entry_limits is not None else None
            sizes = {name: zf.getinfo(f"arrays/{name}.npy").file_size for name in names}
            if limits is not None:
                _check_array_sizes(path, sizes, limits)
            bad = zf.testzip()  # reads every entry (in chunks) and checks its CRC-32
            if bad is not None:
                raise ModelFileError(f"{path}: corrupted (checksum mismatch in {bad})")
            arrays = {}
            for name, size in sizes.items():
                with zf.open(f"arrays/{name}.npy") as f:
                    arrays[name] = read_npy_entry(path, name, f, size)
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


def _check_array_sizes(path: str, sizes: Mapping[str, int], limits: Mapping[str, int]) -> None:
    """Each array's size (from the zip directory) against the limit its metadata implies."""
    unknown = sorted(set(sizes) - set(limits))
    if unknown:
        raise ModelFileError(f"{path}: arrays do not match the file's own metadata (unexpected {unknown})")
    for name, size in sizes.items():
        if size > limits[name]:
            raise ModelFileError(f"{path}: array {name} takes {size} bytes, more than the file's own "
                                 f"metadata allows ({limits[name]}); tampered or corrupted")


def _read_header(path: str, zf: zipfile.ZipFile, kind: str, max_meta_bytes: int) -> dict[str, Any]:
    """``meta.json``, read with a cap and checked: format, kind and version."""
    try:
        info = zf.getinfo("meta.json")
    except KeyError:
        raise ModelFileError(f"{path}: not a relunet file (no meta.json)") from None
    with zf.open(info) as f:
        header = json.loads(read_capped(f, max_meta_bytes, "meta.json", path))
    if not isinstance(header, dict) or header.get("format") != MAGIC:
        raise ModelFileError(f"{path}: not a relunet file")
    if header.get("kind") != kind:
        raise ModelFileError(f"{path}: holds a {header.get('kind')!r}, expected a {kind!r}")
    if header.get("version") != 1:
        raise ModelFileError(f"{path}: unsupported format version {header.get('version')!r}")
    return header


def _array_names(path: str, zf: zipfile.ZipFile, header: dict[str, Any]) -> list[str]:
    """The arrays ``meta.json`` lists; every other entry of the zip is refused (unread)."""
    names = header.get("arrays")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelFileError(f"{path}: meta.json lists no arrays")
    listed = {"meta.json", *(f"arrays/{n}.npy" for n in names)}
    stray = sorted(set(zf.namelist()) - listed)
    if stray:
        raise ModelFileError(f"{path}: unexpected entries {stray[:5]}; corrupted or not a relunet file")
    return names


#: the most bytes a JSON input (a history, a comparison, diagnostics) may take: parsed, a
#: file of empty objects (``[{},{},...]``) takes ~25 times its size in memory (~800 MB here)
MAX_JSON_BYTES = 32 * 2**20


def read_json(path: "str | os.PathLike[str]", what: str = "a JSON file") -> Any:
    """The JSON document in ``path``, read with a cap of :data:`MAX_JSON_BYTES` (an endless
    stream such as ``/dev/zero`` is refused once past it, not read until memory runs out).

    Raises:
        DataFormatError: over the cap, not UTF-8 text, or not valid JSON (the message says it is
            not ``what``).
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise DataFormatError(f"{name}: more than {MAX_JSON_BYTES} bytes (an endless stream?); refused")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{name}: not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} at offset "
                        f"{exc.start}); is it a binary file or in another encoding?") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{name} is not {what}: {exc}") from None
    except RecursionError:  # e.g. 100,000 nested '[': the decoder recurses once per level
        raise DataFormatError(f"{name} is not {what}: nested too deeply to read") from None
