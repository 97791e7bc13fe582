"""Faults: an MPI rank killed in the middle of a training step makes the job end, non-zero, with an error naming
the rank, well within 30 s — never a hang. (The Inspector's reconnect after a kernel restart is tested in
tests/browser; an unusable or corrupt kernel cache directory in tests/passes/test_kernel_cache.py.)"""
import os
import subprocess
import sys
import time

import pytest

from mindlab.run import find_mpiexec

pytestmark = pytest.mark.mpi
HERE = os.path.dirname(os.path.abspath(__file__))

if find_mpiexec() is None:
    pytest.skip("no mpiexec here (pip install 'mindlab[mpi]')", allow_module_level=True)
pytest.importorskip("mpi4py")


def test_rank_killed_mid_training_step_ends_the_job_clearly():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("MINDLAB_COMM_TIMEOUT", None)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "mindlab.run", "-n", "4", "kill_mid_step_worker.py"], cwd=HERE,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed_at = None
    lines = []
    try:
        for line in proc.stdout:                 # the step lines arrive as the ranks train (ranks' lines may merge)
            lines.append(line)
            if killed_at is None and "STEP 3 1" in "".join(lines):   # the last rank is now inside step 3
                killed_at = time.monotonic()
        out_rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    elapsed_after_kill = time.monotonic() - (killed_at or t0)
    out = "".join(lines)
    assert killed_at is not None, out + err
    assert proc.returncode != 0, out + err
    assert "DONE" not in out and "STEP 3 2" not in out
    assert elapsed_after_kill < 30, elapsed_after_kill
    assert "rank 3" in err and ("ended first" in err or "killed" in err or "signal" in err), err[-3000:]
