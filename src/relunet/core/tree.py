"""Binary trees over classes: the structure of the hierarchical softmax.

A tree over ``V`` classes has ``V - 1`` inner nodes, each with a score ``s_j`` (the
network's node vector dotted with the hidden layer, plus a bias). At node ``j`` the
walk goes left with probability ``sigma(s_j)`` and right with ``sigma(-s_j)``, so class
``c``, the leaf at the end of the path ``(j_1, ..., j_D)`` with signs ``t_l = +1``
(left) or ``-1`` (right), has

.. math::
    p(c \\mid x) = \\prod_{l=1}^{D} \\sigma(t_l\\, s_{j_l}), \\qquad
    \\log p(c \\mid x) = -\\sum_{l=1}^{D} \\log\\big(1 + e^{-t_l s_{j_l}}\\big)

and the ``V`` probabilities sum to 1 (at each node the two branches share its mass).
Scoring one class costs ``D`` dot products, about ``log2 V`` for a balanced tree.

Layout: ``children`` is an integer array ``shape (V - 1, 2)``, row ``j`` the left and
right child of inner node ``j``; a child ``>= 0`` is an inner node, a child ``< 0`` is
the leaf of class ``-child - 1``. Node 0 is the root and every inner child has a larger
index than its parent (so index order is a top-down order). The paths are kept padded:
``nodes`` and ``signs``, ``shape (V, D_max)``, with padding node ``V - 1`` (a column the
network keeps so that its output stays ``V`` wide, never on a path) and sign 0.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from relunet.errors import ConfigError, DataError


class Tree:
    """A binary tree over ``n_classes`` classes (see the module docstring).

    Args:
        children: ``shape (n_classes - 1, 2)`` integers (or nested lists), as above.

    Raises:
        ConfigError: when ``children`` is not a tree over every class exactly once.
    """

    def __init__(self, children: Any):
        try:
            ch = np.asarray(children, dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError("a tree's children must be integer pairs, one row per inner node") from None
        if ch.ndim != 2 or ch.shape[1] != 2 or len(ch) < 1:
            raise ConfigError(f"a tree's children must have shape (n_classes - 1, 2) with at least one "
                              f"inner node; got shape {ch.shape}")
        self.children = ch
        self.n_nodes = len(ch)
        self.n_classes = self.n_nodes + 1
        self._check()
        self.nodes, self.signs, self.depth = self._paths()

    # -- construction -------------------------------------------------------------
    @classmethod
    def balanced(cls, n_classes: int) -> "Tree":
        """The balanced tree: each node splits its range of classes in two halves, so
        every path has ``floor(log2 V)`` or ``ceil(log2 V)`` nodes."""
        n = _n_classes(n_classes)
        children: list[list[int]] = []
        queue = [(0, n)]
        head = 0
        while head < len(queue):
            lo, hi = queue[head]
            head += 1
            mid = (lo + hi) // 2
            row = []
            for a, b in ((lo, mid), (mid, hi)):
                if b - a == 1:
                    row.append(-a - 1)
                else:
                    queue.append((a, b))
                    row.append(len(queue) - 1)
            children.append(row)
        return cls(children)

    @classmethod
    def huffman(cls, counts: Any) -> "Tree":
        """The Huffman tree of the class counts (word2vec's): frequent classes get short
        paths, so the expected path length is at most the entropy of the counts + 1 bits.
        Ties are broken by class index, so the tree is deterministic. Classes of count 0
        get the longest paths (as if their count were the smallest positive one / 2)."""
        try:
            c = np.asarray(counts, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"class counts must be numbers, got {counts!r}") from None
        if c.ndim != 1:
            raise DataError(f"class counts must be one count per class, shape (n_classes,); got shape {c.shape}")
        _n_classes(len(c))
        if not np.isfinite(c).all() or (c < 0).any():
            raise DataError("class counts must be finite numbers >= 0")
        positive = c[c > 0]
        c = np.where(c > 0, c, (positive.min() / 2) if len(positive) else 1.0)
        heap: list[tuple[float, int, int]] = [(float(v), i, -i - 1) for i, v in enumerate(c)]
        heapq.heapify(heap)
        built: list[tuple[int, int]] = []  # merge order: the root is made last
        order = len(c)
        while len(heap) > 1:
            w1, _, a = heapq.heappop(heap)
            w2, _, b = heapq.heappop(heap)
            built.append((a, b))
            heapq.heappush(heap, (w1 + w2, order, len(built) - 1))
            order += 1
        return cls(_renumber_top_down(built))

    @classmethod
    def from_spec(cls, spec: Any, n_classes: int) -> "Tree":
        """A tree from ``"balanced"`` (or None), class ``counts`` (Huffman), a ``Tree`` or
        ``children`` pairs; checked against ``n_classes``."""
        if spec is None or (isinstance(spec, str) and spec == "balanced"):
            tree = cls.balanced(n_classes)
        elif isinstance(spec, str):
            raise ConfigError(f"tree must be 'balanced', 'huffman', class counts, a Tree or children "
                              f"pairs; got {spec!r}")
        elif isinstance(spec, Tree):
            tree = spec
        else:
            arr = np.asarray(spec)
            tree = cls.huffman(arr) if arr.ndim == 1 else cls(arr)
        if tree.n_classes != n_classes:
            raise ConfigError(f"the tree has {tree.n_classes} classes but the output {n_classes}")
        return tree

    # -- checks and paths -------------------------------------------------------------
    def _check(self) -> None:
        ch, v = self.children, self.n_classes
        inner = ch[ch >= 0]
        leaves = -ch[ch < 0] - 1
        if len(inner) and (inner.max() >= self.n_nodes or (inner <= np.nonzero(ch >= 0)[0]).any()):
            raise ConfigError("a tree's inner children must be nodes 1..V-2, each after its parent")
        if len(np.unique(inner)) != len(inner) or (len(inner) and 0 in inner):
            raise ConfigError("a tree's inner node has two parents (or the root has one)")
        if len(leaves) != v or (leaves >= v).any() or len(np.unique(leaves)) != v:
            raise ConfigError(f"a tree over {v} classes must hold each class 0..{v - 1} as a leaf exactly once")

    def _paths(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The padded root-first paths: ``nodes``, ``signs`` ``shape (V, D_max)``, depths ``(V,)``."""
        ch, v = self.children, self.n_classes
        parent = np.full(self.n_nodes, -1, dtype=np.int64)  # of inner nodes
        side = np.zeros(self.n_nodes)
        leaf_parent = np.empty(v, dtype=np.int64)
        leaf_side = np.empty(v)
        for k, sign in ((0, 1.0), (1, -1.0)):
            col = ch[:, k]
            owners = np.arange(self.n_nodes)
            inner = col >= 0
            parent[col[inner]] = owners[inner]
            side[col[inner]] = sign
            leaf_parent[-col[~inner] - 1] = owners[~inner]
            leaf_side[-col[~inner] - 1] = sign
        depth_node = np.zeros(self.n_nodes, dtype=np.int64)
        for j in range(1, self.n_nodes):  # top-down order: the parent's depth is known
            depth_node[j] = depth_node[parent[j]] + 1
        depth = depth_node[leaf_parent] + 1
        d_max = int(depth.max())
        nodes = np.full((v, d_max), self.n_nodes, dtype=np.intp)  # padding: column V - 1
        signs = np.zeros((v, d_max))
        rows = np.arange(v)
        cur, sgn, pos = leaf_parent.copy(), leaf_side.copy(), depth - 1
        live = np.ones(v, dtype=bool)
        while live.any():
            r = rows[live]
            nodes[r, pos[r]] = cur[r]
            signs[r, pos[r]] = sgn[r]
            nxt = parent[cur[r]]
            sgn[r] = side[cur[r]]
            cur[r] = np.maximum(nxt, 0)
            pos[r] -= 1
            live[r] = nxt >= 0
        self._levels = [np.nonzero(depth_node == d)[0] for d in range(int(depth_node.max()) + 1)]
        return nodes, signs, depth

    # -- probabilities -------------------------------------------------------------------
    def log_proba(self, scores: np.ndarray) -> np.ndarray:
        """Exact ``log p(c | x)`` of every class, ``shape (n, V)`` float64, from node scores
        ``shape (n, >= V - 1)`` (column ``j`` for node ``j``; more columns are ignored).

        Top-down over the levels: the log-probability of reaching a child is its parent's
        plus ``log sigma(+-s_j)`` (``-logaddexp(0, -+s)``: finite for every finite score,
        1e30 included), so the cost is ``O(n V)`` and nothing under- or overflows.
        """
        # node-major (one row per node): each level's gathers read whole contiguous rows
        sT = np.array(np.asarray(scores, dtype=np.float64)[:, : self.n_nodes].T, order="C")
        # NOTE: a NaN score gives NaN quietly (NumPy's logaddexp warns), as every activation;
        # a sum of log-probabilities below -max (scores of -1e308) is -inf: p = 0, the limit
        with np.errstate(invalid="ignore", over="ignore"):
            left = np.logaddexp(0.0, -sT)
            np.negative(left, out=left)  # log sigma(s)
            right = left - sT  # log sigma(-s) = log sigma(s) - s
            right[sT == -np.inf] = 0.0  # -inf - (-inf): log sigma(inf) = 0
            reach = np.zeros(sT.shape)
            out = np.empty((self.n_classes, sT.shape[1]))
            for level in self._levels:
                base = reach[level]
                for k, logs in ((0, left), (1, right)):
                    child = self.children[level, k]
                    val = base + logs[level]
                    inner = child >= 0
                    reach[child[inner]] = val[inner]
                    out[-child[~inner] - 1] = val[~inner]
        return out.T

    def proba_vjp(self, scores: np.ndarray, proba: np.ndarray, grad: np.ndarray) -> np.ndarray:
        r"""``dL/ds`` from ``g = dL/dp`` (the vector-Jacobian product of the probabilities):

        .. math::
            \frac{\partial L}{\partial s_j} = \sigma(-s_j) \sum_{c \in \mathrm{left}(j)} g_c p_c
                - \sigma(s_j) \sum_{c \in \mathrm{right}(j)} g_c p_c

        with the subtree sums taken bottom-up. Returns ``shape`` of ``scores`` (the padding
        column gets 0).
        """
        s = np.asarray(scores, dtype=np.float64)
        q = np.asarray(grad, dtype=np.float64) * proba
        sub = np.zeros((len(s), self.n_nodes))
        out = np.zeros(s.shape)
        for level in reversed(self._levels):
            sums = []
            for k in (0, 1):
                child = self.children[level, k]
                inner = child >= 0
                val = np.empty((len(s), len(level)))
                val[:, inner] = sub[:, child[inner]]
                val[:, ~inner] = q[:, -child[~inner] - 1]
                sums.append(val)
            sub[:, level] = sums[0] + sums[1]
            sj = s[:, level]
            out[:, level] = _sigmoid(-sj) * sums[0] - _sigmoid(sj) * sums[1]
        return out

    def config(self) -> list[list[int]]:
        """The children pairs as nested lists (what :class:`Tree` is rebuilt from)."""
        return self.children.tolist()

    def mean_depth(self, counts: Any = None) -> float:
        """The mean path length (node scores per sample), weighted by ``counts`` if given."""
        if counts is None:
            return float(self.depth.mean())
        w = np.asarray(counts, dtype=np.float64)
        return float((self.depth * w).sum() / max(w.sum(), 1e-300))

    def __repr__(self) -> str:
        return f"Tree({self.n_classes} classes, depth {int(self.depth.min())}..{int(self.depth.max())})"


def _n_classes(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ConfigError(f"a tree needs at least 2 classes, got {n!r}")
    return int(n)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) without overflow: exp of a non-positive number only."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _renumber_top_down(built: list[tuple[int, int]]) -> list[list[int]]:
    """Children pairs of a tree built bottom-up (the root last) renumbered breadth-first
    from the root, so that each inner child comes after its parent."""
    new_index = {len(built) - 1: 0}
    order = [len(built) - 1]
    head = 0
    while head < len(order):
        for child in built[order[head]]:
            if child >= 0:
                new_index[child] = len(order)
                order.append(child)
        head += 1
    return [[new_index[c] if c >= 0 else c for c in built[old]] for old in order]


def target_indices(Y: np.ndarray, n_classes: int) -> np.ndarray:
    """Class indices ``shape (n,)`` from encoded targets: an index column ``(n, 1)`` or
    one-hot rows ``(n, V)``.

    Raises:
        DataError: for another shape, or an index outside ``0..V-1``.
    """
    Y = np.asarray(Y)
    if Y.ndim == 2 and Y.shape[1] == 1 and n_classes > 1:
        idx = Y[:, 0]
    elif Y.ndim == 2 and Y.shape[1] == n_classes:
        idx = np.argmax(Y, axis=1)
    else:
        raise DataError(f"targets for a tree over {n_classes} classes must be class indices, shape "
                        f"(n_samples, 1), or one-hot rows; got shape {Y.shape}")
    if len(idx) and not (np.all(idx >= 0) and np.all(idx < n_classes) and np.all(idx == np.floor(idx))):
        raise DataError(f"class indices must be integers in 0..{n_classes - 1}")
    return idx.astype(np.intp)
