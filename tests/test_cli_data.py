"""`relunet data` on the command line."""

import pytest

from relunet.cli import main
from cli_helpers import run_cli as _run, usage_error as _usage_error


def test_data_fetch_timeout_must_be_positive(capsys, tmp_path):
    for t in ("0", "-1", "nan"):
        _usage_error(capsys, ["data", "fetch", "mnist", "--data-dir", str(tmp_path), "--timeout", t], "--timeout")


def _labelled_csv(tmp_path, counts):
    """A table whose label column holds class ``c`` ``counts[c]`` times (data info counts
    the training part of its split)."""
    rows = [f"{i % 7},{i % 3},c{c:02d}" for c, n in enumerate(counts) for i in range(n)]
    path = tmp_path / "many.csv"
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    return str(path)


def test_data_info_of_many_classes_prints_the_most_frequent_and_sums_up_the_rest(capsys, tmp_path):
    import json

    counts = [4] * 21 + [9, 30, 5, 5, 20]  # 26 classes; c22 (30) then c25 (20), c21 (9), then fives
    path = _labelled_csv(tmp_path, counts)
    rc, out, err = _run(capsys, ["data", "info", path, "--target", "label"])
    assert rc == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("train_class_counts"))
    shown = eval(line.split(": ", 1)[1])
    assert "the 10 most frequent of 26 classes" in line and len(shown) == 10
    assert list(shown)[:3] == ["c22", "c25", "c21"]
    assert sorted(shown.values(), reverse=True) == list(shown.values())
    rest = out.splitlines()[out.splitlines().index(line) + 1]
    assert rest.strip().startswith("... and 16 more classes (min count ")
    lo, hi = (int(v) for v in rest.rstrip(")").replace(",", "").split()[-3::2])
    assert 1 <= lo <= hi <= min(shown.values())
    classes = next(ln for ln in out.splitlines() if ln.strip().startswith("classes:"))
    assert classes.strip() == "classes: " + ", ".join(f"c{c:02d}" for c in range(20)) + ", ..."
    rc, out, err = _run(capsys, ["data", "info", path, "--target", "label", "--json"])
    assert rc == 0, err
    assert len(json.loads(out)["train_class_counts"]) == 26  # JSON keeps the whole mapping


def test_data_info_of_few_classes_prints_every_count(capsys, tmp_path):
    path = _labelled_csv(tmp_path, [6] * 20)
    rc, out, err = _run(capsys, ["data", "info", path, "--target", "label"])
    assert rc == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("train_class_counts"))
    assert line.startswith("train_class_counts: {") and "more classes" not in out
    assert len(eval(line.split(": ", 1)[1])) == 20


def test_class_count_lines_rank_by_count_then_label_and_give_the_rest_min_max():
    from relunet.cli.data import class_count_lines

    counts = {f"k{i:02d}": n for i, n in enumerate([3, 8, 8, 1, 2, 9, 9, 9, 4, 5, 6, 7, 2, 2, 3, 3, 1, 1, 5, 6, 7, 8])}
    lines = class_count_lines(counts)
    assert lines[0] == ("train_class_counts (the 10 most frequent of 22 classes): "
                        "{'k05': 9, 'k06': 9, 'k07': 9, 'k01': 8, 'k02': 8, 'k21': 8, 'k11': 7, 'k20': 7, "
                        "'k10': 6, 'k19': 6}")
    assert lines[1] == "  ... and 12 more classes (min count 1, max 5)"
    assert class_count_lines({"a": 1}) == ["train_class_counts: {'a': 1}"]


@pytest.mark.parametrize("marker", ["NA", "null", "#N/A"])
def test_data_info_counts_missing_markers_as_missing_values(capsys, tmp_path, marker):
    import json

    rows = [f"{i % 5},{i % 7}.5,{i % 2}" for i in range(40)]
    rows[3], rows[8], rows[20] = f"1,{marker},0", "2,,1", f"{marker},3.5,0"
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    rc, out, err = _run(capsys, ["data", "info", str(path), "--json"])
    assert rc == 0, err
    contract = json.loads(out)["contract"]
    assert contract["missing"] == {"a": 1, "b": 2} and "refuses the missing values" in contract["impute"]
    rows[5] = f"3,4.5,{marker}"  # a missing target: no imputation describes it
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    _usage_error(capsys, ["data", "info", str(path)], f"a missing target ('{marker}') in column 'y', line 7")


def test_data_info_of_a_missing_marker_in_a_text_column_names_it(capsys, tmp_path):
    rows = [f"{i},{['red', 'blue'][i % 2]},{i % 2}" for i in range(30)]
    rows[4] = "4,NA,0"
    path = tmp_path / "c.csv"
    path.write_text("size,color,ok\n" + "\n".join(rows) + "\n")
    _usage_error(capsys, ["data", "info", str(path)], "a missing value ('NA') in column 'color', line 6")
    # the error of the file as given: not one of the --impute mean that data info tries to describe the rest
    _, line = _usage_error(capsys, ["data", "info", str(path)], "rename a category written so (e.g. 'NA_')")
    assert "--impute" not in line
