"""Pricing test settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread() -> Iterator[None]:
    # The kernels solve small dense systems; on a shared 2-core machine OpenBLAS
    # threads spin against each other and make them ~50x slower.
    with threadpool_limits(limits=1, user_api="blas"):
        yield
