"""The IDX file format (MNIST, Fashion-MNIST): a strict reader and a writer.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the
array's values in C order, big-endian::

    magic = 0x00 0x00 <dtype code> <n_dims>
    dims  = n_dims x uint32 (big-endian)
    data  = prod(dims) values of the dtype

dtype codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.

The reader never returns a wrong array: a bad magic number, an unknown dtype code, a
header shorter than its dimensions, a payload shorter or longer than the dimensions say,
a broken gzip stream, or a checksum that differs from the expected one all raise
:class:`relunet.errors.DataFormatError` naming the file and the problem.

Plain (uncompressed) files are memory-mapped (``np.memmap``, read-only), so a file
larger than memory can be read batch by batch; ``.gz`` files are decompressed into memory.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from relunet.errors import DataFormatError
from relunet.io.archive import write_atomic

#: IDX dtype code -> numpy dtype (big-endian, as stored)
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder(">") if dt.itemsize > 1 else dt: code for code, dt in DTYPES.items()}

#: an IDX header: 4 magic bytes + up to this many dimensions (guards against garbage)
MAX_DIMS = 8


def md5_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The hex md5 of a file, read in chunks (constant memory)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def parse_header(head: bytes, source: str = "<bytes>") -> tuple[np.dtype, tuple[int, ...], int]:
    """Decode an IDX header.

    Args:
        head: at least the first ``4 + 4 * n_dims`` bytes of the file.
        source: the file's name, for error messages.

    Returns:
        ``(dtype, shape, header_size)``; dtype is big-endian as stored.
    """
    if len(head) < 4:
        raise DataFormatError(f"{source}: not an IDX file: {len(head)} bytes, shorter than the 4-byte magic number")
    if head[0] != 0 or head[1] != 0:
        raise DataFormatError(
            f"{source}: not an IDX file: magic number starts {head[:4].hex()}, expected 0000 "
            "(a gzip file without the .gz suffix starts 1f8b)"
        )
    code, ndim = head[2], head[3]
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise DataFormatError(f"{source}: unknown IDX dtype code 0x{code:02X}; known codes: {known}")
    if not 1 <= ndim <= MAX_DIMS:
        raise DataFormatError(f"{source}: IDX header declares {ndim} dimensions; expected 1 to {MAX_DIMS}")
    size = 4 + 4 * ndim
    if len(head) < size:
        raise DataFormatError(f"{source}: truncated IDX header: {len(head)} bytes, {size} needed for {ndim} dimensions")
    shape = tuple(int(d) for d in np.frombuffer(head, dtype=">u4", count=ndim, offset=4))
    if 0 in shape:
        raise DataFormatError(f"{source}: IDX header declares an empty dimension: shape {shape}")
    return DTYPES[code], shape, size


def _expected_size(dtype: np.dtype, shape: tuple[int, ...], header: int) -> int:
    """Bytes a file of this header needs (Python integers: 8 dimensions of 2**32 - 1
    overflow int64, which gave a negative size and a RuntimeWarning)."""
    return header + math.prod(shape) * dtype.itemsize


def _check_payload(source: str, dtype: np.dtype, shape: tuple[int, ...], header: int, total: int) -> None:
    expected = _expected_size(dtype, shape, header)
    if total < expected:
        raise DataFormatError(
            f"{source}: truncated: {total} bytes, but the header's shape {shape} of {dtype.name} "
            f"needs {expected}"
        )
    if total > expected:
        raise DataFormatError(
            f"{source}: {total - expected} unexpected trailing bytes after the {shape} array "
            f"({expected} bytes expected); the file is corrupted or not what its header says"
        )


def _check_shape(source: str, shape: tuple[int, ...], expected: tuple[int | None, ...] | None) -> None:
    if expected is None:
        return
    if len(shape) != len(expected) or any(e is not None and e != s for s, e in zip(shape, expected)):
        want = tuple("*" if e is None else e for e in expected)
        raise DataFormatError(f"{source}: shape {shape}, expected {want}")


def _check_md5(source: str, digests: dict[str, str], accepted: Iterable[str] | None) -> None:
    """``digests``: what was computed (e.g. {"file": ..., "content": ...})."""
    if accepted is None:
        return
    accepted = {a.lower() for a in accepted}
    if not accepted & set(digests.values()):
        got = ", ".join(f"{k} md5 {v}" for k, v in digests.items())
        raise DataFormatError(
            f"{source}: checksum mismatch ({got}; expected one of {', '.join(sorted(accepted))}); "
            "the file is corrupted or not the published one: delete it and obtain it again"
        )


def read_idx(
    path: str | os.PathLike,
    *,
    shape: tuple[int | None, ...] | None = None,
    md5: Iterable[str] | None = None,
    mmap: bool = True,
) -> np.ndarray:
    """Read an IDX file, plain or gzip-compressed (told apart by the first bytes, not the
    name: a plain file named ``.gz`` is read as plain).

    Args:
        path: the file.
        shape: the expected shape, ``None`` entries matching any size, e.g. ``(None, 28, 28)``.
        md5: accepted md5 digests. For a ``.gz`` file either the md5 of the compressed file
            or that of its decompressed content may match (a copy recompressed by a
            packager keeps the content's md5); for a plain file, the file's md5.
        mmap: memory-map a plain file (read-only) instead of reading it into memory.

    Returns:
        The array in native byte order, ``shape`` as the header declares. For a plain
        file with ``mmap=True`` and a single-byte or native dtype, a read-only ``np.memmap``.
    """
    path = Path(path)
    source = str(path)
    with open(path, "rb") as f:
        magic = f.read(2)
    # by the content, not the name: a browser that undid the transfer's gzip encoding leaves
    # a plain IDX file named .gz (its md5 is then the content's, which is accepted)
    if magic == b"\x1f\x8b" or (path.suffix == ".gz" and magic != b"\x00\x00"):
        return _read_gz(path, shape, md5)
    total = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4 + 4 * MAX_DIMS)
    dtype, dims, header = parse_header(head, source)
    _check_payload(source, dtype, dims, header, total)
    _check_shape(source, dims, shape)
    if md5 is not None:
        _check_md5(source, {"file": md5_file(path)}, md5)
    native = dtype.newbyteorder("=")
    if mmap and (dtype.itemsize == 1 or dtype == native):
        return np.memmap(path, dtype=dtype, mode="r", offset=header, shape=dims)
    arr = np.fromfile(path, dtype=dtype, offset=header, count=int(np.prod(dims))).reshape(dims)
    return arr.astype(native, copy=False)


def _read_gz(path: Path, shape: tuple[int | None, ...] | None, md5: Iterable[str] | None) -> np.ndarray:
    """Decompress in blocks, never more than the header declares (plus one block): a small
    ``.gz`` that inflates to gigabytes of trailing data fails without holding them."""
    source = str(path)
    content = bytearray()
    h = hashlib.md5()
    block = 1 << 20
    try:
        with gzip.open(path, "rb") as g:
            while len(content) < 4 + 4 * MAX_DIMS:
                chunk = g.read(block)
                if not chunk:
                    break
                content += chunk
            dtype, dims, header = parse_header(bytes(content[: 4 + 4 * MAX_DIMS]), source)
            expected = _expected_size(dtype, dims, header)
            while len(content) <= expected:
                chunk = g.read(block)
                if not chunk:
                    break
                content += chunk
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataFormatError(f"{source}: broken gzip stream ({exc}); the file is truncated or corrupted") from None
    if len(content) > expected:
        raise DataFormatError(
            f"{source}: unexpected trailing bytes after the {dims} array ({expected} bytes expected, "
            f"more than {len(content)} found); the file is corrupted or not what its header says"
        )
    if md5 is not None:
        h.update(content)
        _check_md5(source, {"file": md5_file(path), "content": h.hexdigest()}, md5)
    _check_payload(source, dtype, dims, header, len(content))
    _check_shape(source, dims, shape)
    arr = np.frombuffer(content, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed if ``compress`` or the name ends in .gz).

    Args:
        array: any shape with 1 to 8 dimensions, dtype uint8, int8, int16, int32,
            float32 or float64.
    """
    array = np.asarray(array)
    dtype = array.dtype if array.dtype.itemsize == 1 else array.dtype.newbyteorder(">")
    if dtype not in _CODES:
        raise DataFormatError(f"IDX cannot store dtype {array.dtype}; use one of uint8, int8, int16, int32, float32, float64")
    if not 1 <= array.ndim <= MAX_DIMS:
        raise DataFormatError(f"IDX stores 1 to {MAX_DIMS} dimensions, not {array.ndim}")
    head = bytes([0, 0, _CODES[dtype], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    body = head + np.ascontiguousarray(array, dtype=dtype).tobytes()
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    write_atomic(path, gzip.compress(body) if compress else body)  # a failed write leaves an old file intact
