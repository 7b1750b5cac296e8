"""(filled in by its module owners)"""

import os

# numba's OpenMP threads wait for work passively (sleep) unless the environment says
# otherwise: with the default spinning, on a shared machine a waiting thread burns the
# core its partner needs, and each parallel pass then waits a scheduler slice at its
# barrier (GF(2) rank at 4096^2, 2 threads, load 12 on 2 cores: 29x the 1-thread time
# spinning, 1.4x passive; bench/bench_rank_gf2.py).  It must be set before numba loads
# its threading layer, i.e. before the first parallel kernel runs: every such kernel is
# in this package.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
