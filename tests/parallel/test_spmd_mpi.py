"""The SPMD programs of the planner on 4 real MPI ranks through the launcher (``python -m mindlab.run -n 4``): an MLP
forward and two training steps (auto-parallel on a 2x2 mesh; data parallel with gradients_mean) equal single-device
execution on every rank (spmd_mpi_worker.py checks each and prints ``OK rank R ...``)."""
import os
import re
import subprocess
import sys

import pytest

from mindlab.run import find_mpiexec

pytestmark = pytest.mark.mpi

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "spmd_mpi_worker.py")

if find_mpiexec() is None:
    pytest.skip("no mpiexec here (pip install 'mindlab[mpi]')", allow_module_level=True)
pytest.importorskip("mpi4py")


@pytest.fixture(scope="module")
def job():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("MINDLAB_COMM_TIMEOUT", None)
    res = subprocess.run([sys.executable, "-m", "mindlab.run", "-n", "4", WORKER], capture_output=True, text=True,
                         timeout=120, env=env, cwd=HERE)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.mark.parametrize("what", ["forward", r"train auto_parallel \d+ collectives", "train data_parallel"])
def test_spmd_on_four_mpi_ranks_equals_single_device(job, what):
    assert sorted(re.findall(rf"OK rank (\d) {what}", job)) == ["0", "1", "2", "3"], job
