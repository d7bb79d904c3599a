"""TensorFlow's intra-op thread pool: default fits with every core against one thread.

TensorFlow sizes its intra-op pool (``TF_NUM_INTRAOP_THREADS``) once per process,
when it starts: by default one thread per core. Each fit here therefore runs in a
child process, alternately with the default pool and with one thread, on the same
data with the same seeds, and the script prints the median seconds per epoch of
each and their ratio. Two data sets: the digits (64 columns, the demo's) and the
digits upsampled to 28x28 (784 columns, MNIST's width).

Run: ``python benchmarks/bench_threads.py [--repeats 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from _common import THREAD_VARIABLES

# One child: a fit to trace the structure, then warm fits with other seeds; it
# prints the warm fits' seconds per epoch as JSON on its last line.
CHILD = """
import json, sys, time, warnings
import numpy as np
from skautoenc import AutoencoderTransformer
from skautoenc.datasets import load_digits_images

image_size, n_fits = int(sys.argv[1]), int(sys.argv[2])
X = load_digits_images(image_size=image_size).data
warnings.simplefilter("ignore")
AutoencoderTransformer(8, random_state=0).fit(X[:300])
per_epoch = []
for seed in range(1, n_fits + 1):
    start = time.perf_counter()
    ae = AutoencoderTransformer(8, random_state=seed).fit(X)
    per_epoch.append((time.perf_counter() - start) / ae.n_iter_)
print(json.dumps(per_epoch))
"""


def seconds_per_epoch(image_size: int, n_fits: int, intra_op: int | None) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["KERAS_BACKEND"] = "tensorflow"
    if intra_op is not None:
        env["TF_NUM_INTRAOP_THREADS"] = str(intra_op)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(image_size), str(n_fits)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="child processes per setting")
    parser.add_argument("--fits", type=int, default=2, help="warm fits per child")
    parser.add_argument("--quick", action="store_true", help="2 children per setting, digits only")
    args = parser.parse_args()
    repeats, sizes = (2, (8,)) if args.quick else (args.repeats, (8, 28))
    print(f"{os.cpu_count()} CPUs; default AutoencoderTransformer(8) fits, TensorFlow backend")
    for image_size in sizes:
        results: dict[str, list[float]] = {"default": [], "1 thread": []}
        for _ in range(repeats):  # alternated, so that a slow spell hits both
            results["default"] += seconds_per_epoch(image_size, args.fits, None)
            results["1 thread"] += seconds_per_epoch(image_size, args.fits, 1)
        medians = {name: float(np.median(times)) for name, times in results.items()}
        print(
            f"digits {image_size}x{image_size} ({image_size**2} columns): ms per epoch, "
            f"median of {len(results['default'])} fits: default pool "
            f"{1e3 * medians['default']:.1f}, one intra-op thread "
            f"{1e3 * medians['1 thread']:.1f}; default / one thread "
            f"{medians['default'] / medians['1 thread']:.2f}x"
        )


if __name__ == "__main__":
    main()
