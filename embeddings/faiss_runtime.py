"""Loading FAISS and choosing its thread count: the two settings that decide its speed on shared cores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def load_faiss() -> Any:
    """Import FAISS (lazily: it is heavy) with OpenMP threads that sleep, not spin, while they wait.

    FAISS's OpenMP runtime reads the policy once, when it loads. Spinning threads on cores shared with other
    work made an HNSW build of 1,500 vectors 20x slower on 2 busy cores (1.8 s against 0.09 s); a user's own
    OMP_WAIT_POLICY is left as it is.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
