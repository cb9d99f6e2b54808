"""The hierarchical softmax end to end: the tree (relunet.core.tree), its layer
(TreeNodes) and loss (hierarchical_nll) in the network's one training path; gradients by
finite differences (float64) and by torch autograd; exact probabilities; save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import relunet
from relunet.core import losses
from relunet.core.layers import SCATTER_METHODS, TreeNodes, scatter_rows
from relunet.core.tree import Tree, target_indices
from relunet.errors import ConfigError, DataError, ModelFileError

RNG = np.random.default_rng(0)


def _paths_by_walking(tree: Tree) -> dict[int, list[tuple[int, int]]]:
    """Each class's (node, sign) path found by walking the children from the root."""
    out: dict[int, list[tuple[int, int]]] = {}

    def walk(node, path):
        for k, sign in ((0, 1), (1, -1)):
            child = int(tree.children[node, k])
            step = path + [(node, sign)]
            if child >= 0:
                walk(child, step)
            else:
                out[-child - 1] = step
    walk(0, [])
    return out


TREES = [Tree.balanced(2), Tree.balanced(7), Tree.balanced(64), Tree.huffman([5, 1, 1, 3, 10, 0, 2]),
         Tree.huffman(RNG.zipf(1.5, 300)), Tree([[-1, 1], [-2, 2], [-3, 3], [-4, -5]])]


@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_paths_match_a_walk_of_the_tree_and_probabilities_sum_to_one(tree):
    walked = _paths_by_walking(tree)
    assert sorted(walked) == list(range(tree.n_classes))
    for c, path in walked.items():
        d = tree.depth[c]
        assert d == len(path)
        assert [(int(j), int(t)) for j, t in zip(tree.nodes[c, :d], tree.signs[c, :d])] == path
        assert np.all(tree.signs[c, d:] == 0) and np.all(tree.nodes[c, d:] == tree.n_nodes)  # padding
    s = RNG.standard_normal((5, tree.n_classes)) * 4
    logp = tree.log_proba(s)
    direct = np.array([[sum(-np.logaddexp(0, -t * s[n, j]) for j, t in walked[c]) for c in range(tree.n_classes)]
                       for n in range(5)])
    np.testing.assert_allclose(logp, direct, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_probabilities_are_finite_and_sum_to_one_for_huge_scores():
    tree = Tree.balanced(50)
    s = np.array([np.full(50, 1e30), np.full(50, -1e30), np.linspace(-1e4, 1e4, 50)])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = np.exp(tree.log_proba(s))
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert p[0, 0] == 1.0 and p[1, -1] == 1.0  # always left / always right


def test_huffman_gives_frequent_classes_short_paths_and_beats_balanced_on_average():
    counts = np.array([1000, 500, 100, 50, 10, 5, 1, 1, 1, 1])
    tree = Tree.huffman(counts)
    assert tree.depth[0] == 1 and tree.depth[0] <= tree.depth[-1]
    assert tree.mean_depth(counts) < Tree.balanced(10).mean_depth(counts)
    entropy = -np.sum(counts / counts.sum() * np.log2(counts / counts.sum()))
    assert entropy <= tree.mean_depth(counts) < entropy + 1
    assert np.array_equal(Tree.huffman(counts).children, tree.children)  # deterministic


@pytest.mark.parametrize("children,match", [
    ([[-1, -1]], "exactly once"),
    ([[-1, 1], [-2, 0]], "parents|after its parent"),
    ([[1, -1], [-2, 5]], "after its parent|nodes"),
    ([[-1, -2, -3]], "shape"),
    ([], "shape"),
    ("abc", "integer pairs|shape"),
])
def test_a_bad_tree_is_a_config_error(children, match):
    with pytest.raises(ConfigError, match=match):
        Tree(children)


def test_bad_counts_and_sizes():
    with pytest.raises(DataError, match="finite"):
        Tree.huffman([1.0, np.nan, 2.0])
    with pytest.raises(ConfigError, match="at least 2"):
        Tree.balanced(1)
    with pytest.raises(ConfigError, match="tree has 3 classes"):
        Tree.from_spec(Tree.balanced(3), 4)
    with pytest.raises(ConfigError, match="balanced"):
        Tree.from_spec("random", 4)
    with pytest.raises(DataError, match="0..2"):
        target_indices(np.array([[3.0]]), 3)
    with pytest.raises(DataError, match="one count per class"):
        Tree.huffman([[1, 2], [3, 4]])  # not 4 classes
    with pytest.raises(DataError, match="numbers"):
        Tree.huffman(["a", "b"])


# -- the loss and the layer ----------------------------------------------------------------


def _net(tree="balanced", sizes=(5, 6, 9), seed=1, **kw):
    net = relunet.MLP(list(sizes), output="hierarchical_softmax", dtype=np.float64, seed=seed, tree=tree, **kw)
    rng = np.random.default_rng(seed)
    for layer in net.dense_layers:
        layer.b[...] = rng.standard_normal(layer.b.shape)
    return net


def _fd_gradient(net, X, Y, h=1e-6):
    theta = net.flat_parameters()
    num = np.zeros_like(theta)
    for i in range(len(theta)):
        for sign in (1, -1):
            t = theta.copy()
            t[i] += sign * h
            net.set_flat_parameters(t)
            num[i] += sign * net.loss_value(X, Y) / (2 * h)
    net.set_flat_parameters(theta)
    return num


@pytest.mark.parametrize("tree", ["balanced", Tree.huffman([9, 1, 3, 3, 2, 8, 1, 1, 4])], ids=["balanced", "huffman"])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_fast_path_gradient_matches_finite_differences_and_the_full_pass(tree, l2):
    net = _net(tree, l2=l2)
    X = RNG.standard_normal((7, 5))
    Y = net.encode_targets(RNG.integers(0, 9, 7))
    assert Y.shape == (7, 1)
    value = net.loss_and_gradients(X, Y)  # the training fast path: scores only the paths
    fast = net.flat_gradients()
    np.testing.assert_allclose(fast, _fd_gradient(net, X, Y), rtol=1e-6, atol=1e-8)
    z = net.logits(X)  # the full pass: every node score, the delta non-zero on the paths only
    assert z.shape == (7, 9)
    full_value, delta = net.loss_and_delta(z, Y)
    net.backward(delta)
    np.testing.assert_allclose(net.flat_gradients(), fast, rtol=1e-12, atol=1e-14)
    assert value == pytest.approx(full_value, rel=1e-13)
    assert np.count_nonzero(delta) <= 7 * net.tree.nodes.shape[1]


def test_gradient_matches_torch_autograd():
    net = _net(Tree.huffman([4, 2, 7, 1, 1, 9, 3, 2, 5]))
    X = RNG.standard_normal((6, 5))
    y = RNG.integers(0, 9, 6)
    Y = net.encode_targets(y)
    value = net.loss_and_gradients(X, Y)
    tree = net.tree
    W1, b1, W2, b2 = (torch.tensor(p, requires_grad=True) for p in net.parameters())
    scores = F.relu(torch.tensor(X) @ W1 + b1) @ W2 + b2
    nodes, signs = torch.as_tensor(tree.nodes[y]), torch.as_tensor(tree.signs[y])
    margins = torch.gather(scores, 1, nodes) * signs
    loss = -(F.logsigmoid(margins) * (signs != 0)).sum() / len(y)
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-13)
    for mine, theirs in zip(net.gradients(), (W1, b1, W2, b2)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_the_padding_node_vector_is_zero_so_l2_matches_a_tree_of_v_minus_1_node_vectors():
    """Column V - 1 of the node layer is never on a path: it starts at zero and stays there,
    so the L2 term (and the reported loss) is the one of the V - 1 real node vectors."""
    net = _net(Tree.huffman([4, 2, 7, 1, 1, 9, 3, 2, 5]), l2=0.7)
    assert not net.layers[-2].W[:, -1].any()
    X = RNG.standard_normal((6, 5))
    y = RNG.integers(0, 9, 6)
    Y = net.encode_targets(y)
    value = net.loss_and_gradients(X, Y)
    W1, b1, W2, b2 = (torch.tensor(p) for p in net.parameters())
    W2 = W2[:, :-1]  # a direct implementation: one node vector per inner node
    scores = F.relu(torch.tensor(X) @ W1 + b1) @ W2 + b2[:-1]
    nodes, signs = torch.as_tensor(net.tree.nodes[y]), torch.as_tensor(net.tree.signs[y])
    real = signs != 0
    margins = torch.gather(scores, 1, torch.where(real, nodes, 0)) * signs
    nll = -(F.logsigmoid(margins) * real).sum() / len(y)
    penalty = 0.7 / (2 * len(y)) * ((W1 ** 2).sum() + (W2 ** 2).sum())
    assert value == pytest.approx((nll + penalty).item(), rel=1e-13)
    opt = relunet.training.optimizers.get("adam", lr=0.05, weight_decay=0.1)
    for _ in range(3):
        net.train_step(X, Y, opt)
    assert not net.layers[-2].W[:, -1].any()


@pytest.mark.parametrize("method", SCATTER_METHODS)
def test_every_scatter_method_sums_the_node_gradients(method):
    nodes = np.array([3, 1, 3, 0, 1, 3])
    ds = np.array([1.0, 2.0, -1.0, 0.5, 1.0, 2.0])
    x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # depth 2: samples 0, 0, 1, 1, 2, 2
    rows, g, gb = scatter_rows(nodes, ds, x, 2, method)
    assert rows.tolist() == [0, 1, 3]
    np.testing.assert_allclose(gb, [0.5, 3.0, 2.0])
    np.testing.assert_allclose(g, [[1.5, 2.0], [7.0, 10.0], [8.0, 10.0]])
    with pytest.raises(ConfigError, match="scatter"):
        scatter_rows(nodes, ds, x, 2, "bincount?")


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop", "adagrad"])
def test_optimizers_update_the_node_vectors_like_the_full_pass(optimizer):
    """Each optimizer after the fast path equals the same optimizer after the full pass."""
    X = RNG.standard_normal((16, 5))
    y = RNG.integers(0, 9, 16)
    fast, full = _net(), _net()
    Y = fast.encode_targets(y)
    full.encode_targets(y)
    o1, o2 = (relunet.training.optimizers.get(optimizer, lr=0.05) for _ in range(2))
    for _ in range(3):
        fast.train_step(X, Y, o1)
        full.loss_and_delta(full.logits(X), Y)  # full-pass gradients, then the optimizer
        _, delta = full.loss_and_delta(full.logits(X), Y)
        full.backward(delta)
        o2.step(full.parameters(), full.gradients())
    for a, b in zip(fast.parameters(), full.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_sgd_touches_only_the_paths_node_vectors():
    net = _net(sizes=(5, 6, 40))
    layer = net.layers[-2]
    assert isinstance(layer, TreeNodes) and layer.W.T.flags.c_contiguous
    before = layer.W.copy()
    y = np.array([0, 1])
    net.train_step(RNG.standard_normal((2, 5)), net.encode_targets(y), relunet.training.optimizers.get("sgd", lr=0.1))
    changed = np.flatnonzero(np.any(layer.W != before, axis=0))
    on_paths = np.unique(net.tree.nodes[y][net.tree.signs[y] != 0])
    assert set(changed) <= set(on_paths) and len(changed) > 0


def test_loss_alone_accepts_one_hot_rows_and_matches_the_path_form():
    loss = losses.get("hierarchical_nll")
    z = RNG.standard_normal((4, 6))
    y = np.array([0, 5, 2, 2])
    v1, d1 = loss.value_and_delta_from_logits(z, np.eye(6)[y])
    v2, d2 = loss.value_and_delta_from_logits(z, y[:, None].astype(float))
    assert v1 == v2 and np.array_equal(d1, d2)
    p = relunet.activations.get("hierarchical_softmax").fn(z)
    assert v1 == pytest.approx(loss.value(p, y[:, None]), rel=1e-12)
    assert v1 == pytest.approx(-np.mean(np.log(p[np.arange(4), y])), rel=1e-12)


# -- the network: predictions, training, files ------------------------------------------------


def test_predict_proba_is_exact_and_predict_is_its_argmax():
    net = relunet.MLP([4, 8, 300], output="hierarchical_softmax", seed=0)
    net.classes_ = np.arange(300)
    for layer in net.dense_layers:
        layer.W *= 40  # large logits
    X = RNG.standard_normal((20, 4)).astype(np.float32)
    p = net.predict_proba(X)
    assert p.shape == (20, 300) and np.isfinite(p).all()
    np.testing.assert_allclose(p.astype(np.float64).sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(net.predict(X), np.argmax(p, axis=1))


def test_digits_reach_95_percent_test_accuracy():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    net = relunet.MLP([64, 128, 10], output="hierarchical_softmax", tree="huffman", seed=0)
    net.fit(X_tr, y_tr, epochs=40, batch_size=32, optimizer="adam", lr=0.003)
    assert net.score(X_te, y_te) >= 0.95


def test_string_labels_and_huffman_at_fit():
    X = RNG.standard_normal((60, 3))
    y = np.array(["a"] * 40 + ["b"] * 12 + ["c"] * 8)
    net = relunet.MLP([3, 5, 3], output="hierarchical_softmax", tree="huffman", seed=0)
    net.fit(X, y, epochs=2, batch_size=8)
    assert net.tree.depth[0] == 1  # "a", the most frequent, sits next to the root
    assert set(net.predict(X)) <= {"a", "b", "c"}


def test_config_errors_name_the_problem():
    with pytest.raises(ConfigError, match="hierarchical_nll"):
        relunet.MLP([3, 4], output="hierarchical_softmax", loss="mse")
    with pytest.raises(ConfigError, match="tree has 5 classes"):
        relunet.MLP([3, 4], output="hierarchical_softmax", tree=Tree.balanced(5))
    with pytest.raises(ConfigError, match="balanced"):
        relunet.MLP([3, 4], output="hierarchical_softmax", tree="random")
    with pytest.raises(ConfigError, match="tree='huffman'.*output='softmax'"):
        relunet.MLP([3, 4], output="softmax", tree="huffman")
    with pytest.raises(ConfigError, match="hierarchical_nll.*output='softmax'"):
        relunet.MLP([3, 4], output="softmax", loss="hierarchical_nll")
    net = relunet.MLP([3, 4], output="hierarchical_softmax")
    with pytest.raises(DataError, match="represents 4"):
        net.fit(RNG.standard_normal((3, 3)), [0, 1, 7])


def test_save_load_round_trip_keeps_the_tree(tmp_path):
    counts = [30, 1, 5, 9, 2, 2, 7]
    net = relunet.MLP([4, 6, 7], output="hierarchical_softmax", tree=Tree.huffman(counts), seed=0)
    X = RNG.standard_normal((30, 4))
    net.fit(X, RNG.integers(0, 7, 30), epochs=2, batch_size=8)
    net.save(tmp_path / "m.relunet")
    loaded = relunet.load(tmp_path / "m.relunet")
    assert np.array_equal(loaded.tree.children, net.tree.children)
    assert loaded.layers[-2].W.T.flags.c_contiguous
    assert np.array_equal(loaded.predict_proba(X), net.predict_proba(X))
    loaded.fit(X, RNG.integers(0, 7, 30), epochs=1, batch_size=8)  # trains on after loading


def test_a_tampered_tree_in_a_model_file_is_refused(tmp_path):
    from relunet.io.archive import read_archive, write_archive
    from relunet.io import modelfile

    net = relunet.MLP([4, 6, 5], output="hierarchical_softmax", seed=0)
    meta, arrays = modelfile.describe(net)
    meta["activations"][-1]["config"]["children"][0] = [-1, -1]
    write_archive(tmp_path / "bad.relunet", modelfile.KIND, meta, arrays)
    with pytest.raises(ModelFileError, match="exactly once"):
        relunet.load(tmp_path / "bad.relunet")
    assert read_archive  # (the archive module is the model file's writer)


def test_onnx_export_gives_the_exact_probabilities(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net = relunet.MLP([4, 6, 11], output="hierarchical_softmax", tree=Tree.huffman(np.arange(1, 12)), seed=0)
    net.classes_ = np.arange(11)
    X = RNG.standard_normal((9, 4)).astype(np.float32)
    net.to_onnx(tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": X})[0]
    np.testing.assert_allclose(got, net.predict_output(X), atol=1e-6)


def test_last_batch_correct_scores_every_class_after_the_path_only_step():
    net = _net(sizes=(5, 6, 9))
    X = RNG.standard_normal((12, 5))
    y = RNG.integers(0, 9, 12)
    Y = net.encode_targets(y)
    net.train_step(X, Y, relunet.training.optimizers.get("sgd", lr=0.1))
    expected = int(np.sum(np.argmax(net.forward(X, training=False), axis=1) == y))
    assert net.last_batch_correct(Y) == expected
    h = net.fit(X, y, epochs=2, batch_size=4)
    assert "accuracy" not in h.records[-1]  # fit does not pay this count (see test_training.py)


def test_a_tree_output_says_its_batch_count_is_not_cheap():
    assert not _net().counts_batch_correct
    assert relunet.MLP([5, 6, 9], output="softmax", seed=0).counts_batch_correct
    assert relunet.MLP([5, 9], output="hierarchical_softmax", seed=0).counts_batch_correct is False
