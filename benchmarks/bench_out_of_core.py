"""Out-of-core fit: a float32 memmap larger than a block, against the same rows in memory.

Writes ``--gigabytes`` (default 4) of float32 rows with 784 columns to a ``.npy``
file (curved data: a 16-dimensional latent code through a random two-layer
network, plus noise), then, each in a fresh process:

- **memmap**: ``fit`` on ``np.load(path, mmap_mode="r")``, streamed block by block;
- **memory**: ``fit`` on the same rows loaded into memory (``np.load(path)``), which
  is streamed from the array too (it is over ``STREAMED_ARRAY_BYTES``);
- **held**: the same, but with the rows held in memory as smaller arrays are
  (standardised copy, split, one shuffled copy per epoch): what streaming avoids;

both with defaults except ``n_components=16`` and ``epochs=--epochs``. It prints the
median seconds per epoch (timed by a callback, so the statistics passes before the
first epoch are apart), the whole fit, and the peak growth of the process's memory
during ``fit`` (sampled every 10 ms from ``/proc/self/status``): ``VmRSS`` counts
the file's pages the memmap has touched, which the kernel reclaims as it needs
(page cache), ``RssAnon`` only the memory the process allocated. Then
``transform`` of all rows, streamed from the memmap and in memory.

Run: ``python benchmarks/bench_out_of_core.py [--gigabytes 4] [--epochs 3]``
(Linux; needs the file's size in free disk and, for the "held" side, about four
times the file in memory: see the table it prints).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

N_FEATURES = 784
LATENT = 16


def write_rows(path: Path, gigabytes: float, seed: int = 0) -> int:
    n_rows = int(gigabytes * 2**30) // (4 * N_FEATURES)
    rng = np.random.default_rng(seed)
    first = rng.normal(size=(LATENT, 256)).astype(np.float32)
    second = rng.normal(size=(256, N_FEATURES)).astype(np.float32) / 16
    mapped = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(n_rows, N_FEATURES)
    )
    step = 1 << 16
    for start in range(0, n_rows, step):
        n = min(step, n_rows - start)
        code = rng.standard_normal((n, LATENT), dtype=np.float32)
        rows = np.tanh(code @ first) @ second
        rows += 0.1 * rng.standard_normal(rows.shape, dtype=np.float32)
        mapped[start : start + n] = rows
    mapped.flush()
    del mapped
    return n_rows


def _memory():
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


class PeakMemory:
    """The largest VmRSS and RssAnon seen while the block runs, sampled in a thread."""

    def __enter__(self):
        self.base, self.peak = _memory(), _memory()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            now = _memory()
            self.peak = {key: max(self.peak[key], now[key]) for key in now}
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()

    def growth_mb(self):
        return {key: (self.peak[key] - self.base[key]) / 2**20 for key in self.base}


def child(path: str, mode: str, epochs: int) -> dict:
    from skautoenc import AutoencoderTransformer
    from skautoenc._keras import import_keras

    keras = import_keras()

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.started)

    mapped = np.load(path, mmap_mode="r")
    params = {"n_components": LATENT, "random_state": 0}
    # Traces the training function and starts TensorFlow's runtime outside the window.
    AutoencoderTransformer(**params, epochs=1).fit(np.array(mapped[:2000]))
    if mode == "held":
        from skautoenc import _rows

        _rows.STREAMED_ARRAY_BYTES = float("inf")
    X = mapped if mode == "memmap" else np.load(path)
    timer = EpochTimes()
    timer.times = []
    ae = AutoencoderTransformer(**params, epochs=epochs, tol=0, callbacks=[timer])
    with PeakMemory() as fit_memory:
        start = time.perf_counter()
        ae.fit(X)
        fit_seconds = time.perf_counter() - start
    with PeakMemory() as transform_memory:
        start = time.perf_counter()
        ae.transform(X)
        transform_seconds = time.perf_counter() - start
    return {
        "epoch_seconds": float(np.median(timer.times)),
        "epochs": len(timer.times),
        "fit_seconds": fit_seconds,
        "fit_growth_mb": fit_memory.growth_mb(),
        "transform_seconds": transform_seconds,
        "transform_growth_mb": transform_memory.growth_mb(),
    }


def run_child(path, mode, epochs) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--path", str(path)]
    command += ["--epochs", str(epochs)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=4.0)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (median taken)")
    parser.add_argument("--child", choices=["memmap", "memory", "held"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.path, args.child, args.epochs)))
        return

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMPDIR")) as folder:
        path = Path(folder) / "rows.npy"
        start = time.perf_counter()
        n_rows = write_rows(path, args.gigabytes)
        print(
            f"{n_rows} rows x {N_FEATURES} float32 = {path.stat().st_size / 2**30:.2f} GiB "
            f"written in {time.perf_counter() - start:.0f} s; defaults, n_components={LATENT}, "
            f"{args.epochs} epochs (median per epoch)"
        )
        results = {
            mode: run_child(path, mode, args.epochs) for mode in ("memmap", "memory", "held")
        }
    print(
        f"{'':10}{'s/epoch':>9}{'fit s':>8}{'VmRSS +MB':>11}{'RssAnon +MB':>13}"
        f"{'transform s':>13}{'RssAnon +MB':>13}"
    )
    for mode, r in results.items():
        fit, tr = r["fit_growth_mb"], r["transform_growth_mb"]
        print(
            f"{mode:10}{r['epoch_seconds']:9.1f}{r['fit_seconds']:8.1f}{fit['VmRSS']:11.0f}"
            f"{fit['RssAnon']:13.0f}{r['transform_seconds']:13.1f}{tr['RssAnon']:13.0f}"
        )
    for reference in ("memory", "held"):
        ratio = results["memmap"]["epoch_seconds"] / results[reference]["epoch_seconds"]
        print(f"memmap / {reference} seconds per epoch: {ratio:.2f} (target <= 1.3)")
    print(
        f"memmap fit, peak growth of allocated memory (RssAnon): "
        f"{results['memmap']['fit_growth_mb']['RssAnon']:.0f} MB (target < 500)"
    )


if __name__ == "__main__":
    main()
