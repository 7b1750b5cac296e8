import os

# One BLAS thread per test process: pytest-xdist already runs one worker per core, and
# threaded BLAS on top of that makes the matrix-vector heavy model tests several times
# slower on a 2-core machine.  Must be set before numpy loads BLAS.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the BLAS settings above)
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=40, deadline=None)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="module")
def cluster():
    """A local Dask cluster of 2 worker processes, one per test module that asks for it."""
    pytest.importorskip("distributed")
    from commlb.execution import make_executor

    with make_executor(2) as executor:
        yield executor


# The full-size construction checks (1,000 instances at every N, tens of minutes) are an
# opt-in run: `make test-full` sets COMMLB_FULL=1.  The default suite does not collect
# them, so its summary has no skips.
collect_ignore = [] if os.environ.get("COMMLB_FULL") == "1" else ["test_constructions_full.py"]
