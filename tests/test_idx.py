"""The IDX reader: round trips, and every kind of damaged file gives DataFormatError."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from relunet.errors import DataFormatError
from relunet.data.idx import DTYPES, parse_header, read_idx, write_idx


def _images(n=5, h=4, w=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w), dtype=np.uint8)


def _idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file built by hand from the spec (independent of write_idx)."""
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(DTYPES[code]).tobytes()


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_dtype(tmp_path, dtype, suffix):
    arr = (np.arange(2 * 3 * 5).reshape(2, 3, 5) - 7).astype(dtype)
    if dtype == "uint8":
        arr = arr + 7
    p = tmp_path / f"a{suffix}"
    write_idx(p, arr)
    back = read_idx(p)
    assert back.shape == arr.shape and back.dtype == arr.dtype.newbyteorder("=")
    np.testing.assert_array_equal(back, arr)


def test_hand_built_file_matches_spec(tmp_path):
    """A file written byte by byte from the format description reads back exactly."""
    arr = _images()
    (tmp_path / "x").write_bytes(_idx_bytes(arr))
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), arr)
    labels = np.array([3, -1, 70000], dtype=np.int32)
    (tmp_path / "l").write_bytes(_idx_bytes(labels, 0x0C))
    np.testing.assert_array_equal(read_idx(tmp_path / "l"), labels)  # big-endian decoded


def test_plain_file_is_memory_mapped(tmp_path):
    arr = _images()
    write_idx(tmp_path / "x", arr)
    m = read_idx(tmp_path / "x")
    assert isinstance(m, np.memmap) and not m.flags.writeable
    assert not isinstance(read_idx(tmp_path / "x", mmap=False), np.memmap)


def test_gzip_detected_by_magic_without_suffix(tmp_path):
    arr = _images()
    (tmp_path / "x").write_bytes(gzip.compress(_idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), arr)


def _bad(tmp_path, data: bytes, name="bad", **kw):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(DataFormatError) as exc:
        read_idx(p, **kw)
    assert str(p) in str(exc.value)  # the message names the file
    return str(exc.value)


GOOD = _idx_bytes(_images())


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda b: b"\x08\x00" + b[2:], "magic"),  # wrong magic
        (lambda b: b[:2] + b"\x07" + b[3:], "dtype code"),  # unknown dtype code
        (lambda b: b[:3] + b"\x00" + b[4:], "dimensions"),  # zero dimensions
        (lambda b: b[:3] + b"\x0b" + b[4:], "dimensions"),  # too many dimensions
        (lambda b: b[:6], "truncated IDX header"),  # header cut inside the dims
        (lambda b: b[:2], "magic"),  # shorter than the magic
        (lambda b: b"", "magic"),  # empty file
        (lambda b: b[:-1], "truncated"),  # short payload by one byte
        (lambda b: b[:-30], "truncated"),
        (lambda b: b + b"\x00", "trailing"),  # payload longer than the dims say
        (lambda b: b[:4] + (6).to_bytes(4, "big") + b[8:], "truncated"),  # dims claim more
        (lambda b: b[:4] + (4).to_bytes(4, "big") + b[8:], "trailing"),  # dims claim fewer
        (lambda b: b[:4] + (0).to_bytes(4, "big") + b[8:], "empty dimension"),
    ],
)
def test_corrupted_files_raise(tmp_path, suffix, mutate, words):
    data = mutate(GOOD)
    if suffix:
        data = gzip.compress(data)
    msg = _bad(tmp_path, data, "bad" + suffix)
    assert words in msg


def test_bad_gzip_streams_raise(tmp_path):
    gz = gzip.compress(GOOD)
    assert "gzip" in _bad(tmp_path, gz[: len(gz) // 2], "cut.gz")  # truncated stream
    broken = bytearray(gz)
    broken[len(broken) // 2] ^= 0xFF  # flipped byte: bad data or CRC
    assert "gzip" in _bad(tmp_path, bytes(broken), "flip.gz")
    assert "gzip" in _bad(tmp_path, b"\x1f\x8b" + b"not gzip at all", "junk.gz")


def test_expected_shape_is_enforced(tmp_path):
    write_idx(tmp_path / "x", _images(5, 4, 3))
    assert read_idx(tmp_path / "x", shape=(None, 4, 3)).shape == (5, 4, 3)
    with pytest.raises(DataFormatError, match="expected"):
        read_idx(tmp_path / "x", shape=(None, 28, 28))
    with pytest.raises(DataFormatError, match="expected"):
        read_idx(tmp_path / "x", shape=(None,))


def test_checksums(tmp_path):
    arr = _images()
    content = _idx_bytes(arr)
    plain, gz = tmp_path / "x", tmp_path / "x.gz"
    plain.write_bytes(content)
    gz.write_bytes(gzip.compress(content, mtime=0))
    md5_content = hashlib.md5(content).hexdigest()
    md5_gz = hashlib.md5(gz.read_bytes()).hexdigest()
    np.testing.assert_array_equal(read_idx(plain, md5=[md5_content]), arr)
    # a .gz may match by its own md5 or by its content's (a recompressed copy)
    np.testing.assert_array_equal(read_idx(gz, md5=[md5_gz]), arr)
    np.testing.assert_array_equal(read_idx(gz, md5=[md5_content]), arr)
    wrong = "0" * 32
    with pytest.raises(DataFormatError, match="checksum mismatch"):
        read_idx(plain, md5=[wrong])
    with pytest.raises(DataFormatError, match="checksum mismatch"):
        read_idx(gz, md5=[wrong])
    # one flipped pixel: structurally valid, caught only by the checksum
    tampered = bytearray(content)
    tampered[-1] ^= 1
    plain.write_bytes(bytes(tampered))
    with pytest.raises(DataFormatError, match="checksum mismatch"):
        read_idx(plain, md5=[md5_content])
    gz.write_bytes(gzip.compress(bytes(tampered)))
    with pytest.raises(DataFormatError, match="checksum mismatch"):
        read_idx(gz, md5=[md5_content, md5_gz])


def test_parse_header():
    dtype, shape, size = parse_header(bytes([0, 0, 0x0D, 2, 0, 0, 0, 7, 0, 0, 1, 0]))
    assert dtype == np.dtype(">f4") and shape == (7, 256) and size == 12


def test_write_rejects_unstorable(tmp_path):
    with pytest.raises(DataFormatError, match="dtype"):
        write_idx(tmp_path / "b", np.zeros(3, dtype=bool))
    with pytest.raises(DataFormatError, match="dtype"):
        write_idx(tmp_path / "c", np.zeros(3, dtype=np.int64))


def _idx_header(code: int, dims: list[int]) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize("dims", [[65536] * 4, [0xFFFFFFFF] * 8])
def test_idx_dimensions_whose_product_overflows_int64(tmp_path, dims):
    # 65536**4 = 2**64 wrapped to 0 in int64 (a RuntimeWarning, then a wrong size)
    p = tmp_path / "x"
    p.write_bytes(_idx_header(8, dims) + b"\0" * 10)
    with pytest.raises(DataFormatError, match="truncated"):
        read_idx(p)


def test_idx_plain_file_named_gz_is_read(tmp_path):
    # what a browser leaves when it undoes the transfer's gzip encoding but keeps the name
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(_idx_header(8, [2, 3, 4]) + arr.tobytes())
    np.testing.assert_array_equal(read_idx(p, shape=(None, 3, 4)), arr)


def test_idx_gzip_inflating_far_beyond_its_header_is_not_held(tmp_path):
    co = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    p = tmp_path / "bomb.gz"
    with open(p, "wb") as f:
        f.write(co.compress(_idx_header(8, [1, 28, 28])))
        zeros = b"\0" * (1 << 22)
        for _ in range(16):  # 64 MiB of content behind an 800-byte array
            f.write(co.compress(zeros))
        f.write(co.flush())
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match="trailing bytes"):
            read_idx(p, shape=(None, 28, 28))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, peak


def test_idx_gzip_still_reads_and_verifies(tmp_path):
    arr = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    content = _idx_header(8, [2, 28, 28]) + arr.tobytes()
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(content))
    import hashlib

    np.testing.assert_array_equal(read_idx(p, md5=[hashlib.md5(content).hexdigest()]), arr)
    with pytest.raises(DataFormatError, match="checksum"):
        read_idx(p, md5=["0" * 32])


def test_write_idx_is_atomic(tmp_path, monkeypatch):
    # write_bytes truncated the old file first: a failure mid-write lost it
    path = tmp_path / "a.idx"
    write_idx(path, np.arange(4, dtype=np.uint8))

    def fail(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space left"):
        write_idx(path, np.arange(100, dtype=np.uint8))
    np.testing.assert_array_equal(read_idx(path), np.arange(4))
    assert [p.name for p in tmp_path.iterdir()] == ["a.idx"]
