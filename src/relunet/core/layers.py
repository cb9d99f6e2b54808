"""Layers: the dense (fully connected) layer and the activation layer.

Every layer has one ``forward`` and one ``backward`` (which fills the gradients of its
parameters and returns the gradient for its input), ``parameters()`` and ``gradients()``
(lists of arrays in the same order; optimizers update parameters in place). Samples are
rows: ``x`` is ``shape (n_samples, n_in)``.

The network's speed tricks are options of these two methods, not second copies of them
(see :mod:`relunet.core.network`, which chooses them):

* ``forward(x, out)`` / ``backward(grad_out, work)``: results written into work arrays the
  network owns and reuses from batch to batch, so a training step allocates (almost)
  nothing; ReLU given ``out`` runs in place, and its backward masks ``grad_out`` in place;
* ``backward(grad_out, work, lr)``: backward fused with plain SGD, the dense update
  ``W -= lr * x.T @ g`` done by one GEMM with ``beta = 1`` straight into ``W``;
* ``forward(x, out, cache=False)``: the evaluation-mode forward, which keeps no references
  (no training caches).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse as _sparse

from relunet.core import blas as _blas
from relunet.core import activations, kernels
from relunet.errors import CallOrderError, ConfigError
from relunet.core.activations import Activation
from relunet.core.checks import check_number
from relunet.core.tree import Tree


def _is_sparse(x: Any) -> bool:
    """True for a scipy.sparse matrix or array (a first layer's CSR/CSC input)."""
    return not isinstance(x, np.ndarray) and _sparse.issparse(x)


class Dense:
    r"""Fully connected layer ``z = x W + b``.

    Backward, given ``g = dL/dz`` of ``shape (n_samples, n_out)``:

    .. math::
        \frac{\partial L}{\partial W} = x^\top g, \quad
        \frac{\partial L}{\partial b} = \sum_n g_n, \quad
        \frac{\partial L}{\partial x} = g W^\top

    Every product goes through :mod:`relunet.core.blas` (one BLAS library for the whole
    pass), but those with a sparse (CSR/CSC) ``x``, which scipy's sparse product computes
    without densifying ``x`` (a first layer on TF-IDF features, say).

    Attributes:
        W: weights, ``shape (n_in, n_out)``.
        b: biases, ``shape (n_out,)``.
        dW, db: their gradients after ``backward`` (the fused SGD backward fills ``db``
            but never forms ``dW``: ``dW`` is allocated on first use, so a network trained
            by plain SGD holds no weight-gradient arrays at all).
    """

    def __init__(self, W: np.ndarray, b: np.ndarray):
        self.W = W
        self.b = b
        self._dW: np.ndarray | None = None
        self.db = np.zeros_like(b)
        self._x: np.ndarray | None = None
        #: the first layer of a network need not compute dL/dx
        self.needs_input_grad = True
        self.training = True
        #: the L2 coefficient ``lambda``: backward adds ``(lambda / n) W`` to ``dW`` for a
        #: batch of ``n`` rows (the gradient of ``lambda / (2 n) ||W||^2``; biases excluded)
        self.l2 = 0.0

    @property
    def dW(self) -> np.ndarray:
        """dL/dW, ``shape (n_in, n_out)``; zeros until a backward pass fills it."""
        dW = self.__dict__.get("_dW")  # absent in a layer pickled before dW was lazy
        if dW is None or dW.shape != self.W.shape or dW.dtype != self.W.dtype:
            dW = self._dW = np.zeros_like(self.W)
        return dW

    @property
    def n_in(self) -> int:
        return self.W.shape[0]

    @property
    def n_out(self) -> int:
        return self.W.shape[1]

    def forward(self, x: np.ndarray, out: np.ndarray | None = None, cache: bool = True,
                bias: bool = True) -> np.ndarray:
        """``z = x W + b``, ``shape (n_samples, n_out)``.

        Args:
            x: inputs, ``shape (n_samples, n_in)``.
            out: an array of z's shape to write z into (a work array); None: a new array.
            cache: keep ``x`` for :meth:`backward`; False for evaluation (no references kept).
            bias: False: ``z = x W`` only, the bias left to the layer after this one (a ReLU
                that adds it in its own pass: :meth:`ActivationLayer.forward`).
        """
        if cache:
            self._x = x
        if out is None:
            out = np.empty((x.shape[0], self.W.shape[1]), dtype=np.result_type(x.dtype, self.W))
        if _is_sparse(x):  # a sparse (CSR/CSC) input: scipy's sparse product, x never densified
            np.copyto(out, x @ self.W)
            if bias:
                out += self.b
            return out
        if not bias:
            return _blas.gemm(1.0, x, self.W, 0.0, out)
        np.copyto(out, self.b)  # the bias, broadcast over the rows, then z += x W (beta = 1)
        return _blas.gemm(1.0, x, self.W, 1.0, out)

    def backward(
        self, grad_out: np.ndarray, work: np.ndarray | None = None, lr: float | None = None,
        bias: bool = True,
    ) -> np.ndarray | None:
        r"""Fill ``dW`` and ``db`` from ``g = grad_out``; return ``dL/dx`` (None for a first layer).

        Args:
            grad_out: ``dL/dz``, ``shape (n_samples, n_out)``.
            work: an array of ``shape (n_samples, n_in)`` to write ``dL/dx`` into; None: a
                new array.
            bias: False: ``db`` (and with ``lr`` the bias step, :meth:`bias_backward`) has
                been done already, by the ReLU above this layer in the pass that made
                ``grad_out`` (:meth:`ActivationLayer.backward` given this layer).
            lr: fuse the plain SGD step, in this order:

                .. math::
                    \frac{\partial L}{\partial x} = g W^\top \ \text{(with the old W)}, \quad
                    W \leftarrow W - \eta\, x^\top g, \quad
                    b \leftarrow b - \eta \sum_n g_n

                The weight update is one GEMM with ``alpha = -lr``, ``beta = 1`` into ``W``:
                ``dW`` is never formed (it is left as it was); ``db`` is filled.
        """
        x = self._x
        if x is None:
            raise CallOrderError("Dense.backward called before forward: there is no input to "
                                 "take the weight gradient x^T g from")
        dx = None
        decay = self.__dict__.get("l2", 0.0) / grad_out.shape[0]
        sparse_x = _is_sparse(x)  # x^T g then by scipy's sparse product
        if lr is None:
            if sparse_x:
                np.copyto(self.dW, x.T @ grad_out)
            else:
                _blas.gemm(1.0, x, grad_out, 0.0, self.dW, trans_a=True)
            if decay:
                _blas.axpy(decay, self.W, self.dW)
        if self.needs_input_grad:
            if work is None:
                work = np.empty((grad_out.shape[0], self.W.shape[0]),
                                dtype=np.result_type(grad_out, self.W))
            dx = _blas.gemm(1.0, grad_out, self.W, 0.0, work, trans_b=True)
        if bias:
            self.bias_backward(grad_out, lr)
        if lr is not None:
            if decay:  # W - lr (x^T g + decay W) = (1 - lr decay) W - lr x^T g
                np.multiply(self.W, self.W.dtype.type(1.0 - lr * decay), out=self.W)
            if sparse_x:
                self.W -= lr * (x.T @ grad_out)
            else:
                _blas.gemm(-lr, x, grad_out, 1.0, self.W, trans_a=True)
        return dx

    def bias_backward(self, grad_out: np.ndarray, lr: float | None = None) -> None:
        r"""``db = \sum_n g_n`` from ``g = grad_out`` (``dL/dz``, ``shape (n_samples, n_out)``);
        with ``lr``, plain SGD's bias step ``b <- b - \eta\, db``."""
        np.add.reduce(grad_out, axis=0, out=self.db)  # np.sum without its Python wrapper
        if lr is not None:
            _blas.axpy(-lr, self.db, self.b)

    def parameters(self) -> list[np.ndarray]:
        return [self.W, self.b]

    def gradients(self) -> list[np.ndarray]:
        return [self.dW, self.db]

    def train(self, mode: bool = True) -> "Dense":
        self.training = mode
        return self

    def __repr__(self) -> str:
        return f"Dense({self.n_in} -> {self.n_out})"


class ActivationLayer:
    """Applies an activation; holds its parameters when it has some (PReLU's slope).

    Given ``out``, ReLU, the activation of most networks, runs without temporaries: the
    catalog's ``max(0, x)`` written into ``out`` (which may be ``x`` itself: in place), and
    its backward ``grad_out * (a > 0)`` written over ``grad_out`` (``a > 0`` exactly where
    ``x > 0``, so the mask is taken from the output, which may have overwritten ``x``;
    ``relu'(0) = 0`` stays; one fused pass, :func:`relunet.core.kernels.relu_backward`).
    Every other activation runs through its own ``forward``/``backward``.
    """

    def __init__(self, activation: "str | Activation", **params: Any):
        self.activation = activations.get(activation, **params)
        self._a: np.ndarray | None = None  # ReLU written into out: its output (= mask source)
        self._zero_row: np.ndarray | None = None

    def _relu(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = max(x, 0)``, ``x`` of ``shape (n_samples, n_units)`` (``out`` may be ``x``).

        NOTE: against a row of zeros, not the scalar 0: for ``np.maximum(x, 0)`` NumPy 2.4
        takes a slower inner loop for a scalar operand than for a broadcast row.
        """
        return np.maximum(x, self._zeros(x), out=out)

    def _zeros(self, x: np.ndarray) -> np.ndarray:
        """A row of zeros of x's row length and dtype (kept from call to call)."""
        zeros = self._zero_row
        if zeros is None or zeros.shape[0] != x.shape[-1] or zeros.dtype != x.dtype:
            zeros = self._zero_row = np.zeros(x.shape[-1], dtype=x.dtype)
        return zeros

    @property
    def inplace(self) -> bool:
        """True when this activation runs in place given ``out`` (plain ReLU)."""
        return type(self.activation) is activations.ReLU

    @property
    def ran_in_place(self) -> bool:
        """True when the last training forward ran in place (ReLU given ``out``): its
        backward then masks the gradient in place, and can sum the bias gradient of the
        dense layer below in the same pass (``backward(..., dense=)``)."""
        return self._a is not None

    def forward(self, x: np.ndarray, out: np.ndarray | None = None, cache: bool = True,
                bias: np.ndarray | None = None) -> np.ndarray:
        """``f(x)``, ``x`` of ``shape (n_samples, n_units)``.

        Args:
            out: an array of x's shape to write f(x) into; it may be ``x`` itself (a work
                array of the caller's: ReLU then overwrites it). None: a new array (or, for
                activations such as the identity, ``x``).
            bias: a dense layer's bias ``b``, ``shape (n_units,)``, when ``x`` is that
                layer's ``x W`` without it (:meth:`Dense.forward` with ``bias=False``):
                ``f(x + b)``, for ReLU given ``out`` in the same pass
                (:func:`kernels.bias_relu`).
            cache: keep what :meth:`backward` needs; False for evaluation (no references
                kept: the activation's ``fn``, which for a random activation such as RReLU
                is its evaluation form). The argument decides, not the mode set by
                :meth:`train`: an evaluation pass reads and writes no state of the layer,
                so threads may run it while another one trains.
        """
        relu_into_out = out is not None and type(self.activation) is activations.ReLU
        if bias is not None and not relu_into_out:
            x = x + bias  # (the fused pass is ReLU's only)
        if relu_into_out:
            if bias is None:
                a = self._relu(x, out)
            else:
                if out is not x:
                    np.copyto(out, x)
                a = kernels.bias_relu(out, bias, self._zeros(out))
            if cache:
                self._a = a
            return a
        if cache:
            self._a = None
            y = self.activation.forward(x)
        else:
            y = self.activation.fn(x)
        if out is None:
            return y
        np.copyto(out, y)
        return out

    def backward(
        self, grad_out: np.ndarray, work: np.ndarray | None = None, lr: float | None = None,
        dense: "Dense | None" = None,
    ) -> np.ndarray:
        """dL/dx for the x of the last forward.

        Args:
            grad_out: dL/df, ``shape (n_samples, n_units)``. After a ReLU forward into
                ``out`` it is overwritten with the result (the caller's work array).
            work: a bool array of grad_out's shape for ReLU's mask; None: a new one.
            lr: also take a plain SGD step on this layer's parameters (PReLU's slope).
            dense: the dense layer below, whose output this layer's input was: its
                ``db = sum_n dL/dx_n`` is filled here (and with ``lr`` its bias stepped), in
                the same pass after a ReLU forward in place (:attr:`ran_in_place`,
                :func:`kernels.relu_backward_bias`); its own backward then takes ``bias=False``.
        """
        a = self._a
        if a is not None and dense is not None:
            g = kernels.relu_backward_bias(grad_out, a, dense.db, None if lr is None else dense.b,
                                           0.0 if lr is None else -lr, work)
        elif a is not None:
            g = kernels.relu_backward(grad_out, a, work)
        else:
            self.activation.require_differentiable()
            g = self.activation.backward(grad_out)
        if dense is not None and a is None:  # not run in place: the bias gradient all the same
            dense.bias_backward(g, lr)
        if lr is not None:
            for p, gp in zip(self.activation.parameters(), self.activation.gradients()):
                _blas.axpy(-lr, gp, p)
        return g

    def parameters(self) -> list[np.ndarray]:
        return self.activation.parameters()

    def gradients(self) -> list[np.ndarray]:
        return self.activation.gradients()

    def train(self, mode: bool = True) -> "ActivationLayer":
        self.activation.train(mode)
        return self

    def __repr__(self) -> str:
        return f"ActivationLayer({self.activation!r})"


class Dropout:
    r"""Inverted dropout: in training, each input value is kept with probability ``1 - p``
    and scaled by ``1 / (1 - p)``; in evaluation it is the identity.

    .. math::
        m_{ij} = \frac{[u_{ij} \ge p]}{1 - p}, \quad u_{ij} \sim U[0, 1), \qquad
        y = x \odot m, \qquad \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot m

    so ``E[y] = x`` and the evaluation-mode network (no mask, no scaling) computes the
    expected training output. The mask is drawn from ``rng`` (the network's seeded
    generator: runs are reproducible) on each training forward; it is kept in :attr:`mask`
    (the scaled mask ``m``, readable by the trace) for the backward. Dropout has no
    parameters and is skipped by the inference export (ONNX).

    Args:
        p: the drop probability, ``0 <= p < 1``.
        rng: the ``numpy.random.Generator`` the masks are drawn from.
    """

    def __init__(self, p: float, rng: np.random.Generator | None = None):
        self.p = check_number("a dropout rate (the probability of dropping a value)", p, high=1.0,
                              high_open=True)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.training = True
        #: the scaled mask ``m`` of the last training forward, ``shape (n_samples, n_units)``
        self.mask: np.ndarray | None = None
        self._keep: np.ndarray | None = None
        self._u: np.ndarray | None = None
        self._active = True  # the last caching forward drew a mask

    @property
    def inplace(self) -> bool:
        """Dropout may write over its input when the network says that input is scratch."""
        return True

    def _draw(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A fresh scaled mask of ``shape``, in buffers reused while the shape stays."""
        u, m = self._u, self.mask
        if u is None or u.shape != shape or u.dtype != dtype:
            u = self._u = np.empty(shape, dtype=dtype)
            m = self.mask = np.empty(shape, dtype=dtype)
            self._keep = np.empty(shape, dtype=np.bool_)
        self.rng.random(out=u, dtype=dtype)
        np.greater_equal(u, self.p, out=self._keep)
        return np.multiply(self._keep, dtype.type(1.0 / (1.0 - self.p)), out=m)

    def forward(self, x: np.ndarray, out: np.ndarray | None = None, cache: bool = True) -> np.ndarray:
        """``x * m`` in training (``cache=True`` and training mode), else ``x`` itself.

        Args:
            out: an array of x's shape to write the result into (may be ``x``); None: a new one.
            cache: training forward (draws a mask); False: evaluation, the identity.
        """
        if cache:
            self._active = self.training and self.p > 0.0
        if not (cache and self.training) or self.p == 0.0:
            if out is None or out is x:
                return x
            np.copyto(out, x)
            return out
        m = self._draw(x.shape, np.dtype(x.dtype))
        return np.multiply(x, m, out=out)

    def backward(
        self, grad_out: np.ndarray, work: np.ndarray | None = None, lr: float | None = None
    ) -> np.ndarray:
        """``dL/dx = grad_out * m`` with the mask of the last training forward (after an
        evaluation-mode forward with ``cache=True``: ``grad_out``, the identity's gradient).

        Args:
            work: an array of grad_out's shape to write into; None: a new array.
            lr: unused (no parameters).
        """
        if not self.__dict__.get("_active", True):
            return grad_out
        m = self.mask
        if m is None or m.shape != grad_out.shape:
            raise CallOrderError("Dropout.backward called without the training forward of this batch "
                                 "(no mask of the gradient's shape)")
        return np.multiply(grad_out, m, out=work)

    def parameters(self) -> list[np.ndarray]:
        return []

    def gradients(self) -> list[np.ndarray]:
        return []

    def train(self, mode: bool = True) -> "Dropout":
        self.training = mode
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_u"] = state["_keep"] = state["mask"] = None  # scratch
        return state

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


#: how :class:`TreeNodes` sums the gradients of the node vectors a batch touches
SCATTER_METHODS = ("sparse", "add_at", "reduceat")


class TreeNodes(Dense):
    r"""The node vectors of a hierarchical softmax: a dense layer ``z = x W + b`` over the
    ``K - 1`` inner nodes of a tree (column ``K - 1`` is padding, never on a path), with a
    training fast path that scores only the targets' paths. The padding column of ``W`` is
    zero (made so here, and its gradient is always 0), so the L2 term and the max-norm see
    the ``K - 1`` node vectors only.

    ``W`` is stored column-major (``W.T``, one node vector per row, is C-contiguous), so
    the node vectors of a path are gathered as contiguous rows (word2vec's ``syn1``).

    Fast path (after :meth:`select` with the batch's class indices; training forward
    only): for sample ``n`` with path nodes ``j_l`` and signs ``t_l``,

    .. math::
        u_{nl} = t_l (x_n \cdot w_{j_l} + b_{j_l}) \quad \text{(padding: } +\infty),

        \frac{\partial L}{\partial x_n} = \sum_l t_l \frac{\partial L}{\partial u_{nl}} w_{j_l}, \quad
        \frac{\partial L}{\partial w_j} = \sum_{(n, l): j_{nl} = j} t_l \frac{\partial L}{\partial u_{nl}} x_n

    ``O(d D)`` per sample (``D`` the path length) instead of ``O(d K)``. The node
    gradients are summed per touched node (:data:`SCATTER_METHODS`: a sparse matrix
    product, ``np.add.at``, or a sort and ``np.add.reduceat``). With plain SGD
    (``backward(..., lr)``) only the touched rows of ``W`` and ``b`` change; otherwise
    ``dW``/``db`` hold the gradient densely (zero off the touched rows), which every
    other optimizer reads. L2 decay, when set, is dense (every node decays).
    """

    #: the scatter-add used for the node gradients (one of :data:`SCATTER_METHODS`)
    scatter = "sparse"

    def __init__(self, W: np.ndarray, b: np.ndarray, tree: Tree):
        W = np.array(W, order="F")  # a copy: the padding column is zeroed below
        W[:, tree.n_classes - 1:] = 0  # never on a path: no weight there, so none in the L2 term
        super().__init__(W, b)
        self.tree = tree
        self._classes: np.ndarray | None = None
        self._path: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._touched: np.ndarray | None = None  # rows of dW.T / db written by the last fast backward

    def select(self, classes: np.ndarray | None) -> None:
        """Score only these classes' paths in the next training forward (None: all nodes)."""
        self._classes = classes

    def forward(self, x, out=None, cache=True):
        """All node scores ``(n, K)`` (evaluation, or training without :meth:`select`), or
        the selected paths' margins ``(n, D_max)`` (training fast path)."""
        if cache and self.__dict__.get("_classes") is not None and not _is_sparse(x):
            return self._path_forward(x)
        if cache:
            self._x = x
            self._path = None
        if out is None:
            out = np.empty((x.shape[0], self.W.shape[1]), dtype=np.result_type(x.dtype, self.W))
        np.copyto(out, self.b)
        if _is_sparse(x):
            out += x @ self.W
            return out
        return _blas.gemm(1.0, x, self.W.T, 1.0, out, trans_b=True)

    def scores_of_last_input(self) -> np.ndarray:
        """Every node score ``(n, K)`` of the input of the last training forward (with the
        current weights; nothing cached): what the fast path did not compute."""
        if self._x is None:
            raise CallOrderError("TreeNodes.scores_of_last_input called before a training forward")
        return self.forward(self._x, None, cache=False)

    def _path_forward(self, x: np.ndarray) -> np.ndarray:
        tree, idx = self.tree, self._classes
        nodes = tree.nodes[idx]
        signs = tree.signs[idx].astype(self.W.dtype)
        Wg = np.take(self.W.T, nodes, axis=0)  # (n, D, d): the path's node vectors
        # NOTE: einsum's own loops, not np.matmul: that would call NumPy's BLAS, whose thread
        # pool must stay asleep while the dense layers run on SciPy's (see relunet.core.blas)
        s = np.einsum("nld,nd->nl", Wg, x)
        s += self.b[nodes]
        s *= signs
        s[signs == 0] = np.inf
        self._x = x
        self._path = (nodes, signs, Wg)
        return s

    def backward(self, grad_out, work=None, lr=None):
        path = self.__dict__.get("_path")
        if path is None or grad_out.shape != path[0].shape:
            if _is_sparse(self._x) or self._x is None:
                return super().backward(grad_out, work, lr)
            return self._full_backward(grad_out, work, lr)
        return self._path_backward(grad_out, work, lr, *path)

    def _full_backward(self, g: np.ndarray, work: np.ndarray | None, lr: float | None) -> np.ndarray | None:
        """Dense's backward on the column-major ``W`` (the products on ``W.T``)."""
        x, WT = self._x, self.W.T
        decay = self.l2 / g.shape[0]
        dx = None
        if lr is None:
            dWT = self.dW.T
            _blas.gemm(1.0, g, x, 0.0, dWT, trans_a=True)
            if decay:
                _blas.axpy(decay, WT, dWT)
            self._touched = None
        if self.needs_input_grad:
            if work is None:
                work = np.empty((g.shape[0], WT.shape[1]), dtype=np.result_type(g, WT))
            dx = _blas.gemm(1.0, g, WT, 0.0, work)
        self.bias_backward(g, lr)
        if lr is not None:
            if decay:
                np.multiply(WT, WT.dtype.type(1.0 - lr * decay), out=WT)
            _blas.gemm(-lr, g, x, 1.0, WT, trans_a=True)
        return dx

    def _path_backward(self, du, work, lr, nodes, signs, Wg):
        x = self._x
        n = x.shape[0]
        ds = (du * signs).astype(self.W.dtype, copy=False)  # dL/ds on the path, 0 on padding
        dx = None
        if self.needs_input_grad:
            r = np.einsum("nl,nld->nd", ds, Wg)  # with the old W
            if work is not None:
                np.copyto(work, r)
                r = work
            dx = r
        rows, gW, gb = scatter_rows(nodes.reshape(-1), ds.reshape(-1), x, nodes.shape[1], self.scatter)
        WT = self.W.T
        decay = self.l2 / n
        db = self.db
        if self._touched is None:
            db[...] = 0
        else:
            db[self._touched] = 0
        db[rows] = gb
        if lr is None:
            dWT = self.dW.T
            if decay:
                np.multiply(WT, decay, out=dWT)
                dWT[rows] += gW
            else:
                if self._touched is None:
                    dWT[...] = 0
                else:
                    dWT[self._touched] = 0
                dWT[rows] = gW
        else:
            if decay:
                np.multiply(WT, WT.dtype.type(1.0 - lr * decay), out=WT)
            WT[rows] -= WT.dtype.type(lr) * gW
            self.b[rows] -= self.b.dtype.type(lr) * gb
        self._touched = None if (decay and lr is None) else rows
        return dx

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_classes"] = state["_path"] = state["_x"] = None
        return state

    def __repr__(self) -> str:
        return f"TreeNodes({self.n_in} -> {self.n_out}, {self.tree!r})"


def scatter_rows(
    nodes: np.ndarray, ds: np.ndarray, x: np.ndarray, depth: int, method: str = "sparse"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Sum the node gradients of a batch per node: for the flat pairs ``(nodes[i], ds[i])``,
    ``i = n * depth + l``,

    .. math::
        g_j = \sum_{i: \mathrm{nodes}_i = j} ds_i\, x_{\lfloor i / \mathrm{depth} \rfloor}, \qquad
        gb_j = \sum_{i: \mathrm{nodes}_i = j} ds_i

    Returns ``(rows, g, gb)``: the distinct nodes (sorted), ``shape (R, d)`` and ``(R,)``.

    Methods: ``"sparse"`` (a CSR matrix of ``ds``, nodes by samples, times ``x``),
    ``"add_at"`` (``np.add.at`` of the outer products), ``"reduceat"`` (sort, then
    ``np.add.reduceat`` over equal nodes). All give the same sums up to rounding.
    """
    if method not in SCATTER_METHODS:
        raise ConfigError(f"scatter method must be one of {SCATTER_METHODS}, got {method!r}")
    sample = np.arange(len(nodes)) // depth
    rows, inv = np.unique(nodes, return_inverse=True)
    gb = np.bincount(inv, weights=ds, minlength=len(rows)).astype(ds.dtype, copy=False)
    if method == "sparse":
        m = _sparse.csr_matrix((ds, (inv, sample)), shape=(len(rows), x.shape[0]))
        g = np.asarray(m @ x)
    elif method == "add_at":
        g = np.zeros((len(rows), x.shape[1]), dtype=x.dtype)
        np.add.at(g, inv, ds[:, None] * x[sample])
    else:
        order = np.argsort(inv, kind="stable")
        starts = np.flatnonzero(np.r_[True, inv[order][1:] != inv[order][:-1]])
        g = np.add.reduceat(ds[order, None] * x[sample[order]], starts, axis=0)
    return rows, g.astype(x.dtype, copy=False), gb
