"""One BLAS thread while the library's own NumPy products are small, or Keras computes.

OpenBLAS's worker threads keep spinning for a while after a threaded matrix
product, waiting for the next one. Whatever runs next on the same cores pays for
it: Keras' thread pool during a fit, the Keras function of a builder's paths, or
the user's next step (pip's NumPy and SciPy each bring their own OpenBLAS, whose
pools then compete). On 2 cores, a ``LogisticRegression`` fitted on codes right
after ``transform`` ran several times slower (``benchmarks/bench_search.py``
prints the search's time per step). Products too small to gain from threads are
therefore run on one: scikit-learn's ``KMeans`` holds BLAS to one thread during
its fit for the same kind of reason.

The limit is process-wide (``threadpoolctl``) and set from the main thread only:
OpenBLAS ignores a change of its thread count made in another thread once the
main thread has made one (seen with OpenBLAS 0.3.30 and 0.3.31), so a limit set
there could fail to apply, and one restored there could stay. Nested holders (a
pass inside a fit) are counted: the outermost restores the original limits.
"""

from __future__ import annotations

import contextlib
import threading

_depth = 0  # holders in the main thread
_limiter = None
_controller = None


class one_blas_thread(contextlib.ContextDecorator):
    """Every loaded BLAS on one thread inside, when ``when`` and in the main thread.

    A context manager, or a decorator (``@one_blas_thread()``).

    Examples
    --------
    >>> import numpy as np
    >>> from skautoenc._threads import one_blas_thread
    >>> with one_blas_thread():
    ...     product = np.ones((200, 200)) @ np.ones((200, 200))
    >>> float(product[0, 0])
    200.0
    """

    def __init__(self, when: bool = True):
        self.when = when

    def _applies(self) -> bool:
        return self.when and threading.current_thread() is threading.main_thread()

    def __enter__(self):
        global _depth, _limiter, _controller
        if self._applies():
            if _depth == 0:
                if _controller is None:
                    from threadpoolctl import ThreadpoolController

                    _controller = ThreadpoolController()
                _limiter = _controller.limit(limits=1, user_api="blas")
            _depth += 1
        return self

    def __exit__(self, *exc_info):
        global _depth
        if self._applies():
            _depth -= 1
            if _depth == 0:
                _limiter.restore_original_limits()
        return False
