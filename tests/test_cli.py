"""The command line, run in-process: ``python -m skautoenc demo|compare``."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from sklearn.decomposition import PCA  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skautoenc.__main__ import _parser, main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FIGURES = ["comparison.png", "reconstructions.png", "denoising.png", "embedding.png", "history.png"]
QUICK = ["--epochs", "2", "--components", "2"]
DEMO_DATA = (
    "Data: scikit-learn digits (1797 x 64, bundled; pixel values 0..16 divided by 16, "
    "so in [0, 1] like the noise below); 25% held out."
)


def assert_png(path):
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_prints_the_table_and_writes_the_figures(tmp_path, capsys):
    assert main(["demo", *QUICK, "--out", str(tmp_path / "figures")]) == 0
    out = capsys.readouterr().out
    assert DEMO_DATA in out
    assert "Bottleneck sizes: 2 (as asked)." in out
    assert "[1/3]" in out
    assert "[3/3]" in out  # PCA, the autoencoder, and the denoising autoencoder
    assert "fitting a denoising AutoencoderTransformer(n_components=2" in out
    assert "Held-out reconstruction MSE (lower is better):" in out
    assert "ratio (AE / PCA)" in out
    assert "transform_ms_per_1000" in out
    assert "Denoising (Gaussian noise, sigma=0.2), held-out MSE to the clean digits:" in out
    assert f"Figures written to {tmp_path / 'figures'}" in out
    for name in FIGURES:
        assert_png(tmp_path / "figures" / name)
        assert str(tmp_path / "figures" / name) in out
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(FIGURES)


def test_demo_without_2_components_fits_a_2d_autoencoder_for_the_embedding(tmp_path, capsys):
    assert main(["demo", "--epochs", "2", "--components", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[4/4]" in out
    assert "fitting AutoencoderTransformer(n_components=2) for the embedding" in out
    assert_png(tmp_path / "embedding.png")


def test_components_default_to_sizes_chosen_from_the_data():
    for command in (["demo"], ["compare", "x.csv"]):
        assert _parser().parse_args(command).components is None


@pytest.fixture
def csv_file(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 5)), columns=list("abcde"))
    frame["f"] = np.arange(40)  # ints are numeric too
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_compare_csv_with_figure(csv_file, tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert main(["compare", str(csv_file), *QUICK, "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "data.csv (40 x 6, as given: not rescaled)" in out
    assert "ratio (AE / PCA)" in out
    assert [p.name for p in out_dir.iterdir()] == ["comparison.png"]
    assert_png(out_dir / "comparison.png")


def held_out_rows(out, title="Held-out reconstruction MSE (lower is better):"):
    """The n_components of the printed side-by-side table."""
    lines = out.split(title)[1].strip().splitlines()[2:]  # past the two header lines
    sizes = []
    for line in lines:
        if not line.strip():
            break
        sizes.append(int(line.split()[0]))
    return sizes


def test_compare_13_columns_with_all_defaults(tmp_path, capsys):
    # Used to fail: "--components must be at most the number of features, 13".
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(48, 13)), columns=[f"x{i}" for i in range(13)])
    frame.to_csv(tmp_path / "wide.csv", index=False)
    assert main(["compare", str(tmp_path / "wide.csv")]) == 0
    out = capsys.readouterr().out
    assert "Bottleneck sizes: 2 4 8 (chosen from the data's width)." in out
    assert "[6/6]" in out
    assert held_out_rows(out) == [2, 4, 8]


@pytest.mark.parametrize(
    ("n_rows", "n_columns", "sizes"),
    [(40, 5, [2, 4]), (40, 2, [1]), (40, 1, [1]), (6, 64, [2, 4])],  # 6 rows: 4 to train
)
def test_compare_default_sizes_follow_the_table(tmp_path, capsys, n_rows, n_columns, sizes):
    data = np.random.default_rng(2).normal(size=(n_rows, n_columns))
    np.save(tmp_path / "x.npy", data)
    assert main(["compare", str(tmp_path / "x.npy"), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert f"Bottleneck sizes: {' '.join(map(str, sizes))} (chosen" in out
    assert held_out_rows(out) == sizes


def test_compare_uses_the_data_as_given(tmp_path, capsys):
    # Columns in very different units, far from [0, 1]: no MinMax scaling any more,
    # so PCA's row is PCA on the raw data, and its error is in the raw units.
    rng = np.random.default_rng(3)
    data = 5_000 + rng.normal(size=(60, 5)) * [1, 10, 100, 1_000, 10_000]
    np.save(tmp_path / "raw.npy", data)
    assert main(["compare", str(tmp_path / "raw.npy"), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "raw.npy (60 x 5, as given: not rescaled)" in out
    X_train, X_test = train_test_split(data, test_size=0.25, random_state=0)
    pca = PCA(n_components=2).fit(X_train)
    mse = np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2)
    assert mse > 1_000  # in the data's units, not [0, 1]'s
    assert f"{mse:.4g}" in out.split("All measurements:")[1]


def test_compare_leaves_out_the_dropped_columns(tmp_path, capsys):
    # A table as users keep it: an identifier and a text label next to the data.
    rng = np.random.default_rng(4)
    data = rng.normal(size=(40, 3)) * [1, 10, 100]
    frame = pd.DataFrame(data, columns=["a", "b", "c"])
    frame.insert(0, "id", np.arange(40))
    frame["kind"] = rng.choice(["x", "y"], size=40)
    frame.to_csv(tmp_path / "table.csv", index=False)
    path = str(tmp_path / "table.csv")
    assert main(["compare", path, "--epochs", "2"]) == 2
    assert "Leave out labels and identifiers with --drop kind." in capsys.readouterr().err
    assert main(["compare", path, "--drop", "kind", "id", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "table.csv (40 x 3, as given: not rescaled); left out: kind, id" in out
    X_train, X_test = train_test_split(data, test_size=0.25, random_state=0)
    pca = PCA(n_components=2).fit(X_train)
    mse = np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2)
    assert f"{mse:.4g}" in out.split("All measurements:")[1]


def test_compare_dropna_leaves_out_the_incomplete_rows(tmp_path, capsys):
    rng = np.random.default_rng(5)
    data = rng.normal(size=(40, 3)) * [1, 10, 100]
    with_gaps = data.copy()
    with_gaps[[3, 17], [0, 2]] = np.nan
    with_gaps[25, 1] = np.inf
    pd.DataFrame(with_gaps, columns=["a", "b", "c"]).to_csv(tmp_path / "gaps.csv", index=False)
    path = str(tmp_path / "gaps.csv")
    assert main(["compare", path, *QUICK]) == 2
    assert "3 of 40 rows have missing or infinite values" in capsys.readouterr().err
    assert main(["compare", path, "--dropna", *QUICK]) == 0
    out = capsys.readouterr().out
    assert "gaps.csv (37 x 3, as given: not rescaled); left out 3 rows with missing" in out
    complete = np.delete(data, [3, 17, 25], axis=0)
    X_train, X_test = train_test_split(complete, test_size=0.25, random_state=0)
    pca = PCA(n_components=2).fit(X_train)
    mse = np.mean((X_test - pca.inverse_transform(pca.transform(X_test))) ** 2)
    assert f"{mse:.4g}" in out.split("All measurements:")[1]


@pytest.mark.parametrize(
    ("name", "drop", "message"),
    [
        ("x.csv", ["b", "nope"], "does not have: ['nope']. Its columns: ['a', 'b']"),
        ("x.npy", ["b"], "--drop names columns of a .csv by their header"),
    ],
)
def test_compare_drop_refuses_what_it_cannot_leave_out(tmp_path, capsys, name, drop, message):
    pd.DataFrame({"a": range(8), "b": range(8)}).to_csv(tmp_path / "x.csv", index=False)
    np.save(tmp_path / "x.npy", np.zeros((8, 2)))
    assert main(["compare", str(tmp_path / name), "--drop", *drop]) == 2
    assert message in capsys.readouterr().err


def test_compare_npy_without_out_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "data.npy", np.random.default_rng(0).random((40, 4)))
    assert main(["compare", "data.npy", *QUICK]) == 0
    assert "data.npy (40 x 4" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy"]


def test_without_matplotlib_the_table_still_prints(csv_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    assert main(["compare", str(csv_file), *QUICK, "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "ratio (AE / PCA)" in captured.out
    assert "matplotlib is not installed" in captured.err
    assert not (tmp_path / "out").exists()


def write(path, content):
    path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (lambda d: write(d / "x.csv", "a,b\n1,x\n2,y\n3,z\n4,w\n"), "non-numeric columns: ['b']"),
        (
            lambda d: write(d / "x.csv", "a,b\n1,\n2,3\n3,4\n4,5\n"),
            "1 of 4 rows has missing or infinite values (in columns ['b']). Leave them "
            "out with --dropna",
        ),
        (lambda d: write(d / "x.csv", "a,b\n1,2\n"), "at least 4 complete rows"),
        (lambda d: write(d / "x.txt", "1 2\n"), "Expected a .csv or .npy file"),
        (lambda d: d / "missing.csv", "No such file"),
        (lambda d: np.save(d / "x.npy", np.zeros(5)) or d / "x.npy", "expected a 2-D array"),
        (
            lambda d: np.save(d / "x.npy", np.array([["a", "b"]] * 5)) or d / "x.npy",
            "expected a numeric array",
        ),
        (lambda d: write(d / "x.csv", "a,b\n1,2\n2,3\n3,4\n4,5\n"), "at most the number of"),
    ],
)
def test_bad_file_exits_2_with_a_message(tmp_path, capsys, make_file, message):
    path = make_file(tmp_path)
    assert main(["compare", str(path), "--components", "3"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--components", "0"],
        ["demo", "--epochs", "-1"],
        ["demo", "--components"],
        ["frobnicate"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    assert "demo" in out
    assert "compare" in out
    assert "%%" not in out
    with pytest.raises(SystemExit) as raised:
        main(["demo", "--help"])
    assert raised.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for text in ["--out DIR", "--components K", "--epochs N", "--random-state SEED"]:
        assert text in out
    for name in FIGURES:
        assert name in out
    assert "25% held out" in out
    assert "divided by 16" in out
    assert "the powers of two 2 4 8 16 below the number of columns" in out
    assert "minute" not in out  # a default fit takes about a second now
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert ".csv" in out
    assert "comparison.png" in out
    assert "compared as given, not rescaled" in out
    assert "MinMaxScaler" not in out


def test_python_dash_m(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "skautoenc", "compare", str(tmp_path / "x.txt")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Expected a .csv or .npy file" in done.stderr


# The check is registered first, so that it runs last (atexit runs handlers in reverse).
_FREEZE_AT_EXIT = """
import atexit, gc
calls = []
freeze = gc.freeze
gc.freeze = lambda: calls.append(1) or freeze()
atexit.register(lambda: print("freezes", len(calls), gc.get_freeze_count() > 0))
from skautoenc.__main__ import main
main(["compare", "no-such-file.txt"])
main(["compare", "no-such-file.txt"])
"""


def test_the_command_skips_the_last_collection_at_exit_once():
    # Once TensorFlow is imported, the collections at exit took most of the seconds
    # a command takes to exit; gc.freeze at exit leaves those objects to the system.
    done = subprocess.run(
        [sys.executable, "-c", _FREEZE_AT_EXIT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == ["freezes", "1", "True"]
