"""Random image transforms drawn afresh for every training batch: mirroring and shifts.

An :class:`ImageAugment` is what ``fit(augment=...)`` calls on each training batch (the
gathered rows, before the forward pass), with the network's generator, so a seeded run is
reproducible and a resumed run continues the same draws. Evaluation, validation, ``predict``
and export never see it: it is a training-only view of the data, unlike
``datasets.load(augment="hflip")``, which adds fixed mirrored copies to the training part.

For a flattened ``h x w`` image ``x`` (a row of ``X``, ``shape (B, h * w)``), one row's
transform is: mirror left to right with probability ``flip``, then translate by
``(dy, dx)`` drawn uniformly from ``{-shift, ..., shift}^2``; pixels shifted in from
outside the image take the value ``fill``:

    out[r, c] = x[r - dy, c' - dx]   if 0 <= r - dy < h and 0 <= c' - dx < w, else fill,
    c' = w - 1 - c when mirrored, else c.

Every (mirror, dy, dx) combination is one gather table of ``h * w`` indices into the row
with a ``fill`` column appended, so a batch costs one ``take_along_axis``.
"""

from __future__ import annotations

import numpy as np

from relunet.errors import ConfigError, DataError

__all__ = ["ImageAugment", "parse_augment"]


class ImageAugment:
    """Random mirroring and translation of flattened ``h x w`` images, per row and per batch.

    Args:
        shape: ``(h, w)``, the image's height and width.
        flip: probability of mirroring a row left to right (0 never, 0.5 half the rows).
        shift: largest translation in pixels along each axis (0: none).
        fill: the value of pixels shifted in from outside the image (a scaled image's
            background, 0 for the bundled image sets).
    """

    def __init__(self, shape: tuple[int, int], *, flip: float = 0.0, shift: int = 0, fill: float = 0.0):
        h, w = (int(v) for v in shape)
        if h < 1 or w < 1:
            raise ConfigError(f"an image shape has positive height and width, got {shape!r}")
        if isinstance(flip, bool) or not isinstance(flip, (int, float, np.floating)) or not 0.0 <= flip <= 1.0:
            raise ConfigError(f"flip is a probability between 0 and 1, got {flip!r}")
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or not 0 <= shift < min(h, w):
            raise ConfigError(f"shift is a whole number of pixels from 0 to {min(h, w) - 1}, got {shift!r}")
        if not np.isfinite(fill):
            raise ConfigError(f"fill must be a finite number, got {fill!r}")
        self.shape, self.flip, self.shift, self.fill = (h, w), float(flip), int(shift), float(fill)
        self.tables = self._tables()

    def _tables(self) -> np.ndarray:
        """``shape (2, 2 * shift + 1, 2 * shift + 1, h * w)``: for (mirrored, dy + shift,
        dx + shift), the source index of every output pixel (``h * w``: the fill column)."""
        h, w, s = *self.shape, self.shift
        r, c = np.divmod(np.arange(h * w), w)
        tables = np.empty((2, 2 * s + 1, 2 * s + 1, h * w), dtype=np.intp)
        for m in (0, 1):
            cm = w - 1 - c if m else c
            for i, dy in enumerate(range(-s, s + 1)):
                for j, dx in enumerate(range(-s, s + 1)):
                    sr, sc = r - dy, cm - dx
                    inside = (sr >= 0) & (sr < h) & (sc >= 0) & (sc < w)
                    tables[m, i, j] = np.where(inside, sr * w + sc, h * w)
        return tables

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``X`` (``shape (B, h * w)``) with each row transformed; a new array, ``X`` untouched."""
        h, w = self.shape
        if X.ndim != 2 or X.shape[1] != h * w:
            raise DataError(f"images of {h}x{w} pixels have {h * w} features, got a batch of shape {X.shape}")
        n, s = len(X), self.shift
        mirrored = (rng.random(n) < self.flip).astype(np.intp) if self.flip else np.zeros(n, dtype=np.intp)
        dy = rng.integers(0, 2 * s + 1, size=n) if s else np.zeros(n, dtype=np.intp)
        dx = rng.integers(0, 2 * s + 1, size=n) if s else np.zeros(n, dtype=np.intp)
        padded = np.empty((n, h * w + 1), dtype=X.dtype)
        padded[:, :-1] = X
        padded[:, -1] = self.fill
        return np.take_along_axis(padded, self.tables[mirrored, dy, dx], axis=1)

    def __repr__(self) -> str:
        return f"ImageAugment({self.shape}, flip={self.flip:g}, shift={self.shift})"

    def spec(self) -> str:
        """The text form :func:`parse_augment` reads back (``flip,shift:2``)."""
        parts = ([f"flip:{self.flip:g}" if self.flip != 0.5 else "flip"] if self.flip else [])
        parts += [f"shift:{self.shift}"] if self.shift else []
        return ",".join(parts)


def parse_augment(spec: str, shape: tuple[int, int]) -> ImageAugment:
    """An :class:`ImageAugment` from its text form: comma-separated ``flip[:P]`` (mirror with
    probability P, default 0.5) and ``shift[:K]`` (translate by up to K pixels, default 2),
    e.g. ``"flip,shift:2"``."""
    flip, shift = 0.0, 0
    if not str(spec).strip():
        raise ConfigError("the random augmentation is empty: give flip[:P] and/or shift[:PIXELS] (e.g. flip,shift:2)")
    seen: set[str] = set()
    for part in (p.strip() for p in str(spec).split(",")):
        name, _, value = (v.strip() for v in part.partition(":"))
        if name not in ("flip", "shift"):
            alone = "; hflip (fixed mirrored copies) is a spec of its own" if name == "hflip" else ""
            raise ConfigError(f"random augmentation is flip[:P] and/or shift[:PIXELS], comma-separated "
                              f"(e.g. flip,shift:2); got {part!r} in {spec!r}{alone}")
        if name in seen:
            raise ConfigError(f"{name} is given twice in {spec!r}: give each of flip and shift once")
        seen.add(name)
        try:
            if name == "flip":
                flip = float(value) if value else 0.5
            else:
                shift = int(value) if value else 2
        except ValueError:
            kind = "a probability" if name == "flip" else "a whole number of pixels"
            raise ConfigError(f"{name}: expected {kind} after ':', got {value!r}") from None
    if not flip and not shift:
        raise ConfigError(f"{spec!r} neither mirrors nor shifts: give flip[:P] and/or shift[:PIXELS]")
    return ImageAugment(shape, flip=flip, shift=shift)
