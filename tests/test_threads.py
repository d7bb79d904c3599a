"""BLAS threads: one while the library's products are small or Keras computes, and the
user's limits restored afterwards, whatever threads overlap (``skautoenc._threads``)."""

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from skautoenc import AutoencoderTransformer
from skautoenc._threads import one_blas_thread


def blas_threads() -> list[int]:
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


ORIGINAL = blas_threads()
pytestmark = pytest.mark.skipif(
    max(ORIGINAL, default=1) < 2,
    reason="BLAS runs on one thread in this process already: a limit to one is not observable",
)


@pytest.fixture(scope="module")
def fitted():
    X = np.random.default_rng(0).random((300, 20))
    return AutoencoderTransformer(2, hidden_layer_sizes=(16,), epochs=2, random_state=0).fit(X), X


def test_nested_holders_restore_the_limits_at_the_outermost_exit():
    with one_blas_thread():
        with one_blas_thread():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}
    assert blas_threads() == ORIGINAL


def test_other_threads_leave_the_limits_alone():
    # OpenBLAS may ignore a thread count set from another thread, so that a restore
    # there would not happen: only the main thread limits.
    seen = []

    def work():
        with one_blas_thread():
            seen.append(blas_threads())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [ORIGINAL]
    assert blas_threads() == ORIGINAL


def test_when_false_changes_nothing():
    with one_blas_thread(when=False):
        assert blas_threads() == ORIGINAL


def test_the_limits_are_restored_after_an_error():
    with pytest.raises(RuntimeError), one_blas_thread():
        raise RuntimeError("inside")
    assert blas_threads() == ORIGINAL


def test_a_fit_trains_on_one_blas_thread_and_restores_the_limits():
    import keras

    during = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            during.append(blas_threads())

    X = np.random.default_rng(1).random((200, 10))
    AutoencoderTransformer(2, epochs=3, callbacks=[Record()], random_state=0).fit(X)
    assert during
    assert all(set(threads) == {1} for threads in during)
    assert blas_threads() == ORIGINAL


def test_small_passes_hold_one_thread_and_large_or_tiny_ones_do_not(fitted):
    est, X = fitted
    network = est._fitted
    assert not network.holds_one_blas_thread(1)  # OpenBLAS threads nothing this small
    assert network.holds_one_blas_thread(5000)  # milliseconds of products
    assert not network.holds_one_blas_thread(10**9)  # long enough for threads to pay
    est.transform(X)
    est.inverse_transform(est.transform(X))
    assert blas_threads() == ORIGINAL


def test_concurrent_transforms_leave_the_limits_as_they_were(fitted):
    est, X = fitted
    X = np.tile(X, (20, 1))  # a pass that holds one thread
    assert est._fitted.holds_one_blas_thread(len(X))
    barrier = threading.Barrier(4)

    def work():
        barrier.wait()
        for _ in range(20):
            est.transform(X)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    work()  # and the main thread too
    for thread in threads:
        thread.join()
    assert blas_threads() == ORIGINAL
