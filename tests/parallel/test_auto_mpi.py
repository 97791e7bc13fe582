"""``set_auto_parallel_context`` + plain GRAPH_MODE training steps on 2 and 4 real MPI ranks (``python -m mindlab.run
-n N``, oversubscribed on this machine): an MLP and a transformer block trained 5 steps in every parallel mode and
search mode equal single-device training on every rank (auto_mpi_worker.py checks and prints ``OK rank R ...``)."""
import os
import re
import subprocess
import sys

import pytest

from mindlab.run import find_mpiexec

pytestmark = pytest.mark.mpi

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "auto_mpi_worker.py")
CHECKS = ["data_parallel", "semi_auto_parallel", "auto_parallel sharding_propagation",
          "auto_parallel dynamic_programming", "auto_parallel ilp"]

if find_mpiexec() is None:
    pytest.skip("no mpiexec here (pip install 'mindlab[mpi]')", allow_module_level=True)
pytest.importorskip("mpi4py")


@pytest.fixture(scope="module", params=[2, 4])
def job(request):
    n = request.param
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("MINDLAB_COMM_TIMEOUT", None)
    res = subprocess.run([sys.executable, "-m", "mindlab.run", "-n", str(n), WORKER], capture_output=True,
                         text=True, timeout=300, env=env, cwd=HERE)
    assert res.returncode == 0, res.stdout + res.stderr
    return n, res.stdout


@pytest.mark.parametrize("net", ["mlp", "block"])
def test_context_training_on_mpi_ranks_equals_single_device(job, net):
    n, out = job
    for what in CHECKS:
        # ranks' lines may interleave without a newline between them
        ranks = sorted(re.findall(rf"OK rank (\d) {net} {what}(?=OK|\s|$)", out))
        assert ranks == [str(r) for r in range(n)], (what, out)


def test_device_num_mismatch_is_refused_on_every_rank(job):
    n, out = job
    assert sorted(re.findall(r"OK rank (\d) device_num mismatch", out)) == [str(r) for r in range(n)], out


def test_dropout_masks_on_mpi_ranks_are_slices_of_the_single_device_mask(job):
    n, out = job
    assert sorted(re.findall(r"OK rank (\d) dropout", out)) == [str(r) for r in range(n)], out


def test_cell_shard_training_on_mpi_ranks_equals_single_device(job):
    n, out = job
    for search in ("sharding_propagation", "ilp"):
        assert sorted(re.findall(rf"OK rank (\d) cell shard {search}", out)) == [str(r) for r in range(n)], out
