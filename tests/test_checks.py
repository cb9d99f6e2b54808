"""relunet.core.checks: the argument checks the catalogs share, writeable parameters, class labels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from relunet.core.checks import check_labels, check_number
from relunet.errors import ConfigError, TargetTypeError


@pytest.mark.parametrize("value, options, message", [
    (True, {}, "lr must be a number, not True"),
    ("x", {}, "lr must be a number, not 'x'"),
    (-1, {}, r"lr must be a finite number in \[0.0, inf\), got -1"),
    (0, {"low_open": True}, r"in \(0.0, inf\), got 0"),
    (1.0, {"high": 1.0, "high_open": True}, r"in \[0.0, 1.0\), got 1.0"),
    (math.nan, {}, "got nan"),
])
def test_check_number_rejects(value, options, message):
    with pytest.raises(ConfigError, match=message):
        check_number("lr", value, **options)


def test_check_number_accepts():
    assert check_number("lr", 1) == 1.0 and isinstance(check_number("lr", np.float32(0.5)), float)
    assert check_number("alpha", 1.0, high=1.0) == 1.0


def test_whole_numbers_are_those_int64_holds_exactly():
    from relunet.core.checks import whole_numbers

    assert whole_numbers(np.array([0.0, -3.0, 2.0**53]))
    assert not whole_numbers(np.array([0.0, 2.0**53 + 2]))  # whole, but beyond exact integers
    assert not whole_numbers(np.array([1e300])) and not whole_numbers(np.array([0.5]))
    assert not whole_numbers(np.array([np.nan])) and not whole_numbers(np.array([np.inf]))


def test_check_labels_accepts_integral_floats_for_integer_classes():
    np.testing.assert_array_equal(check_labels(np.array([0.0, 2.0]), np.array([0, 1, 2])), [0, 2])
    with pytest.raises(TargetTypeError, match="numbers"):
        check_labels(np.array([0, 1]), np.array(["no", "yes"]))


def test_check_labels_reads_an_object_array_of_numbers_as_numbers():
    """Integer labels held in an object array (a pandas column of dtype object, or classes_
    of a model fitted on one) are numbers, not text: they were refused as 'text ([...])'."""
    ints = np.array([0, 1, 1], dtype=object)
    np.testing.assert_array_equal(check_labels(ints, np.array([0, 1])), [0, 1, 1])
    np.testing.assert_array_equal(check_labels(np.array([0, 1, 1]), np.array([0, 1], dtype=object)), [0, 1, 1])
    np.testing.assert_array_equal(check_labels(np.array([1.0, 0.0], dtype=object), np.array([0, 1])), [1, 0])
    with pytest.raises(TargetTypeError, match=r"label\(s\) \[2\] were never seen"):
        check_labels(np.array([0, 2], dtype=object), np.array([0, 1]))
    with pytest.raises(TargetTypeError, match="the labels are text"):
        check_labels(np.array(["a", 1], dtype=object), np.array([0, 1]))
    words = np.array(["cat", "dog"], dtype=object)
    np.testing.assert_array_equal(check_labels(words, np.array(["cat", "dog"])), words)


def test_check_labels_checks_a_column_of_labels_as_labels():
    """``y`` of shape (n, 1) is checked as its labels (it passed unchecked: an unseen class,
    or text for integer classes, counted as wrong); its shape is kept."""
    np.testing.assert_array_equal(check_labels(np.array([[1.0], [0.0]]), np.array([0, 1])), [[1], [0]])
    with pytest.raises(TargetTypeError, match=r"label\(s\) \[7\] were never seen"):
        check_labels(np.array([[0], [7]]), np.array([0, 1]))
    with pytest.raises(TargetTypeError, match="the labels are text"):
        check_labels(np.array([["0"], ["1"]]), np.array([0, 1]))
    np.testing.assert_array_equal(check_labels(np.eye(3), np.array([0, 1, 2])), np.eye(3))  # one-hot rows: as they are


def test_check_labels_calls_boolean_classes_booleans():
    classes = np.array([False, True])
    with pytest.raises(TargetTypeError, match=r"the labels are text \(\['a', 'b'\]\) but the model's classes are "
                                              r"booleans \(\[False, True\]\)"):
        check_labels(np.array(["a", "b"]), classes)
    with pytest.raises(TargetTypeError, match=r"the labels are booleans .* classes are text"):
        check_labels(np.array([True, False]), np.array(["no", "yes"]))
    np.testing.assert_array_equal(check_labels(np.array([True, False]), classes), [True, False])


def test_duplicates_are_the_names_given_more_than_once_sorted():
    from relunet.core.checks import duplicates

    assert duplicates(["b", "a", "c", "b", "a", "b"]) == ["a", "b"]
    assert duplicates([]) == [] and duplicates(["x", "y"]) == []
    wide = [f"c{i}" for i in range(200_000)] + ["c7", "c199999"]  # linear time: list.count per name took minutes
    assert duplicates(wide) == ["c199999", "c7"]
