"""Grid search with the autoencoder vs with PCA, side by side; RSS per fit; n_jobs=2 threads.

1. Search: ``MinMaxScaler -> reducer -> LogisticRegression(max_iter=1000)`` in
   ``GridSearchCV(pipeline, {"reducer__n_components": [2, 4, 8, 16]}, cv=3)`` on
   scikit-learn's digits (12 fits and the refit), with reducer = ``PCA()`` and
   ``AutoencoderTransformer(random_state=0)`` (defaults). The first autoencoder
   search in the process is reported on its own (``cold``: it traces one training
   function per ``n_components``; Keras is imported before); then both searches
   alternate ``--repeats`` times, each followed by the quick-search recipe of
   docs/scaling.md (the search with ``epochs=10`` and no refit, then the chosen
   size fitted with the defaults; timed whole, reported, no target). Targets, on
   the defaults: warm median wall time AE / PCA <= 5x; the AE's best CV accuracy
   >= PCA's. Also printed: the seconds each step took (reducer fit and transform,
   classifier fit), summed over a search: steps that follow one another on the
   same cores slow each other down (see ``skautoenc._threads``); and the
   arithmetic of the autoencoder's fits (each fit's FLOPs as ``bench_fit.py``
   counts them, summed, median over the warm searches) divided by NumPy's float32
   GEMM throughput measured then: a floor no backend goes under, as a multiple of
   the PCA search, and the fits' seconds as a multiple of it.
   The same on a small table, wine (178 rows, 13 features; k in {2, 4, 8}; no
   target): its folds train on fewer rows than the default batch of 128, so each
   fold's batch differs, and the batch size is not part of what a compiled
   training function depends on.
2. Memory: the RSS of one fresh process over ``--fits`` consecutive default fits
   on digits (``AutoencoderTransformer(8, random_state=i).fit``, each estimator
   dropped after its fit), as MB (10**6 bytes) gained per fit over the last half
   of the fits (target <= 0.5 MB/fit), next to the same count of fits of
   ``_common.hand_written_autoencoder`` (64 -> 128 -> 8, compiled, 5 epochs each,
   no ``clear_session``) to tell the library's growth from Keras'.
3. Parallel: the autoencoder search with ``n_jobs=2`` (loky), twice (cold workers,
   then the same workers warm), its wall time against the ``n_jobs=1`` warm median,
   the largest difference between its mean CV accuracies and the ``n_jobs=1``
   search's (0 when the same), and the threads each
   worker runs afterwards (from ``/proc/self/task``, Linux) with the variables
   that size TensorFlow's pools: joblib sets ``OMP_NUM_THREADS``
   in its workers and the library passes it on to ``TF_NUM_INTRAOP_THREADS`` /
   ``TF_NUM_INTEROP_THREADS``.

Timings on a shared machine are noisy: compare ratios, not seconds. Run:
``python benchmarks/bench_search.py [--repeats 3] [--fits 200] [--no-small] [--no-memory]
[--no-parallel] [--quick] [--backend jax]``. ``--quick``: 1 repeat, 20 fits, one
parallel search.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from _common import (
    THREAD_VARIABLES,
    fit_flops,
    gemm_flops_per_second,
    hand_written_autoencoder,
    parse_args_and_import_keras,
)
from sklearn.datasets import load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from skautoenc import AutoencoderTransformer

GRID = {"reducer__n_components": [2, 4, 8, 16]}
# The small table: wine (178 rows, 13 features). Its folds train on fewer rows than
# the default batch, so each fold's batch is capped at its own row count.
SMALL_GRID = {"reducer__n_components": [2, 4, 8]}
TIME_TARGET = 5.0
# The quick-search recipe (docs/scaling.md): the search with epochs capped at this,
# then the chosen size refitted with the defaults. Reported, not targeted.
QUICK_EPOCHS = 10
MEMORY_TARGET_MB = 0.5
RESULT = "RESULT "


# Seconds spent in each step of the last search (n_jobs=1), summed over its fits.
STEP_SECONDS = collections.Counter()


def timed(cls, methods):
    """``cls`` whose ``methods`` add their seconds to ``STEP_SECONDS``; it behaves
    as ``cls`` (same parameters, so ``clone`` and the search treat it alike)."""

    def wrap(name):
        def method(self, *args, **kwargs):
            start = time.perf_counter()
            try:
                return getattr(super(subclass, self), name)(*args, **kwargs)
            finally:
                STEP_SECONDS[f"{cls.__name__}.{name}"] += time.perf_counter() - start

        return method

    subclass = type(cls.__name__, (cls,), {name: wrap(name) for name in methods})
    return subclass


TimedPCA = timed(PCA, ["fit", "fit_transform", "transform"])
# FLOPs of the autoencoder fits of the last search (n_jobs=1), as bench_fit.py counts
# a fit's: what its arithmetic alone would take at NumPy's GEMM speed.
SEARCH_FLOPS = collections.Counter()


# fit_transform is TransformerMixin's here: fit, then transform (both timed).
class TimedAutoencoder(timed(AutoencoderTransformer, ["fit", "transform"])):
    def fit(self, X, y=None):
        super().fit(X, y)
        SEARCH_FLOPS["AutoencoderTransformer.fit"] += fit_flops(self, len(X))
        return self


TimedLogisticRegression = timed(LogisticRegression, ["fit"])


def pipeline(reducer, classifier=LogisticRegression):
    return Pipeline(
        [
            ("scale", MinMaxScaler()),
            ("reducer", reducer),
            ("classify", classifier(max_iter=1000)),
        ]
    )


def search(reducer, grid=GRID, n_jobs=1):
    # Worker processes would time their own steps: only n_jobs=1 searches are timed.
    classifier = TimedLogisticRegression if n_jobs == 1 else LogisticRegression
    return GridSearchCV(pipeline(reducer, classifier), grid, cv=3, n_jobs=n_jobs)


def timed_search(reducer, X, y, n_jobs=1, param_grid=GRID):
    grid = search(reducer, param_grid, n_jobs)
    STEP_SECONDS.clear()
    SEARCH_FLOPS.clear()
    start = time.perf_counter()
    grid.fit(X, y)
    return time.perf_counter() - start, grid


def quick_search_recipe(X, y, param_grid):
    """The quick-search recipe, timed whole: the search with ``epochs`` capped at
    ``QUICK_EPOCHS`` and no refit, then the chosen size fitted with the defaults."""
    quick = AutoencoderTransformer(random_state=0, epochs=QUICK_EPOCHS)
    grid = GridSearchCV(pipeline(quick), param_grid, cv=3, refit=False)
    start = time.perf_counter()
    grid.fit(X, y)
    pipeline(AutoencoderTransformer(random_state=0)).set_params(**grid.best_params_).fit(X, y)
    return time.perf_counter() - start, grid


def describe(grid):
    return f"{grid.best_score_:.4f} at k={grid.best_params_['reducer__n_components']}"


# ----------------------------------------------------------------- 1. search
def search_section(args, X, y, name="digits", grid=GRID, target=TIME_TARGET):
    pca_times, ae_times, quick_times, steps = [], [], [], {"PCA": [], "AE": []}
    ae_flops = []
    pca_seconds, pca_grid = timed_search(TimedPCA(), X, y, param_grid=grid)  # warms sklearn up
    cold_seconds, ae_grid = timed_search(TimedAutoencoder(random_state=0), X, y, param_grid=grid)
    for _ in range(args.repeats):
        pca_seconds, pca_grid = timed_search(TimedPCA(), X, y, param_grid=grid)
        pca_times.append(pca_seconds)
        steps["PCA"].append(dict(STEP_SECONDS))
        ae_seconds, ae_grid = timed_search(TimedAutoencoder(random_state=0), X, y, param_grid=grid)
        ae_times.append(ae_seconds)
        steps["AE"].append(dict(STEP_SECONDS))
        ae_flops.append(SEARCH_FLOPS["AutoencoderTransformer.fit"])
        quick_seconds, quick_grid = quick_search_recipe(X, y, grid)
        quick_times.append(quick_seconds)
    pca_median, ae_median = float(np.median(pca_times)), float(np.median(ae_times))
    ratio = ae_median / pca_median
    worst = max(ae / pca for ae, pca in zip(ae_times, pca_times, strict=True))
    print(
        f"\nGridSearchCV(MinMaxScaler -> reducer -> LogisticRegression, "
        f"n_components {grid['reducer__n_components']}, cv=3) on {name} {X.shape}; "
        f"warm = median of {args.repeats}"
    )
    print(f"{'reducer':<34}{'cold s':>8}{'warm s':>8}{'ratio':>7}  best CV accuracy")
    print(f"{'PCA()':<34}{'':>8}{pca_median:>8.2f}{1:>7.2f}  {describe(pca_grid)}")
    print(
        f"{'AutoencoderTransformer()':<34}{cold_seconds:>8.2f}{ae_median:>8.2f}{ratio:>7.2f}  "
        f"{describe(ae_grid)}"
    )
    quick_median = float(np.median(quick_times))
    print(
        f"{f'quick-search recipe (epochs={QUICK_EPOCHS})':<34}{'':>8}{quick_median:>8.2f}"
        f"{quick_median / pca_median:>7.2f}  {describe(quick_grid)} (no target; the "
        "time includes the default refit)"
    )
    verdict = f"target <= {target:.0f} {'ok' if ratio <= target else 'MISSED'}; " if target else ""
    print(
        f"time AE / PCA: {ratio:.2f} ({verdict}worst pair {worst:.2f}, "
        f"cold {cold_seconds / pca_median:.2f})"
    )
    # Accuracies are fractions of the test rows: means that are equal as fractions
    # can differ in their last bit (summed in another order), hence the tolerance.
    print("  seconds per step, summed over the search (median over the warm searches):")
    for label, runs in steps.items():
        shown = ", ".join(
            f"{name} {np.median([run.get(name, 0.0) for run in runs]):.3f}"
            for name in sorted(runs[0])
        )
        print(f"    {label}: {shown}")
    gemm = gemm_flops_per_second(10)
    flops = float(np.median(ae_flops))
    floor = flops / gemm
    fit_seconds = float(np.median([run["AutoencoderTransformer.fit"] for run in steps["AE"]]))
    print(
        f"  the AE fits' arithmetic: {flops / 1e9:.1f} GFLOP = {floor:.2f} s at NumPy's "
        f"float32 GEMM ({gemm / 1e9:.0f} GFLOP/s) = {floor / pca_median:.2f}x the PCA search; "
        f"the fits took {fit_seconds / floor:.1f}x it"
    )
    better = ae_grid.best_score_ >= pca_grid.best_score_ - 1e-12
    verdict = f" (target AE >= PCA {'ok' if better else 'MISSED'})" if target else ""
    print(
        f"best CV accuracy AE {ae_grid.best_score_:.4f} vs PCA {pca_grid.best_score_:.4f}" + verdict
    )
    by_k = zip(
        grid["reducer__n_components"],
        pca_grid.cv_results_["mean_test_score"],
        ae_grid.cv_results_["mean_test_score"],
        strict=True,
    )
    print(
        "  mean CV accuracy per k (PCA / AE): "
        + ", ".join(f"{k}: {p:.3f} / {a:.3f}" for k, p, a in by_k)
    )
    return ae_median, ae_grid


# ----------------------------------------------------------------- 2. memory
def rss_bytes():
    """This process's resident set size (psutil when installed, else /proc/self/statm)."""
    try:
        import psutil
    except ImportError:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return psutil.Process().memory_info().rss


def run_memory(kind, n_fits, keras):
    """RSS after each of ``n_fits`` fits, every model dropped after its fit."""
    X = load_digits().data / 16.0
    rss, seconds = [], []
    for i in range(n_fits):
        start = time.perf_counter()
        if kind == "skautoenc":
            est = AutoencoderTransformer(8, random_state=i).fit(X)
            del est
        else:
            keras.utils.set_random_seed(i)
            model = hand_written_autoencoder(keras, 64, 128, 8)
            model.compile(optimizer="adam", loss="mse")
            model.fit(X, X, batch_size=128, epochs=5, verbose=0)
            del model
        gc.collect()
        seconds.append(time.perf_counter() - start)
        rss.append(rss_bytes())
    return {"rss": rss, "seconds": seconds}


def in_subprocess(argv):
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *argv],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    sys.stderr.write(done.stderr[-4000:])
    raise RuntimeError(f"{argv} failed with exit status {done.returncode}")


def memory_section(args):
    n = args.fits
    half = n // 2
    marks = sorted({1, 5, 10, half, n} & set(range(1, n + 1)))
    print(f"\nRSS of a fresh process over {n} consecutive fits on digits (MB)")
    print(f"{'after fit':<34}" + "".join(f"{m:>7}" for m in marks) + "   MB/fit, last half")
    kinds = {
        "skautoenc": "AutoencoderTransformer(8)",
        "keras": "hand-written Keras, 5 epochs",
    }
    growth = {}
    for kind, label in kinds.items():
        result = in_subprocess(["--memory", kind, "--fits", str(n)])
        rss = np.asarray(result["rss"]) / 1e6
        growth[kind] = (rss[-1] - rss[half - 1]) / max(n - half, 1)
        print(
            f"{label:<34}"
            + "".join(f"{rss[m - 1]:>7.0f}" for m in marks)
            + f"   {growth[kind]:>6.3f}  (median fit {np.median(result['seconds']):.2f} s)"
        )
    ok = growth["skautoenc"] <= MEMORY_TARGET_MB
    print(
        f"skautoenc: {growth['skautoenc']:.3f} MB/fit over fits {half + 1}..{n} "
        f"(target <= {MEMORY_TARGET_MB} {'ok' if ok else 'MISSED'}); hand-written Keras "
        f"{growth['keras']:.3f} MB/fit"
    )


# --------------------------------------------------------------- 3. parallel
def thread_report():
    """This process's threads by name, and the variables that size its thread pools."""
    report = {"pid": os.getpid(), **{k: os.environ.get(k) for k in THREAD_VARIABLES}}
    if os.path.isdir("/proc/self/task"):
        names = collections.Counter()
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/comm") as comm:
                    names[comm.read().strip()] += 1
            except OSError:
                pass
        report["threads"] = sum(names.values())
        report["by_name"] = dict(names)
    return report


def parallel_section(args, X, y, sequential_median, sequential_grid):
    import joblib

    print("\nAutoencoderTransformer search with n_jobs=2 (loky)")
    runs = ["cold workers"] + ([] if args.quick else ["warm workers"])
    grid = None
    for label in runs:
        seconds, grid = timed_search(AutoencoderTransformer(random_state=0), X, y, n_jobs=2)
        ratio = "" if sequential_median is None else f" = {seconds / sequential_median:.2f}x"
        print(f"  {label:<14} {seconds:>7.2f} s{ratio} the n_jobs=1 warm median")
    print(f"  best CV accuracy {describe(grid)}")
    if sequential_grid is not None:
        # The workers' one thread sums float32 products in another order than the
        # parent's pool: training can part in the last bits, and then in an epoch kept.
        scores = grid.cv_results_["mean_test_score"]
        gap = np.abs(scores - sequential_grid.cv_results_["mean_test_score"]).max()
        shown = "the same" if gap == 0 else f"differ by up to {gap:.4f}"
        print(f"  mean CV accuracies against n_jobs=1: {shown}")
    reports = joblib.Parallel(n_jobs=2)(joblib.delayed(thread_report)() for _ in range(8))
    workers = list({report["pid"]: report for report in reports}.values())
    main = thread_report()
    print(f"  this process: {main['threads']} threads, {[main[k] for k in THREAD_VARIABLES]}")
    for worker in workers:
        variables = ", ".join(f"{k}={worker[k]}" for k in THREAD_VARIABLES)
        print(f"  worker {worker['pid']}: {worker.get('threads', '?')} threads ({variables})")
        print(f"    by name: {worker.get('by_name')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm searches of each")
    parser.add_argument("--fits", type=int, default=200, help="fits for the RSS measurement")
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--no-small", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-parallel", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 20 fits")
    parser.add_argument("--memory", help=argparse.SUPPRESS)
    args, keras = parse_args_and_import_keras(parser)
    warnings.simplefilter("ignore", ConvergenceWarning)
    if args.quick:
        args.repeats, args.fits = min(args.repeats, 1), min(args.fits, 20)
    if args.memory:
        print(RESULT + json.dumps(run_memory(args.memory, args.fits, keras)))
        return

    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; Keras "
        f"{keras.__version__}, backend {keras.backend.backend()}"
    )
    X, y = load_digits(return_X_y=True)
    sequential_median = sequential_grid = None
    if not args.no_search:
        sequential_median, sequential_grid = search_section(args, X, y)
    if not args.no_small:
        search_section(args, *load_wine(return_X_y=True), "wine", SMALL_GRID, target=None)
    if not args.no_memory:
        memory_section(args)
    if not args.no_parallel:
        parallel_section(args, X, y, sequential_median, sequential_grid)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
