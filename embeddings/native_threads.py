"""The native runtimes under the encoder and the index: how their OpenMP threads wait, how many FAISS uses.

Both torch and FAISS parallelise with OpenMP, whose threads by default spin while they wait for work. On cores
shared with other processes (a database, a helpdesk, other jobs) spinning threads steal the time the working
ones need. Measured on 2 busy cores: with passive waits, encoding 300 short texts with 2 torch threads took
2.1 CPU-seconds instead of 5.8 (34 texts/s instead of 12), and an HNSW build of 1,500 vectors 0.09 s instead of
1.8 s. On an idle machine the cost is a thread wake-up per parallel region (a few ms per batch of 64 texts).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_controller: Any = None
_controller_lock = threading.Lock()


def prefer_passive_waits() -> None:
    """Ask OpenMP runtimes loaded from now on to let waiting threads sleep (a user's own setting wins).

    Each runtime reads the policy once, when it loads: this must run before torch or FAISS is imported.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def load_faiss() -> Any:
    """Import FAISS (lazily: it is heavy) with passive OpenMP waits."""
    prefer_passive_waits()
    import faiss

    return faiss


@contextmanager
def faiss_threads(count: int | None) -> Iterator[None]:
    """Run FAISS calls in this thread with ``count`` OpenMP threads (None: leave as is).

    OpenMP keeps the setting per calling thread, so concurrent searches elsewhere are not affected.
    """
    if count is None:
        yield
        return
    faiss = load_faiss()
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run numpy's and scipy's BLAS (OpenBLAS) on one thread inside the block; the count is restored after.

    For work on one ticket, whose products are a vector against a matrix: OpenBLAS hands even those to its
    second thread, and waking it costs more than the product. Measured (1 x 1,920 times 1,920 x 256, float32):
    1.7 ms with two threads on an idle core pair, 6.9 ms with the cores busy, 0.055 ms on one thread, the same
    numbers bit for bit. The limit is process-wide (OpenBLAS has one setting), so only short blocks take it.
    torch and ONNX Runtime keep their own threads.
    """
    global _controller
    with _controller_lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield
