"""Networks: a chain of layers with a loss, and the multilayer perceptron built on it.

Backpropagation is the chain rule applied layer by layer from the output back:

    delta_L = dL/dz_L                      (fused: p - y for softmax/sigmoid + CE/BCE)
    dL/dW_l = a_{l-1}^T delta_l            (a_{l-1}: the layer's input)
    delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1})

so the textbook per-pattern rule ``w += lr * delta * f'(e) * input`` is one SGD step
``W -= lr * dL/dW`` with batch size 1: the textbook's ``delta`` is the error
``target - output = -dL/dy_hat`` (for ``E = 1/2 (t - y)^2``; relunet's ``mse``, the mean of
``(y_hat - y)^2``, doubles it), while relunet's ``delta = dL/dz`` carries the minus sign and
already contains ``f'(e)`` (``relunet trace`` prints both, see :mod:`relunet.insight.trace`).

Every pass runs through one forward loop and one backward loop (``Network._forward``,
``Network._backward``): the training step (work arrays reused from batch to batch, ReLU
in place, the SGD update fused into the backward GEMM when the optimizer says it can),
the plain allocating pass (:meth:`Network.logits`, :meth:`Network.backward`, whose
``record=`` lists let the trace and the diagnostics read what flows through) and the
evaluation-mode inference in blocks (:meth:`Network.forward`, :meth:`Network.evaluate`).
They differ only in the options they give each layer's ``forward(x, out, cache)`` and
``backward(grad_out, work, lr)`` (see :mod:`relunet.core.layers`); where a ReLU runs in
place over a dense layer's output of compiled-kernel size, that layer's bias and bias
gradient move into the ReLU's passes (``bias=`` / ``dense=``, see ``Network._forward``,
``Network._backward``).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from relunet.core import activations
from relunet.core import kernels, losses
from relunet.core.activations import Activation
from relunet.errors import (
    ConfigError,
    ConfigWarning,
    DataError,
    FeatureCountError,
    NotFittedError,
    TargetTypeError,
)
from relunet.core.checks import check_labels, check_number, check_writeable
from relunet.core.finite import check_finite_output
from relunet.core.init import initial_weights
from relunet.core.layers import ActivationLayer, Dense, Dropout, TreeNodes
from relunet.core.tree import Tree, target_indices

ActivationSpec = "str | Activation | tuple[str, dict[str, Any]]"


class Network:
    """A feed-forward chain of layers whose last layer is the output activation.

    Args:
        layers: ``Dense`` and ``ActivationLayer`` objects; the last must be an
            ``ActivationLayer`` (use ``"identity"`` for a linear output).
        loss: a loss name or instance (see :mod:`relunet.losses`).
    """

    def __init__(self, layers: Sequence[Any], loss: "str | losses.Loss"):
        if not layers or not isinstance(layers[-1], ActivationLayer):
            raise ConfigError("the last layer of a Network must be an ActivationLayer (the output activation)")
        self.layers = list(layers)
        self.loss = losses.get(loss)
        self.training = True
        #: the max-norm constraint ``c``: after each training step every unit's incoming
        #: weight vector (a column of ``W``) longer than ``c`` is scaled back to length ``c``
        self.max_norm: float | None = None
        first = next((l for l in self.layers if isinstance(l, Dense)), None)
        if first is not None:
            first.needs_input_grad = False

    # -- structure ---------------------------------------------------------
    @property
    def dense_layers(self) -> list[Dense]:
        return [l for l in self.layers if isinstance(l, Dense)]

    @property
    def l2(self) -> float:
        r"""The L2 penalty coefficient ``lambda`` (0: none), scikit-learn's ``alpha``.

        On a batch of ``n`` samples the loss minimised is

        .. math::
            L = \frac{1}{n} \sum_{i=1}^{n} \ell(x_i, y_i)
                + \frac{\lambda}{2 n} \sum_l \lVert W_l \rVert_F^2

        (biases excluded), so ``dL/dW_l`` gains ``(lambda / n) W_l``, added in each dense
        layer's backward. This is exactly the penalty scikit-learn's ``MLPClassifier`` /
        ``MLPRegressor`` add for ``alpha`` (``alpha / (2 n)`` times the squared weights, per
        batch of ``n``), so ``l2 = alpha`` gives the same objective. The loss reported for a
        whole set of ``N`` samples (``evaluate``, the epoch records) is the same formula with
        ``n = N`` (scikit-learn's ``loss_curve_`` instead averages its per-batch values).
        """
        for layer in self.layers:  # every dense layer holds the same value (asked every step)
            if isinstance(layer, Dense):
                return float(layer.__dict__.get("l2", 0.0))
        return 0.0

    @l2.setter
    def l2(self, value: float) -> None:
        value = check_number("l2", value)
        for d in self.dense_layers:
            d.l2 = value

    def penalty(self, n: int) -> float:
        """The L2 term ``l2 / (2 n) * sum ||W||^2`` of the loss on ``n`` samples (0 without L2)."""
        lam = self.l2
        if not lam:
            return 0.0
        return float(lam / (2.0 * n) * sum(float(np.vdot(d.W, d.W)) for d in self.dense_layers))

    def apply_max_norm(self) -> None:
        r"""Scale each unit's incoming weights back onto the ball of radius ``max_norm``:
        ``W[:, j] <- W[:, j] * min(1, c / ||W[:, j]||)`` for every dense layer (biases free).
        Nothing happens when ``max_norm`` is None."""
        c = self.__dict__.get("max_norm")
        if c is None:
            return
        for d in self.dense_layers:
            norms = np.sqrt(np.einsum("ij,ij->j", d.W, d.W))
            over = norms > c
            if over.any():
                d.W[:, over] *= (c / norms[over]).astype(d.W.dtype)

    @property
    def output_activation(self) -> Activation:
        return self.layers[-1].activation

    @property
    def n_features(self) -> int:
        return self.dense_layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.dense_layers[-1].n_out

    @property
    def target_width(self) -> int:
        """Columns of the encoded targets: 1 (class indices) for a loss that takes
        indices (the hierarchical softmax's), else ``n_outputs``."""
        return 1 if getattr(self.loss, "index_targets", False) else self.n_outputs

    @property
    def dtype(self) -> np.dtype:
        return self.dense_layers[0].W.dtype

    @property
    def fused(self) -> bool:
        """True when the loss is fused with the output activation (delta computed from logits)."""
        return self.output_activation.name == self.loss.output

    @property
    def counts_batch_correct(self) -> bool:
        """True when :meth:`last_batch_correct` only judges the logits the step already
        computed (``O(K)`` per row for ``K`` outputs). False for a hierarchical softmax
        (a :class:`TreeNodes` output): its training pass scores only the targets' paths, so
        judging a row needs every node score and every class probability, ``O(d V)`` per row
        for ``V`` classes and ``d`` last hidden units (with thousands of classes, more than the
        step itself); ``fit`` then leaves the per-batch training ``accuracy`` out of its
        records unless ``exact_train_metrics=True``."""
        return not (len(self.layers) > 1 and isinstance(self.layers[-2], TreeNodes))

    def parameters(self) -> list[np.ndarray]:
        """All trainable arrays, in layer order (updated in place by optimizers)."""
        return [p for layer in self.layers for p in layer.parameters()]

    def gradients(self) -> list[np.ndarray]:
        """The gradients of ``parameters()``, same order, filled by ``backward``."""
        return [g for layer in self.layers for g in layer.gradients()]

    def n_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    def flat_parameters(self) -> np.ndarray:
        """All parameters concatenated into one float64 vector (for CG / L-BFGS)."""
        return np.concatenate([p.ravel() for p in self.parameters()]).astype(np.float64)

    def set_flat_parameters(self, theta: np.ndarray) -> None:
        """Write a vector from :meth:`flat_parameters` back into the parameters (in place)."""
        i = 0
        for p in self.parameters():
            p[...] = theta[i : i + p.size].reshape(p.shape)
            i += p.size
        if i != len(theta):
            raise ConfigError(f"parameter vector has {len(theta)} values, the network {i}")

    def flat_gradients(self) -> np.ndarray:
        return np.concatenate([g.ravel() for g in self.gradients()]).astype(np.float64)

    def train(self, mode: bool = True) -> "Network":
        """Training mode (RReLU draws random slopes) or, with ``mode=False``, evaluation mode."""
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self) -> "Network":
        return self.train(False)

    def check_trainable(self) -> None:
        """Raise NonDifferentiableError if any activation cannot pass a gradient."""
        for layer in self.layers:
            if isinstance(layer, ActivationLayer) and not (
                layer is self.layers[-1] and self.fused
            ):
                layer.activation.require_differentiable()

    def check_pairing(self, stacklevel: int = 3) -> None:
        """Warn (:class:`relunet.errors.ConfigWarning`) when the output activation and the
        loss train, but poorly, together (:data:`relunet.core.losses.POOR_PAIRS`: a softmax
        output with binary cross-entropy or mean squared error), naming the fix."""
        out, loss = self.output_activation.name, self.loss.name
        pair = losses.POOR_PAIRS.get((out, loss))
        if pair is not None:
            warnings.warn(f"output={out!r} with loss={loss!r} trains poorly: {pair.why}; {pair.fix} "
                          f"(relunet doctor explains it: {pair.rule})", ConfigWarning, stacklevel=stacklevel)

    # -- computation: one forward loop and one backward loop over the layers ------
    #: rows per block of the evaluation-mode forward (bounds its memory on large inputs)
    infer_chunk: int = 1024

    def logits(self, X: np.ndarray, *, record: list[np.ndarray] | None = None,
               training: bool | None = None) -> np.ndarray:
        """Forward pass up to (not through) the output activation: ``z_L``.

        In training mode every layer caches what :meth:`backward` needs; in evaluation
        mode this is the inference path (see :meth:`forward`).

        Args:
            record: a list that receives every layer's output in order (``z_1``,
                ``f_1(z_1)``, ..., ``z_L``): new arrays that the pass does not overwrite
                (nothing runs in place; in evaluation mode the input is one block).
            training: the mode of this pass only; None: the network's (``train()`` /
                ``eval()``). ``training=False`` reads no shared state and writes none, so
                several threads may run it on one network while another one trains it.
        """
        self._check_input(X)
        if not (self.training if training is None else training):
            return self._infer(X, through_output=False, record=record)
        return self._forward(X, _NO_BUFFERS, True, False, record)

    def forward(self, X: np.ndarray, *, record: list[np.ndarray] | None = None,
                training: bool | None = None) -> np.ndarray:
        """The network's output ``f_L(z_L)``, ``shape (n_samples, n_outputs)``.

        In evaluation mode (``net.eval()``, ``predict``) this is the inference path: no
        training caches or work arrays, each layer's output computed into one fresh array
        and ReLU applied to it in place, and inputs of more than ``infer_chunk`` rows taken
        in blocks (so predicting on 60000 samples never holds a 60000 x 500 activation).
        The result is always a new array the caller owns. ``record``: as in :meth:`logits`,
        with the output last; ``training``: as in :meth:`logits` (``predict`` passes False).
        """
        self._check_input(X)
        if not (self.training if training is None else training):
            return self._infer(X, through_output=True, record=record)
        return self._forward(X, _NO_BUFFERS, True, True, record)

    def _check_input(self, X: Any) -> None:
        """The cheap shape check of the low-level passes (``MLP.check_X`` validates fully)."""
        shape = np.shape(X)
        if len(shape) != 2 or shape[1] != self.n_features:
            raise FeatureCountError(
                f"X must have shape (n_samples, {self.n_features}), one row per sample; got shape {shape}"
            )

    def backward(self, delta: np.ndarray, *, record: list[np.ndarray] | None = None) -> None:
        """Backpropagate ``delta = dL/dz_L`` (gradient at the logits) through every layer.

        Follows a training-mode :meth:`logits` or :meth:`forward`; fills ``gradients()``.

        Args:
            record: a list that receives the gradient entering each layer below the
                output activation, from the last layer back (``dL/dz_L`` first): new arrays.
        """
        self._backward(delta, _NO_BUFFERS, None, record)

    def loss_and_delta(
        self, z: np.ndarray, Y: np.ndarray, *, record: list[np.ndarray] | None = None
    ) -> tuple[float, np.ndarray]:
        """The loss and ``delta = dL/dz_L`` at the logits ``z`` (a new array, z's dtype).

        Where the loss is fused with the output activation the loss computes both from
        the logits (:meth:`relunet.core.losses.Loss.value_and_delta_from_logits`, valid
        only for its table's pairs); otherwise ``dL/dy`` passes back through the output
        activation's own ``backward``.

        Args:
            record: a list that receives the network's output ``f_L(z)`` (in the fused
                case computed for it: the fused pass never forms it).
        """
        return self._loss_and_delta(z, Y, None, record)

    def loss_and_gradients(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One forward and backward pass on a batch: returns the loss, fills the gradients.

        Args:
            X: inputs, ``shape (n_samples, n_features)``, in the network's dtype.
            Y: encoded targets, ``shape (n_samples, n_outputs)``.

        Runs on work arrays reused across calls (see :meth:`_work`); the gradients
        (``gradients()``) are the only results, written in place.
        """
        work = self._work(X, Y)
        select = self._select(Y)
        try:
            value, delta = self._loss_and_delta(self._forward(X, work.outs, True), Y, work)
            self._backward(delta, work.grads, None)
        finally:
            if select is not None:
                select(None)
        return value

    def _select(self, Y: np.ndarray) -> Any:
        """Tell an output layer that scores only what the targets need (the tree's
        :class:`TreeNodes`: the targets' paths) which classes this batch holds; returns its
        ``select`` (to be called with None after the step), or None for other networks."""
        layer = self.layers[-2] if len(self.layers) > 1 else None
        if not isinstance(layer, TreeNodes) or not self.fused:
            return None
        layer.select(target_indices(Y, layer.n_out))
        return layer.select

    def train_step(self, X: np.ndarray, Y: np.ndarray, optimizer: Any) -> float:
        """One optimisation step on a batch: forward, backward, the optimizer's update.

        Returns the batch loss (before the update); when it is not finite, no update is
        made. This is the single entry point the training loop uses per batch.

        The step's logits stay in its work arrays until the next pass:
        :meth:`last_batch_correct` counts the rows they classify correctly.

        The optimizer says whether its update can be fused into the backward pass
        (``optimizer.fused_sgd_lr()``: plain SGD can): each dense layer's update
        ``W -= lr * x.T @ delta`` is then made inside the backward GEMM (``alpha = -lr,
        beta = 1``, straight into ``W``) right after ``delta W.T`` has been computed with the
        old ``W``, the same step as ``loss_and_gradients`` then ``optimizer.step`` without
        ever forming ``dW`` (``dW`` is left as it was; ``db`` and activation gradients are
        filled). Any other optimizer takes ``optimizer.step(parameters, gradients)``.
        """
        work = self._work(X, Y)
        select = self._select(Y)
        try:
            z = self._last_logits = self._forward(X, work.outs, True)
            value, delta = self._loss_and_delta(z, Y, work)
            if not math.isfinite(value):
                return value
            params = self.parameters()
            check_writeable(params)  # before the fused step updates any of them
            lr = optimizer.fused_sgd_lr()
            self._backward(delta, work.grads, lr)
        finally:
            if select is not None:
                select(None)
        if lr is None:
            optimizer.step(params, self.gradients())
        self.apply_max_norm()
        return value

    def last_batch_correct(self, Y: np.ndarray) -> int:
        """The rows of the last :meth:`train_step`'s batch that its training-mode forward
        pass (before the update) classified correctly against ``Y``, that batch's encoded
        targets: the outputs ``f_L(z_L)`` judged as :meth:`evaluate` judges them (argmax for
        softmax, taken on the logits: softmax keeps their order, and only two logits whose
        probabilities round to the same value could tell the two apart; every output on the
        right side of 0.5 for sigmoid). ``fit`` sums these into
        the epoch's training ``accuracy``, as Keras does, with no second pass over the data.

        Valid until the next pass of any kind (the logits live in the work arrays); 0 for a
        regression network or before any step. A hierarchical softmax's training pass scored
        only the targets' paths: its outputs are then computed here from the batch's last
        hidden layer (every node score, ``O(d K)`` per row) with the weights after the update
        (so ``fit`` does not call this for such a network, see :attr:`counts_batch_correct`).
        """
        z = self.__dict__.get("_last_logits")
        if z is None or getattr(self, "task", None) != "classification":
            return 0
        nodes = self.layers[-2] if len(self.layers) > 1 else None
        if isinstance(nodes, TreeNodes) and z.shape[1] != nodes.n_out:
            z = nodes.scores_of_last_input()
        if len(z) != len(Y):
            raise DataError(f"Y has {len(Y)} rows, the last training batch {len(z)}")
        if type(self.output_activation) is activations.Softmax:  # its argmax is the logits'
            return _n_correct(self.loss.name, z, Y)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _n_correct(self.loss.name, self.layers[-1].forward(z, None, False), Y)

    def loss_value(self, X: np.ndarray, Y: np.ndarray) -> float:
        """The loss on ``(X, Y)`` without gradients (in evaluation mode: the inference path)."""
        return self._data_loss(X, Y) + self.penalty(len(X))

    def _data_loss(self, X: np.ndarray, Y: np.ndarray) -> float:
        """The loss on ``(X, Y)`` without the L2 term."""
        if not self.training and len(X) > self.infer_chunk:
            # Every relunet loss is a mean over samples: the mean of the blocks' means,
            # weighted by their rows, is the loss on the whole set.
            total = 0.0
            for s in range(0, len(X), self.infer_chunk):
                Xc, Yc = X[s : s + self.infer_chunk], Y[s : s + self.infer_chunk]
                total += self._data_loss(Xc, Yc) * len(Xc)
            return total / len(X)
        z = self.logits(X)
        if self.fused:
            return self.loss.value_from_logits(z, Y)
        return self.loss.value(self.layers[-1].forward(z, None, self.training), Y)

    def evaluate(
        self, X: np.ndarray, Y: np.ndarray, *, loss: bool = True, work_rows: int | None = None
    ) -> dict[str, float]:
        """Loss (and accuracy for classifiers) in evaluation mode, on encoded targets.

        One forward pass: the loss is taken from the logits where the loss is fused with
        the output activation (the stable form), the accuracy from the output.

        The pass runs in blocks of rows, so a large set (MNIST's 60k, every epoch) needs
        memory for one block, not for all the outputs. By default the blocks are
        ``infer_chunk`` rows through the inference path. With ``work_rows`` (what
        :func:`relunet.training.fit` passes: its batch size) they are that many rows through
        the training work arrays, which the training step has already allocated, so
        evaluating during training needs no memory of its own. Either way the pass caches
        nothing (``cache=False``): the layers keep the references of the last training
        step, never a view of ``X`` (after fit: the whole training or validation set).
        The network's mode is neither read nor changed: every layer is told by the pass.

        Returns:
            ``{"loss": ...}`` (with ``loss``) and ``{"accuracy": ...}`` for classifiers.
        """
        n = len(X)
        chunk = int(work_rows) if work_rows is not None else int(self.infer_chunk or n)
        classify = getattr(self, "task", None) == "classification"
        out_layer = self.layers[-1]
        # with several blocks each block's mean is weighted by its share of the samples
        # (every loss here is a mean over samples x outputs); one block gives the plain means
        blocks: list[tuple[int, float, float]] = []
        for s in range(0, n, chunk):
            Xc, Yc = X[s : s + chunk], Y[s : s + chunk]
            if work_rows is not None:
                z = self._forward(Xc, self._work(Xc, Yc).outs, False)
            else:
                z = self.logits(Xc, training=False)
            output = out_layer.forward(z, None, False) if (classify or (loss and not self.fused)) else None
            value = acc = 0.0
            if loss:
                value = float(self.loss.value_from_logits(z, Yc) if self.fused
                              else self.loss.value(output, Yc))
            if classify:
                acc = _accuracy(self.loss.name, output, Yc)
            blocks.append((len(Xc), value, acc))
        if len(blocks) == 1:
            _, value, acc = blocks[0]
        else:
            value = sum(k * v for k, v, _ in blocks) / n
            acc = sum(k * a for k, _, a in blocks) / n
        result: dict[str, float] = {}
        if loss:
            result["loss"] = value + self.penalty(n)
        if classify:
            result["accuracy"] = acc
        return result

    def release_buffers(self) -> None:
        """Drop the training work arrays (they are re-created by the next training step)."""
        self._plans = {}
        self._storage = {}
        self._last_logits = None

    def __getstate__(self) -> dict[str, Any]:
        # Work arrays are scratch: never pickled or deep-copied.
        state = self.__dict__.copy()
        state.pop("_plans", None)
        state.pop("_storage", None)
        state.pop("_infer_plans", None)
        state.pop("_folds", None)
        state.pop("_last_logits", None)
        return state

    # -- the two loops -------------------------------------------------------------
    def _forward(
        self,
        X: np.ndarray,
        outs: Iterable[Any],
        cache: bool,
        through_output: bool = False,
        record: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        """The forward loop: ``a = layer.forward(a, out, cache)`` for every layer in order.

        Args:
            outs: one entry per layer: None (the layer makes a new array), a work array
                to write into, or True (write over the layer's input: an in-place ReLU on
                the array the dense layer before it has just written; for arrays that
                take the compiled kernels that layer then computes ``x W`` only and the
                ReLU adds its bias, :func:`_adds_bias`).
            cache: keep what ``backward`` needs (training) or nothing (evaluation).
            through_output: also apply the output activation (else stop at the logits).
            record: a list to append each layer's output to.
        """
        layers = self.layers if through_output else self.layers[:-1]
        outs = list(itertools.islice(outs, len(layers)))
        folds, fold = self._bias_folds(), False
        a = X
        for i, (layer, out) in enumerate(zip(layers, outs)):
            if fold:  # ReLU in place over x W: it adds b too
                a, fold = layer.forward(a, a, cache, bias=layers[i - 1].b), False
            elif (folds[i + 1] and i + 1 < len(outs) and outs[i + 1] is True
                  and kernels.compiles(a.shape[0] * layer.n_out)):
                a, fold = layer.forward(a, out, cache, bias=False), True  # the dense layer: x W only
            else:
                a = layer.forward(a, a if out is True else out, cache)
            if record is not None:
                record.append(a)
        return a

    def _bias_folds(self) -> list[bool]:
        """:func:`_adds_bias` of every layer, and False after the last (made once: the
        layers of a network do not change)."""
        folds = self.__dict__.get("_folds")
        if folds is None:
            folds = self._folds = [_adds_bias(self.layers, i) for i in range(len(self.layers))] + [False]
        return folds

    def _backward(
        self,
        delta: np.ndarray,
        grads: Iterable[Any],
        lr: float | None,
        record: list[np.ndarray] | None = None,
    ) -> None:
        """The backward loop: ``g = layer.backward(g, work, lr)`` from the last layer below
        the output activation back to the first dense layer (which returns None). A ReLU
        that ran in place over a dense layer's output fills that layer's ``db`` (and takes
        the SGD bias step) in its own pass; the dense layer then runs with ``bias=False``.

        Args:
            grads: one entry per layer, last layer first: a dense layer's ``dL/dx`` array,
                an in-place ReLU's bool mask, or None (a new array).
            lr: the plain SGD step to fuse into each layer's backward, or None.
            record: a list to append the gradient entering each layer to.
        """
        layers, folds = self.layers, self._bias_folds()
        g, bias_done = delta, False
        for j, work in zip(range(len(layers) - 2, -1, -1), grads):
            layer = layers[j]
            if record is not None:
                record.append(g)
            if bias_done:  # its db (and SGD's bias step) came with the ReLU above it
                g, bias_done = layer.backward(g, work, lr, bias=False), False
            elif folds[j] and layer.ran_in_place and kernels.compiles(g.size):
                g, bias_done = layer.backward(g, work, lr, dense=layers[j - 1]), True
            else:
                g = layer.backward(g, work, lr)
            if g is None:  # the first dense layer: nothing below needs dL/dx
                return

    def _loss_and_delta(
        self, z: np.ndarray, Y: np.ndarray, work: "_Work | None", record: list[Any] | None = None
    ) -> tuple[float, np.ndarray]:
        """:meth:`loss_and_delta`, into the work arrays when given."""
        # NOTE: a diverged network has inf/nan logits; the loss then says so (the training
        # loop raises DivergenceError), the warnings numpy would give are noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.fused:
                if record is not None:
                    record.append(self.output_activation.fn(z))
                if work is None:
                    value, delta = self.loss.value_and_delta_from_logits(z, Y)
                else:
                    value, delta = self.loss.value_and_delta_from_logits(
                        z, Y, out=work.delta, col=work.col, tmp=work.tmp)
            else:
                out = self.layers[-1]
                y_pred = out.forward(z)
                if record is not None:
                    record.append(y_pred)
                value = self.loss.value(y_pred, Y)
                delta = out.backward(self.loss.gradient(y_pred, Y))
        return value + self.penalty(len(z)), delta if delta.dtype == z.dtype else delta.astype(z.dtype)

    # -- evaluation mode: the forward loop in blocks, on fresh arrays -----------------
    def _infer(
        self, X: np.ndarray, through_output: bool, record: list[np.ndarray] | None = None
    ) -> np.ndarray:
        """Evaluation-mode forward in blocks of ``infer_chunk`` rows (see :meth:`forward`)."""
        # fresh arrays from each dense layer: ReLU after one may overwrite them (not when
        # recording); the plan depends only on the layers, so it is made once per network
        if record is not None:
            outs: Sequence[Any] = _NO_BUFFERS
        else:
            plans = self.__dict__.setdefault("_infer_plans", {})
            outs = plans.get(through_output)
            if outs is None:
                outs = plans[through_output] = _in_place_over_dense(
                    self.layers if through_output else self.layers[:-1])
        n, chunk = X.shape[0], self.infer_chunk  # not len(X): X may be a sparse matrix
        if n <= chunk or record is not None:
            a = self._forward(X, outs, False, through_output, record)
            return a.copy() if a is X else a
        result = None
        for s in range(0, n, chunk):
            y = self._forward(X[s : s + chunk], outs, False, through_output)
            if result is None:
                result = np.empty((n,) + y.shape[1:], dtype=y.dtype)
            result[s : s + len(y)] = y
        return result

    # -- the training work arrays, reused from batch to batch --------------------------
    def _work(self, X: np.ndarray, Y: np.ndarray) -> "_Work":
        """The work arrays for a batch of ``len(X)`` samples.

        They are views of arrays sized for the largest batch seen so far, so batches of
        one size reuse the same memory, and a smaller last batch uses the leading rows.
        """
        if X.ndim != 2:
            raise DataError(f"X must be 2-D, shape (n_samples, n_features); got shape {X.shape}")
        n = X.shape[0]  # not len(X): X may be a sparse matrix
        work = self._plan(n)
        if X.shape[1] != work.n_features:
            raise FeatureCountError(
                f"X has {X.shape[1]} features but the network takes {work.n_features}"
            )
        if Y.shape != (n, work.n_outputs):
            raise DataError(
                f"Y must be encoded targets of shape ({n}, {work.n_outputs}); got {Y.shape}"
            )
        return work

    def _plan(self, n: int) -> "_Work":
        """The work arrays for batches of ``n`` rows: made on first use, then reused."""
        plans = self.__dict__.get("_plans")
        if plans is None:
            self.release_buffers()
            plans = self._plans
        work = plans.get(n)
        return work if work is not None else self._make_work(n)

    def reserve_work(self, rows: int) -> None:
        """Create the work arrays for batches of up to ``rows`` rows now (``fit`` does, for
        its evaluation blocks), so that no later batch makes them grow: growing allocates the
        new arrays while the old ones are still held."""
        self._plan(int(rows))

    def _rows(self, key: Any, n: int, cols: int, dtype: Any) -> tuple[np.ndarray, bool]:
        """The first ``n`` rows of the stored work array ``key``; True if it had to grow."""
        arr = self._storage.get(key)
        grew = arr is None or arr.shape[0] < n or arr.shape[1] != cols or arr.dtype != dtype
        if grew:
            arr = self._storage[key] = np.empty((n, cols), dtype=dtype)
        return arr[:n], grew

    def _units_before(self, i: int) -> int:
        """The width of the input of layer ``i`` (the features for the first layer)."""
        for layer in reversed(self.layers[:i]):
            if isinstance(layer, Dense):
                return layer.n_out
        return self.n_features

    def _make_work(self, n: int) -> "_Work":
        dtype, grew = self.dtype, False
        work = _Work(n, self.n_features, self.target_width)
        hidden = self.layers[:-1]
        grads: list[Any] = []
        for i, (layer, over) in enumerate(zip(hidden, _in_place_over_dense(hidden))):
            out = grad = None
            if isinstance(layer, Dense):
                out, g1 = self._rows((i, "z"), n, layer.n_out, dtype)
                grew |= g1
                if layer.needs_input_grad:
                    grad, g2 = self._rows((i, "dx"), n, layer.n_in, dtype)
                    grew |= g2
            elif isinstance(layer, Dropout):
                units = self._units_before(i)
                if i and work.outs[i - 1] is not None:  # its input is a work array: over it
                    out = True
                else:  # the caller's X, or an activation's own (cached) output: a copy
                    out, g1 = self._rows((i, "drop"), n, units, dtype)
                    grew |= g1
                if i:  # input dropout needs no gradient
                    grad, g2 = self._rows((i, "dgrad"), n, units, dtype)
                    grew |= g2
            elif over:
                out = True
                grad, g1 = self._rows((i, "mask"), n, hidden[i - 1].n_out, np.bool_)
                grew |= g1
            work.outs.append(out)
            grads.append(grad)
        work.grads = grads[::-1]
        width = self.target_width  # a loss on class indices makes its own (path-wide) delta
        work.delta, g1 = self._rows("delta", n, width, dtype)
        work.col, g2 = self._rows("col", n, 1, dtype)
        work.tmp, g3 = self._rows("tmp", n, width, dtype)
        if grew or g1 or g2 or g3 or len(self._plans) > 16:
            self._plans.clear()  # views of replaced arrays: drop them
        self._plans[n] = work
        return work


def _adds_bias(layers: Sequence[Any], i: int) -> bool:
    """True when layer ``i`` is a ReLU that, run in place over the output of the plain dense
    layer before it, adds that layer's bias in its own pass (and sums its bias gradient in
    its backward pass) when the arrays take the compiled kernels (``kernels.compiles``)."""
    return (i > 0 and type(layers[i - 1]) is Dense and isinstance(layers[i], ActivationLayer)
            and layers[i].inplace)


#: the buffers of a pass without work arrays: every layer makes new arrays
_NO_BUFFERS = itertools.repeat(None)


def _in_place_over_dense(layers: Sequence[Any]) -> list[bool | None]:
    """True for each activation that runs in place over the output of the dense layer
    just before it (never over the caller's input); None for the others. Over a plain
    ``Dense`` layer such a ReLU may also take that layer's bias and bias gradient into its
    passes (:func:`_adds_bias`; ``Network._forward``, ``Network._backward``)."""
    return [
        True if i and isinstance(layers[i - 1], Dense) and getattr(layer, "inplace", False) else None
        for i, layer in enumerate(layers)
    ]


class _Work:
    """The training work arrays for one batch size (see ``Network._work``).

    ``outs[i]`` is layer i's ``out`` in the forward loop (a dense layer's output array,
    True for a ReLU run in place over it, else None) and ``grads`` the ``work`` of each
    layer in the backward loop, last layer first (a dense layer's dL/dx array, the in-place
    ReLU's bool mask, else None); ``delta`` holds dL/dz_L, ``col`` one value per row and
    ``tmp`` is scratch of delta's shape (for the fused loss).
    """

    __slots__ = ("n", "n_features", "n_outputs", "outs", "grads", "delta", "col", "tmp")

    def __init__(self, n: int, n_features: int, n_outputs: int):
        self.n, self.n_features, self.n_outputs = n, n_features, n_outputs
        self.outs: list[Any] = []
        self.grads: list[Any] = []
        self.delta: np.ndarray | None = None
        self.col: np.ndarray | None = None
        self.tmp: np.ndarray | None = None


def _n_correct(loss_name: str, out: np.ndarray, Y: np.ndarray) -> int:
    """Rows of the outputs ``out`` that match the encoded targets ``Y``: the same class by
    argmax, or for binary cross-entropy every output on the same side of 0.5 (multi-label:
    exact match)."""
    if loss_name == "binary_cross_entropy":
        return int(np.count_nonzero(np.all((out > 0.5) == (Y > 0.5), axis=1)))
    if Y.shape[1] == 1 and out.shape[1] > 1:  # class indices
        return int(np.count_nonzero(np.argmax(out, axis=1) == Y[:, 0]))
    return int(np.count_nonzero(np.argmax(out, axis=1) == np.argmax(Y, axis=1)))


def _accuracy(loss_name: str, out: np.ndarray, Y: np.ndarray) -> float:
    """Accuracy of the outputs ``out`` against encoded targets ``Y`` (exact match for multi-label)."""
    return _n_correct(loss_name, out, Y) / len(Y) if len(Y) else float("nan")


def _finite_in_float64(original: Any, shape: tuple[int, ...], index: np.ndarray) -> bool:
    """Whether ``original[index]`` is finite in float64 (so only the cast made it inf)."""
    try:
        return bool(np.isfinite(np.asarray(original, dtype=np.float64).reshape(shape)[tuple(index)]))
    except (TypeError, ValueError, OverflowError):
        return False


def activation_from_spec(spec: Any, units: int) -> ActivationLayer:
    """Build an activation layer from a name, an instance, or ``(name, params)``.

    A parameter given as the string ``"per_unit"`` (PReLU's ``num_parameters``)
    becomes the layer's number of units.
    """
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], dict):
            raise ConfigError(
                f"an activation given as a tuple is (name, params dict), got {spec!r}; "
                "give one activation per hidden layer as a list, e.g. ['relu', 'tanh']"
            )
        name, params = spec
        params = {k: (units if v == "per_unit" else v) for k, v in dict(params).items()}
        return ActivationLayer(name, **params)
    return ActivationLayer(spec)


#: rows checked at a time, so checking a memory-mapped X never needs memory for all of it
_CHECK_ROWS = 1024


def _targets_array(y: Any) -> np.ndarray:
    """``y`` as an array; ragged rows (which numpy cannot make one array of) are a DataError."""
    try:
        return np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise DataError(f"y must be labels or targets, one per sample: {exc}") from None


def _all_finite(X: np.ndarray) -> bool:
    """True when X has no NaN or inf; reads X in blocks of rows (no full-size temporary)."""
    return all(np.isfinite(X[i : i + _CHECK_ROWS]).all() for i in range(0, len(X), _CHECK_ROWS))


def _first_non_finite(X: np.ndarray) -> np.ndarray:
    """(row, column) of the first NaN/inf in X, searched block by block."""
    for i in range(0, len(X), _CHECK_ROWS):
        hits = np.argwhere(~np.isfinite(X[i : i + _CHECK_ROWS]))
        if len(hits):
            return hits[0] + (i, 0)
    raise AssertionError("no non-finite value")  # only called after _all_finite said False


def _negative_slope(act: Activation) -> float:
    """The slope below 0 that He initialisation's gain sqrt(2 / (1 + a^2)) should use:
    leaky ReLU's ``negative_slope``, PReLU's initial slope, RReLU's mean slope, else 0."""
    cfg = act.config()
    if "negative_slope" in cfg:
        return float(cfg["negative_slope"])
    if act.name == "prelu":
        return float(cfg.get("init", 0.25))
    if act.name == "rrelu":
        return (float(cfg["lower"]) + float(cfg["upper"])) / 2
    return 0.0


class MLP(Network):
    """A multilayer perceptron: dense layers with activations, a chosen output and loss.

    Args:
        sizes: units per layer, input first and output last, e.g. ``[784, 500, 500, 500, 10]``.
        activation: hidden activation (a catalog name, an instance, ``(name, params)``) or a
            list with one per hidden layer.
        output: output activation: ``"softmax"`` (multi-class), ``"sigmoid"`` (binary /
            multi-label) or ``"identity"`` (regression), or any catalog name.
        loss: the loss; defaults to the one natural for ``output`` (cross_entropy,
            binary_cross_entropy, mse).
        init: ``"he"``, ``"xavier"``, ``"lecun"`` or None to follow each layer's activation
            (He for the ReLU family, Xavier for tanh/sigmoid, LeCun for SELU).
        dtype: float32 (default, fast) or float64.
        seed: seed of the ``numpy.random.Generator`` that draws the weights and everything
            random in training (shuffling, RReLU slopes, dropout masks).
        dropout: the dropout rate after each hidden layer's activation (one rate for all,
            or a list with one per hidden layer; 0: none). Inverted dropout
            (:class:`relunet.core.layers.Dropout`): active in training only.
        input_dropout: the dropout rate on the inputs (0: none).
        l2: the L2 penalty ``lambda`` on the weights, scikit-learn's ``alpha`` (see
            :attr:`Network.l2` for the equation).
        max_norm: cap on the norm of each unit's incoming weights, applied after every
            training step (see :meth:`Network.apply_max_norm`); None: no cap.
        tree: for ``output="hierarchical_softmax"``, the tree over the classes
            (:mod:`relunet.core.tree`): ``"balanced"`` (default), ``"huffman"`` (built from
            the class frequencies of the first ``fit``), class counts (Huffman), a
            :class:`~relunet.core.tree.Tree` or its ``children`` pairs. The last layer then
            holds the tree's node vectors (:class:`~relunet.core.layers.TreeNodes`), the loss
            is ``hierarchical_nll``, and training scores only each target's path.

    Example:
        >>> net = MLP([2, 8, 1], activation="leaky_relu", output="sigmoid", seed=0)
        >>> hist = net.fit(X, y, epochs=500, batch_size=4, lr=0.5)   # doctest: +SKIP
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: Any = "relu",
        output: Any = "softmax",
        loss: "str | losses.Loss | None" = None,
        init: str | None = None,
        dtype: Any = np.float32,
        seed: int | None = 0,
        dropout: "float | Sequence[float]" = 0.0,
        input_dropout: float = 0.0,
        l2: float = 0.0,
        max_norm: float | None = None,
        tree: Any = None,
    ):
        try:
            given = list(sizes)
            sizes = [int(s) for s in given]
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"sizes must be a list of integers (units per layer), got {sizes!r}") from None
        if sizes != given or any(isinstance(s, (bool, np.bool_)) for s in given):
            # 2.5 units, "3", True: not silently truncated / parsed / counted as 1
            raise ConfigError(f"sizes must be integers (units per layer), got {given!r}")
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ConfigError(f"sizes must list at least input and output sizes, all >= 1; got {sizes}")
        if max(sizes) >= 2**31:  # beyond any memory (and numpy's dimension limit): say so plainly
            raise ConfigError(f"a layer of {max(sizes)} units cannot be built (no memory holds its weights); "
                              f"got sizes {sizes}")
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise ConfigError(f"dtype must be float32 or float64, not {dtype!r}") from None
        if dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, not {dtype}")
        n_hidden = len(sizes) - 2
        if isinstance(activation, list):
            if len(activation) != n_hidden:
                raise ConfigError(
                    f"{len(activation)} activations given for {n_hidden} hidden layers"
                )
            hidden_specs = list(activation)
        else:
            hidden_specs = [activation] * n_hidden
        out_name = output[0] if isinstance(output, tuple) else getattr(output, "name", output)
        hierarchical = isinstance(out_name, str) and activations.canonical_name(out_name) == "hierarchical_softmax"
        if loss is None:
            loss = losses.DEFAULT_LOSS.get(activations.canonical_name(out_name), "mse")
        if hierarchical and losses.get(loss).name != "hierarchical_nll":
            raise ConfigError("output='hierarchical_softmax' trains with loss='hierarchical_nll' (the exact "
                              f"negative log-likelihood of the tree), not {losses.get(loss).name!r}")
        if not hierarchical and losses.get(loss).name == "hierarchical_nll":
            raise ConfigError(f"loss='hierarchical_nll' is the loss of output='hierarchical_softmax' "
                              f"(the tree's path probabilities), not of output={out_name!r}")
        if tree is not None and not hierarchical:
            raise ConfigError(f"tree={tree!r} is the class tree of output='hierarchical_softmax' "
                              f"(CLI --tree needs --output hierarchical_softmax), not of output={out_name!r}")
        if hierarchical and sizes[-1] < 2:
            raise ConfigError(f"a hierarchical softmax needs at least 2 classes, got {sizes[-1]}")
        #: "huffman": the tree is built from the class counts of the first fit
        self.huffman_at_fit = hierarchical and isinstance(tree, str) and tree == "huffman"
        self.sizes = sizes
        self.seed = seed
        self.init = init
        try:
            self.rng = np.random.default_rng(seed)
        except (TypeError, ValueError):
            raise ConfigError(f"seed must be an integer >= 0 or None, got {seed!r}") from None
        self.activation_specs = hidden_specs + [output]
        self.dropout = _dropout_rates(dropout, n_hidden)
        self.input_dropout = _dropout_rates(input_dropout, 1, "input_dropout")[0]
        layers: list[Any] = []
        if self.input_dropout:
            layers.append(Dropout(self.input_dropout, self.rng))
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            act_layer = activation_from_spec(self.activation_specs[i], n_out)
            act = act_layer.activation
            scheme = init or act.init
            slope = _negative_slope(act) if scheme == "he" else 0.0
            W = initial_weights(scheme, n_in, n_out, self.rng, dtype, negative_slope=slope)
            if i == n_hidden and hierarchical:
                if act.tree is None:
                    act.tree = Tree.from_spec(None if self.huffman_at_fit else tree, n_out)
                layers += [TreeNodes(W, np.zeros(n_out, dtype=dtype), act.tree), act_layer]
            else:
                layers += [Dense(W, np.zeros(n_out, dtype=dtype)), act_layer]
            if hasattr(act, "rng"):
                act.rng = self.rng  # RReLU draws from the network's generator
            act.astype(dtype)  # PReLU's slope in the network's dtype
            if i < n_hidden and self.dropout[i]:
                layers.append(Dropout(self.dropout[i], self.rng))
        super().__init__(layers, loss)
        if hierarchical:
            self.loss.tree = self.output_activation.tree
        elif self.loss.name == "cross_entropy" and sizes[-1] >= losses.INDEX_TARGETS_FROM:
            self.loss.index_targets = True  # class indices, not one-hot rows of sizes[-1] values
        self.l2 = l2
        self.max_norm = _max_norm(max_norm)
        self.classes_: np.ndarray | None = None
        self.history_ = None
        #: the data contract (relunet.core.contract.DataContract) or None: when set, fit,
        #: predict, predict_proba and score take raw inputs and transform them as it says
        self.contract: Any = None

    def __repr__(self) -> str:
        acts = [l.activation.name for l in self.layers if isinstance(l, ActivationLayer)]
        extra = ""
        if any(self.regularization().values()):
            extra = "".join(f", {k}={v!r}" for k, v in self.regularization().items() if v)
        return (
            f"MLP({self.sizes}, activation={acts[:-1]}, output={acts[-1]!r}, "
            f"loss={self.loss.name!r}, dtype={self.dtype.name}{extra})"
        )

    @property
    def tree(self) -> Tree | None:
        """The hierarchical softmax's tree (None for other outputs)."""
        return getattr(self.output_activation, "tree", None) if self.loss.name == "hierarchical_nll" else None

    def build_huffman_tree(self, Y: np.ndarray) -> None:
        """For ``tree="huffman"`` not yet built: the Huffman tree of the class counts of the
        encoded targets ``Y`` (what the first ``fit`` does; ``relunet trace`` calls it before
        its step). A no-op otherwise."""
        if self.__dict__.get("huffman_at_fit"):
            counts = np.bincount(target_indices(Y, self.n_outputs), minlength=self.n_outputs)
            self.set_tree(Tree.huffman(counts))
            self.huffman_at_fit = False

    def set_tree(self, tree: Tree) -> None:
        """Give the hierarchical softmax another tree over the same classes (the node
        vectors stay: meant for an untrained network, as ``tree="huffman"`` does at fit)."""
        if self.tree is None or not isinstance(tree, Tree) or tree.n_classes != self.n_outputs:
            raise ConfigError(f"set_tree needs a hierarchical softmax network and a Tree over its "
                              f"{self.n_outputs} classes")
        self.output_activation.tree = tree
        self.layers[-2].tree = tree
        self.loss.tree = tree

    def regularization(self) -> dict[str, Any]:
        """The regularization settings: ``dropout`` (per hidden layer), ``input_dropout``,
        ``l2``, ``max_norm`` (what the model file stores)."""
        rates = self.__dict__.get("dropout") or [0.0] * (len(self.sizes) - 2)
        return {"dropout": list(rates) if any(rates) else 0.0,
                "input_dropout": self.__dict__.get("input_dropout", 0.0),
                "l2": self.l2, "max_norm": self.__dict__.get("max_norm")}

    # -- data checks and encoding -----------------------------------------
    @property
    def task(self) -> str:
        return self.loss.task

    def check_X(self, X: Any) -> np.ndarray:
        """Validate inputs and return them as a C-contiguous array of the network's dtype."""
        original = X
        try:
            complex_ = np.iscomplexobj(X)
        except (TypeError, ValueError) as exc:  # e.g. ragged rows: numpy cannot make an array
            raise DataError(f"X must be a 2-D array of numbers, one row per sample: {exc}") from None
        if complex_:
            raise DataError("X holds complex numbers; a network takes real-valued features")
        try:
            with np.errstate(over="ignore"):  # values beyond the dtype's range: reported below
                X = np.asarray(X, dtype=self.dtype)
        except (TypeError, ValueError) as exc:
            raise DataError(f"X must be numeric: {exc}") from None
        if X.ndim == 1 and self.n_features == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise DataError(f"X must be 2-D, shape (n_samples, n_features); got shape {X.shape}")
        if X.shape[1] != self.n_features:
            raise FeatureCountError(
                f"X has {X.shape[1]} features but the network takes {self.n_features}"
            )
        if len(X) == 0:
            raise DataError("X has no samples")
        if not _all_finite(X):
            bad = _first_non_finite(X)
            if _finite_in_float64(original, X.shape, bad):
                raise DataError(
                    f"X holds a value too large for {self.dtype.name} at row {bad[0]}, column {bad[1]} "
                    f"(the largest is {np.finfo(self.dtype).max:.3g}); rescale the inputs "
                    "(e.g. --scale standard) or use dtype float64"
                )
            raise DataError(
                f"X contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
                "clean or impute them first"
            )
        return np.ascontiguousarray(X)

    def encode_targets(self, y: Any, n_samples: int | None = None, fit: bool = True) -> np.ndarray:
        """Turn labels/targets into the ``shape (n_samples, n_outputs)`` array the loss takes.

        Classification (cross-entropy): integer or string labels, or one-hot rows.
        Binary cross-entropy: labels of two classes (one output) or a 0/1 matrix (multi-label).
        Regression (MSE): real values, ``shape (n_samples,)`` or ``(n_samples, n_outputs)``.
        With ``fit`` the class labels found are kept in ``classes_``; without, labels are
        looked up in the ``classes_`` of the last fit.
        """
        y = _targets_array(y)
        if y.ndim == 0:
            raise DataError(f"y must be labels or targets, one per sample; got {y!r}")
        if n_samples is not None and len(y) != n_samples:
            raise DataError(f"X has {n_samples} samples but y has {len(y)}")
        if y.dtype.kind == "c":
            raise TargetTypeError("y holds complex numbers; targets and labels must be real")
        if self.task == "regression":
            return self._encode_regression(y)
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise DataError("y contains NaN or infinite values")
        k = self.n_outputs
        if y.ndim == 2 and y.shape[1] == k and k > 1:
            return self._encode_matrix(y, fit)
        return self._encode_labels(y, fit)

    def _encode_regression(self, y: np.ndarray) -> np.ndarray:
        """Real targets as ``shape (n_samples, n_outputs)`` in the network's dtype."""
        k = self.n_outputs
        try:
            with np.errstate(over="ignore"):  # values beyond the dtype's range: reported below
                Y = y.astype(self.dtype)
        except (TypeError, ValueError):
            raise TargetTypeError("a regression target must be numeric") from None
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.shape[1] != k:
            hint = ""
            if Y.shape[1] == 1 and k > 1 and np.all(Y == np.round(Y)):
                hint = (f"; class labels with the regression loss {self.loss.name!r} must be one-hot "
                        f"encoded (shape (n_samples, {k})), or use loss='cross_entropy'")
            raise DataError(f"y has {Y.shape[1]} outputs but the network has {k}{hint}")
        if not np.isfinite(Y).all():
            if y.dtype.kind in "iuf" and np.isfinite(y).all():
                raise DataError(
                    f"y holds a value too large for {self.dtype.name} (the largest is "
                    f"{np.finfo(self.dtype).max:.3g}); rescale the targets or use dtype float64"
                )
            raise DataError("y contains NaN or infinite values")
        return Y

    def _encode_matrix(self, y: np.ndarray, fit: bool) -> np.ndarray:
        """A 0/1 matrix with one column per output: one-hot rows or multi-label targets."""
        k = self.n_outputs
        if not np.isin(y, (0, 1)).all():
            raise TargetTypeError(
                "a 2-D classification target must hold 0/1 values (one-hot or multi-label)"
            )
        if self.loss.name in ("cross_entropy", "hierarchical_nll") and not (y.sum(axis=1) == 1).all():
            raise TargetTypeError("one-hot rows for cross-entropy must each hold exactly one 1")
        if fit:
            self.classes_ = np.arange(k)
        if self.loss.index_targets:
            return np.argmax(y, axis=1).astype(self.dtype)[:, None]
        return y.astype(self.dtype)

    def _encode_labels(self, y: np.ndarray, fit: bool) -> np.ndarray:
        """Class labels, one per sample: one-hot rows, or a 0/1 column for one sigmoid unit."""
        k = self.n_outputs
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise DataError(f"y must be 1-D labels or a 2-D target; got shape {y.shape}")
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise TargetTypeError(
                "y holds non-integer real values, which is a regression target, but this network "
                f"is a classifier (loss {self.loss.name!r}); use output='identity' with loss='mse' "
                "for regression, or pass class labels"
            )
        # A trained network keeps its classes: output unit i means classes_[i] for good, so
        # training it further (fit again, fine-tuning) on labels of a subset is fine and a
        # label it was never trained on is an error, never a silent renaming of the units.
        trained = self.classes_ is not None
        if trained:
            classes = self.classes_
        else:
            classes = self._classes_of(y)
            if fit:
                self.classes_ = classes
        try:
            idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
            known = classes[idx] == y
        except TypeError:  # labels of another type (strings against numbers)
            known = np.zeros(len(y), dtype=bool)
        if not np.all(known):
            seen = set(classes.tolist())
            unknown = [v for v in np.unique(y.astype(object)).tolist() if v not in seen]
            raise TargetTypeError(
                f"y holds labels the network was not trained on: {unknown[:5]}; its classes are "
                f"{classes[:10].tolist()} (a new MLP learns another set of classes)"
            )
        if (self.loss.name == "binary_cross_entropy" and k == 1) or self.loss.index_targets:
            return idx.astype(self.dtype)[:, None]
        Y = np.zeros((len(y), k), dtype=self.dtype)
        Y[np.arange(len(y)), idx] = 1
        return Y

    def _classes_of(self, y: np.ndarray) -> np.ndarray:
        """The sorted class labels of 1-D labels ``y``: ``0..K-1`` for integer labels in
        that range (so absent classes keep their index), else the distinct labels found."""
        k = self.n_outputs
        try:
            found = np.unique(y)
        except TypeError:  # e.g. numbers and strings mixed in an object array
            raise TargetTypeError(
                "y mixes labels of different types (e.g. numbers and strings); give labels of one type"
            ) from None
        n_classes_net = 2 if (self.loss.name == "binary_cross_entropy" and k == 1) else k
        if len(found) > n_classes_net:
            if n_classes_net == 1 and len(found) == 2:  # one unit, a loss that is not BCE
                hint = ("one output unit separates two classes with binary cross-entropy "
                        "(output='sigmoid', loss='binary_cross_entropy'), or give it two units "
                        "(output='softmax', loss='cross_entropy')")
            else:
                hint = (f"with {len(found)} distinct values this may be a regression target (use "
                        "output='identity', loss='mse'), or give the output layer more units")
            raise TargetTypeError(
                f"y has {len(found)} distinct classes but the network's output can represent "
                f"{n_classes_net}; {hint}"
            )
        if y.dtype.kind in "iuf" and found.min() >= 0 and found.max() < n_classes_net:
            classes = np.arange(n_classes_net)
        else:
            classes = found
        if len(classes) < n_classes_net:
            # e.g. string labels {"a","b"} with 2 outputs: fine; fewer: pad is ambiguous
            # (one sigmoid unit with a single label other than 0/1: which is the other class?)
            raise TargetTypeError(
                f"y has {len(classes)} class{'es' if len(classes) != 1 else ''} "
                f"({', '.join(map(repr, classes[:5].tolist()))}) but the network's output "
                f"represents {n_classes_net}; give samples of every class (integer labels "
                f"0..{n_classes_net - 1} name the classes even when some are absent)"
            )
        return classes

    # -- estimator API -----------------------------------------------------
    def fit(self, X: Any, y: Any, **kwargs: Any):
        """Train by gradient descent; returns the :class:`relunet.training.History`.

        Args:
            X: ``shape (n_samples, n_features)``.
            y: labels (classification) or targets (regression), see :meth:`encode_targets`.
            **kwargs: passed to :func:`relunet.training.fit`: ``epochs``, ``batch_size``
                (1 = online learning, an int = mini-batch, None or n_samples = full batch),
                ``lr``, ``optimizer``, ``schedule``, ``shuffle``, ``verbose``,
                ``validation_data`` (raw ``(X_val, y_val)``, encoded here), ``validation_split``,
                ``early_stopping``, ``callbacks``, ``checkpoint``, ``resume``, ...; ``l2`` and
                ``max_norm`` set the network's (see :class:`MLP`) before training.
        """
        from relunet.training.engine import fit as _fit

        if "l2" in kwargs:
            self.l2 = kwargs.pop("l2")
        if "max_norm" in kwargs:
            self.max_norm = _max_norm(kwargs.pop("max_norm"))
        contract = getattr(self, "contract", None)
        if contract is not None:
            X = contract.transform(X)
            y = contract.transform_target(y) if self.task == "regression" else y
        X = self.check_X(X)
        Y = self.encode_targets(y, len(X), fit=True)
        self.build_huffman_tree(Y)
        self.check_trainable()
        self.check_pairing()
        val = kwargs.get("validation_data")
        if val is not None:  # raw (X_val, y_val): validated and encoded like the training data
            if not isinstance(val, (tuple, list)) or len(val) != 2:
                raise DataError("validation_data must be a pair (X_val, y_val)")
            X_val = self.check_X(val[0] if contract is None else contract.transform(val[0]))
            y_val = val[1]
            if contract is not None and self.task == "regression":
                y_val = contract.transform_target(y_val)
            kwargs["validation_data"] = (X_val, self.encode_targets(y_val, len(X_val), fit=False))
        self.history_ = _fit(self, X, Y, **kwargs)
        return self.history_

    def predict_output(self, X: Any) -> np.ndarray:
        """The raw network output (probabilities for classifiers), in evaluation mode.

        The mode is an argument of the pass, not a switch of the network: predicting never
        changes ``net.training``, and threads may predict with one network at the same time
        (also while another thread trains it in training mode; the weights they see are then
        those of the moment).
        """
        if getattr(self, "contract", None) is not None:
            X = self.contract.transform(X)
        X = self.check_X(X)
        # NOTE: an overflow inside the pass gives inf/NaN outputs, which check_finite_output
        # reports with its cause; NumPy's warnings on the way (inf - inf in softmax) are noise
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.forward(X, training=False)
        return check_finite_output(out, X, self.parameters())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``shape (n_samples, n_classes)``."""
        if self.task != "classification":
            raise ConfigError("predict_proba is for classifiers; this network does regression")
        p = self.predict_output(X)
        if self.loss.name == "binary_cross_entropy" and p.shape[1] == 1:
            return np.hstack([1 - p, p])
        return p

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (classification) or values (regression)."""
        out = self.predict_output(X)
        if self.task == "regression":
            if getattr(self, "contract", None) is not None:  # a standardised target back in its units
                out = self.contract.inverse_target(out)
            return out[:, 0] if out.shape[1] == 1 else out
        if self.classes_ is None:
            raise NotFittedError("call fit before predict: the class labels are not known yet")
        if self.loss.name == "binary_cross_entropy":
            if out.shape[1] == 1:
                return self.classes_[(out[:, 0] > 0.5).astype(int)]
            return (out > 0.5).astype(int)  # multi-label
        return self.classes_[np.argmax(out, axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classification; exact match for multi-label) or R^2 (regression).

        Raises:
            TargetTypeError: class labels of another type than ``classes_`` or labels the
                network was never trained on, named (:func:`relunet.core.checks.check_labels`).
        """
        pred = self.predict(X)
        y = _targets_array(y)
        if y.ndim == 0 or len(y) != len(pred):
            raise DataError(f"X has {len(pred)} samples but y has {len(y) if y.ndim else 'none'}")
        if y.dtype.kind == "c":
            raise TargetTypeError("y holds complex numbers; targets and labels must be real")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise DataError("y contains NaN or infinite values")
        if self.task == "classification" and self.classes_ is not None:
            y = check_labels(y, self.classes_)  # an unseen label is an error naming it, not a wrong answer
        if self.task == "regression":
            if y.size != pred.size:
                raise DataError(f"y has shape {y.shape} but the network predicts shape {pred.shape}")
            try:
                y = y.reshape(pred.shape).astype(np.float64)
            except (TypeError, ValueError):
                raise TargetTypeError("a regression target must be numeric") from None
            if not np.isfinite(y).all():
                raise DataError("y contains NaN or infinite values")
            p = pred.astype(np.float64)
            # R^2 is scale-free: divide by the largest magnitude first, so that squaring
            # targets like 1e200 does not overflow
            scale = max(float(np.max(np.abs(y))), float(np.max(np.abs(p))))
            if np.isfinite(scale) and scale > 0:
                y, p = y / scale, p / scale
            ss_res = np.sum((y - p) ** 2)
            ss_tot = np.sum((y - y.mean(axis=0)) ** 2)
            return float(1 - ss_res / ss_tot) if ss_tot > 0 else 0.0
        if y.ndim == 2 and y.shape[1] > 1 and pred.ndim == 1 and y.shape[1] != len(self.classes_):
            raise DataError(
                f"y has {y.shape[1]} columns; one-hot targets for this network have {len(self.classes_)}"
            )
        if pred.ndim == 2:  # multi-label (binary cross-entropy over several outputs)
            if y.ndim == 1:  # labels, one per sample: as fit encodes them (one-hot rows)
                y = self.encode_targets(y, len(y), fit=False)
            return float(np.mean(np.all(pred == y, axis=1)))
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot targets
            y = self.classes_[np.argmax(y, axis=1)]
        return float(np.mean(pred == y.reshape(pred.shape)))

    # -- files and export --------------------------------------------------
    def save(self, path: Any) -> None:
        """Write architecture + weights to one safe file (see :mod:`relunet.io.modelfile`)."""
        from relunet.io.modelfile import save

        save(self, path)

    def to_onnx(self, path: Any, **options: Any) -> None:
        """Export the inference graph to ONNX (see :mod:`relunet.interop.onnx`)."""
        from relunet.interop.onnx import export

        export(self, path, **options)


def _dropout_rates(value: Any, n: int, what: str = "dropout") -> list[float]:
    """``n`` dropout rates from one rate or a list of ``n``; each in ``[0, 1)``."""
    if isinstance(value, (list, tuple, np.ndarray)):
        rates = list(value)
        if len(rates) != n:
            raise ConfigError(f"{len(rates)} {what} rates given for {n} hidden layers")
    else:
        rates = [value] * n
    return [check_number(f"{what} (the probability of dropping a unit)", r, high=1.0, high_open=True)
            for r in rates]


def _max_norm(value: Any) -> float | None:
    """A max-norm cap: None, or a finite number > 0."""
    return None if value is None else check_number("max_norm", value, low_open=True)


def output_for(task: str, n_outputs: int, output: str = "auto") -> tuple[str, int]:
    """The output activation and number of output units for a task.

    ``output="auto"`` picks the natural one: ``identity`` for regression, one ``sigmoid``
    unit for two classes (binary cross-entropy), ``softmax`` over K units for K > 2 classes.
    An explicit output other than softmax for two classes also gets a single unit (sigmoid
    + BCE, or e.g. a ReLU output regressing the 0/1 labels with MSE).

    Args:
        task: ``"classification"`` or ``"regression"``.
        n_outputs: classes (classification) or target columns (regression).
        output: ``"auto"`` or an activation name.

    Returns:
        ``(canonical activation name, units)``.
    """
    if output == "auto":
        if task == "regression":
            return "identity", n_outputs
        if n_outputs == 2:
            return "sigmoid", 1
        return "softmax", n_outputs
    name = activations.canonical_name(output)
    if task == "classification" and n_outputs == 2 and name not in ("softmax", "hierarchical_softmax"):
        return name, 1  # one unit for two classes: sigmoid + BCE, or labels regressed (e.g. MSE)
    return name, n_outputs
