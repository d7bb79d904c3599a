"""How long ``python -m skautoenc`` takes to exit once its work is done, with and
without skipping CPython's last collections (``gc.freeze`` at exit).

Each run is a child process that runs the command in-process (``compare`` on the
digits, one bottleneck size, ``--epochs 2``: TensorFlow is imported and a model is
fitted, as in every real command) and then exits. Its last exit handler, registered
before the command's and so run after it, writes the time; the parent takes the
exit as the time from that stamp to the child's end. Runs alternate between the
command as shipped and the command with ``_skip_the_last_collection`` made a no-op
(the same work otherwise); printed: the median exit seconds and whole-run seconds
of each, and the seconds saved per command.

Run: ``python benchmarks/bench_exit.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

CHILD = """
import atexit, sys, time
import skautoenc.__main__ as command

stamp, data, skip = sys.argv[1], sys.argv[2], sys.argv[3] == "skip"
atexit.register(lambda: open(stamp, "w").write(repr(time.time())))
if not skip:
    command._skip_the_last_collection = lambda: None
sys.exit(command.main(["compare", data, "--components", "2", "--epochs", "2"]))
"""


def one_run(folder: str, data: str, skip: bool) -> tuple[float, float]:
    """``(exit seconds, whole-run seconds)`` of one child."""
    stamp = os.path.join(folder, "stamp")
    start = time.time()
    subprocess.run(
        [sys.executable, "-c", CHILD, stamp, data, "skip" if skip else "collect"],
        check=True,
        capture_output=True,
    )
    end = time.time()
    with open(stamp) as file:
        return end - float(file.read()), end - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, alternated")
    args = parser.parse_args()

    from skautoenc.datasets import load_digits_images

    with tempfile.TemporaryDirectory() as folder:
        data = os.path.join(folder, "digits.npy")
        np.save(data, load_digits_images().data)
        runs = {True: [], False: []}
        for _ in range(args.repeats):
            for skip in (True, False):
                runs[skip].append(one_run(folder, data, skip))
    print("python -m skautoenc compare (digits, k=2, 2 epochs), in a child process each run")
    print(f"{'at exit':32s} {'exit s':>8s} {'run s':>8s}   (medians of {args.repeats})")
    medians = {}
    for skip, label in ((False, "CPython's collections"), (True, "gc.freeze (as shipped)")):
        exits, whole = np.median(np.array(runs[skip]), axis=0)
        medians[skip] = exits
        print(f"{label:32s} {exits:8.2f} {whole:8.2f}")
    print(f"saved per command: {medians[False] - medians[True]:.2f} s of exit")


if __name__ == "__main__":
    main()
