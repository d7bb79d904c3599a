"""Grid-search wall time at n_jobs=1, n_jobs=2 (loky, threading) and on Dask; RSS per fit.

The grid: ``n_components`` [2, 8] x ``hidden_layer_sizes`` [(16,), (32,), (64,)] on
scikit-learn's digits (1,797 rows), 3-fold, ``refit=False`` (so every configuration
times the same 18 fits). Each configuration runs in a fresh Python process, so that
the ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` variables are read when
TensorFlow starts and the workers start cold:

- ``cold``: the first search, worker start-up and their TensorFlow import included
  (what a one-off ``search.fit`` costs);
- ``warm``: the median of ``--repeats`` further searches on the same workers.

Ratios are to ``n_jobs=1`` measured in the same run. The script also prints the
threads each worker runs after a fit (Linux only), whether every configuration found
the same ``cv_results_``, and the RSS of one process over ``--fits`` consecutive fits,
next to the same model hand-written in Keras (to tell the library's growth from
Keras'). Timings on a shared machine are noisy: compare ratios, not seconds.

Run: ``python benchmarks/bench_search.py [--repeats 2] [--fits 50] [--epochs 10]
[--no-dask] [--no-memory] [--no-search] [--only CONFIG ...]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

GRID = {"n_components": [2, 8], "hidden_layer_sizes": [(16,), (32,), (64,)]}
ONE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
# name: (how to run the search, extra environment)
CONFIGS = {
    "n_jobs=1": ("sequential", {}),
    "n_jobs=1, TF pools 1/1": ("sequential", ONE_THREAD),
    "n_jobs=2 loky": ("loky", {}),
    "n_jobs=2 loky, TF pools 1/1": ("loky", ONE_THREAD),
    "n_jobs=2 threading": ("threading", {}),
    "dask, 2 workers x 1 thread": ("dask", {}),
}
RESULT = "RESULT "


# ------------------------------------------------------------ in a subprocess
def thread_report():
    """This process's threads by name, and the thread-limiting variables it sees."""
    report = {"pid": os.getpid()}
    report.update({k: os.environ.get(k) for k in ("OMP_NUM_THREADS", *ONE_THREAD)})
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


def make_search(epochs):
    from sklearn.model_selection import GridSearchCV

    from skautoenc import AutoencoderTransformer

    ae = AutoencoderTransformer(epochs=epochs, random_state=0)
    return GridSearchCV(ae, GRID, cv=3, refit=False)


def time_searches(kind, X, epochs, repeats):
    import joblib

    def one():
        search = make_search(epochs)
        start = time.perf_counter()
        if kind == "sequential":
            search.set_params(n_jobs=1).fit(X)
        elif kind == "loky":
            search.set_params(n_jobs=2).fit(X)
        elif kind == "threading":
            with joblib.parallel_backend("threading", n_jobs=2):
                search.set_params(n_jobs=2).fit(X)
        else:
            with joblib.parallel_backend("dask"):
                search.fit(X)
        return time.perf_counter() - start, search.cv_results_["mean_test_score"].tolist()

    cold, scores = one()
    warm = [one()[0] for _ in range(repeats)]
    return {"cold": cold, "warm": warm, "scores": scores}


def run_config(name, args):
    from sklearn.exceptions import ConvergenceWarning

    from skautoenc import AutoencoderTransformer
    from skautoenc._keras import import_keras
    from skautoenc.datasets import load_digits_images

    warnings.simplefilter("ignore", ConvergenceWarning)
    import_keras()
    X = load_digits_images().data
    AutoencoderTransformer(epochs=1, random_state=0).fit(X[:64])  # parent warm-up
    kind, _ = CONFIGS[name]
    if kind == "dask":
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            result = time_searches(kind, X, args.epochs, args.repeats)
            workers = list(client.run(thread_report).values())
    else:
        result = time_searches(kind, X, args.epochs, args.repeats)
        if kind == "loky":
            import joblib

            reports = joblib.Parallel(n_jobs=2)(joblib.delayed(thread_report)() for _ in range(8))
            workers = list({report["pid"]: report for report in reports}.values())
        else:
            workers = [thread_report()]
    result["workers"] = workers
    return result


def rss_mib():
    try:
        import psutil
    except ImportError:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    return psutil.Process().memory_info().rss / 2**20


def run_memory(kind, args):
    """RSS after each of ``args.fits`` fits, every estimator dropped after its fit."""
    import gc

    from _common import hand_written_autoencoder
    from sklearn.exceptions import ConvergenceWarning

    from skautoenc import AutoencoderTransformer
    from skautoenc._keras import import_keras
    from skautoenc.datasets import load_digits_images

    warnings.simplefilter("ignore", ConvergenceWarning)
    keras = import_keras()
    X = load_digits_images().data[:300]
    rss, seconds = [], []
    for i in range(args.fits):
        start = time.perf_counter()
        if kind == "skautoenc":
            est = AutoencoderTransformer(
                n_components=8, hidden_layer_sizes=(32,), epochs=2, random_state=i
            )
            est.fit(X).transform(X)
            del est
        else:  # the same model, compile and fit, hand-written
            keras.utils.set_random_seed(i)
            model = hand_written_autoencoder(keras, 64, 32, 8)
            model.compile(optimizer="adam", loss="mse", steps_per_execution=32)
            model.fit(X, X, batch_size=32, epochs=2, verbose=0)
            del model
        gc.collect()
        seconds.append(time.perf_counter() - start)
        rss.append(rss_mib())
    return {"rss": rss, "seconds": seconds}


# --------------------------------------------------------------- the driver
def in_subprocess(argv, env_extra):
    env = {**os.environ, **env_extra}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    sys.stderr.write(done.stderr[-4000:])
    raise RuntimeError(f"{argv} failed with exit status {done.returncode}")


def print_searches(args):
    names = [n for n in CONFIGS if not (args.no_dask and CONFIGS[n][0] == "dask")]
    if args.only:
        names = ["n_jobs=1", *(n for n in names if n in args.only and n != "n_jobs=1")]
    if not args.no_dask:
        try:
            import dask_ml  # noqa: F401
            import distributed  # noqa: F401
        except ImportError:
            print("dask skipped: pip install 'skautoenc[dask]'")
            names = [n for n in names if CONFIGS[n][0] != "dask"]
    results = {}
    for name in names:
        argv = ["--run", name, "--epochs", str(args.epochs), "--repeats", str(args.repeats)]
        results[name] = in_subprocess(argv, CONFIGS[name][1])
        print(f"  ran {name}", flush=True)

    base = results["n_jobs=1"]
    base_cold, base_warm = base["cold"], np.median(base["warm"])
    n_fits = 2 * 3 * 3
    print(
        f"\n{n_fits} fits (2x3 grid, 3-fold, epochs<={args.epochs}, refit=False); "
        f"warm = median of {args.repeats}"
    )
    header = f"{'configuration':<30}{'cold s':>8}{'ratio':>7}{'warm s':>8}{'ratio':>7}"
    print(f"{header}  same scores  threads per process after a fit")
    for name, result in results.items():
        cold, warm = result["cold"], np.median(result["warm"])
        same = "yes" if result["scores"] == base["scores"] else "NO"
        threads = ", ".join(str(w.get("threads", "?")) for w in result["workers"])
        print(
            f"{name:<30}{cold:>8.1f}{cold / base_cold:>7.2f}{warm:>8.1f}"
            f"{warm / base_warm:>7.2f}  {same:<11}  {threads}"
        )
    print("\nworker environment and threads by name:")
    for name, result in results.items():
        for worker in result["workers"]:
            env = {k: worker.get(k) for k in ("OMP_NUM_THREADS", *ONE_THREAD)}
            print(f"  {name:<30} {env} {worker.get('by_name')}")


def print_memory(args):
    print(f"\nRSS over {args.fits} consecutive fits in one process (MiB):")
    marks = sorted({1, 5, 10, args.fits // 2, args.fits} & set(range(1, args.fits + 1)))
    print(f"{'after fit':<28}" + "".join(f"{m:>8}" for m in marks) + "  growth 5->last, per fit")
    for kind in ("skautoenc", "hand-written Keras"):
        result = in_subprocess(["--memory", kind, "--fits", str(args.fits)], {})
        rss = result["rss"]
        growth = rss[-1] - rss[min(4, len(rss) - 1)]
        per_fit = growth / max(len(rss) - 5, 1)
        print(
            f"{kind:<28}"
            + "".join(f"{rss[m - 1]:>8.0f}" for m in marks)
            + f"  {growth:>6.1f} MiB, {per_fit:.2f} MiB/fit"
            + f" (median fit {np.median(result['seconds']):.2f} s)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="warm searches per config")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--fits", type=int, default=50, help="fits for the RSS measurement")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--only", nargs="+", help="configurations to run besides n_jobs=1")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(RESULT + json.dumps(run_config(args.run, args)))
        return
    if args.memory:
        print(RESULT + json.dumps(run_memory(args.memory, args)))
        return

    from importlib.metadata import version

    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; Keras "
        f"{version('keras')}, backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}"
    )
    if not args.no_search:
        print_searches(args)
    if not args.no_memory:
        print_memory(args)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
