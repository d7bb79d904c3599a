"""The command line, run in-process: ``python -m skautoenc demo|compare``."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from skautoenc.__main__ import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FIGURES = ["comparison.png", "reconstructions.png", "denoising.png", "embedding.png", "history.png"]
QUICK = ["--epochs", "2", "--components", "2"]


def assert_png(path):
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_prints_the_table_and_writes_the_figures(tmp_path, capsys):
    assert main(["demo", *QUICK, "--out", str(tmp_path / "figures")]) == 0
    out = capsys.readouterr().out
    assert "Data: scikit-learn digits (1797 x 64, bundled); 25% held out." in out
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
    assert "data.csv (40 x 6, scaled to [0, 1])" in out
    assert "ratio (AE / PCA)" in out
    assert [p.name for p in out_dir.iterdir()] == ["comparison.png"]
    assert_png(out_dir / "comparison.png")


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
        (lambda d: write(d / "x.csv", "a,b\n1,\n2,3\n3,4\n4,5\n"), "missing or infinite values"),
        (lambda d: write(d / "x.csv", "a,b\n1,2\n"), "at least 4 rows"),
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
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert ".csv" in out
    assert "comparison.png" in out


def test_python_dash_m(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "skautoenc", "compare", str(tmp_path / "x.txt")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Expected a .csv or .npy file" in done.stderr
