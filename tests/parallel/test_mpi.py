"""The mpi backend on real processes (mpiexec from the mpich wheel), the launcher, and failure handling: a rank
that dies, raises or never arrives makes the job end within 30 s with a message naming it."""
import json
import os
import re
import signal
import subprocess
import sys

import pytest

from mindlab.run import find_mpiexec

pytestmark = pytest.mark.mpi

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "mpi_worker.py")
MPIEXEC = find_mpiexec()
LIMIT = 30          # seconds: a job that has not ended by then hangs, which is the failure under test

if MPIEXEC is None:
    pytest.skip("no mpiexec here (pip install 'mindlab[mpi]')", allow_module_level=True)
pytest.importorskip("mpi4py")


def env():
    e = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    e.pop("MINDLAB_COMM_TIMEOUT", None)
    return e


def mpiexec(n, *args, timeout=120):
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, WORKER, *args], capture_output=True, text=True,
                          timeout=timeout, env=env(), cwd=HERE)


def launch(n, *args, timeout=120, extra=()):
    return subprocess.run([sys.executable, "-m", "mindlab.run", "-n", str(n), *extra, WORKER, *args],
                          capture_output=True, text=True, timeout=timeout, env=env(), cwd=HERE)


def oks(out, n, what):
    assert sorted(re.findall(rf"OK rank (\d+) {what}", out)) == [str(r) for r in range(n)], out


@pytest.fixture(scope="module")
def four_ranks():
    """One 4-rank job running every collective, the sim comparison and every redistribution pair (one start-up
    instead of four); the tests below read its output."""
    res = mpiexec(4, "all")
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_collectives_on_four_ranks(four_ranks):
    oks(four_ranks, 4, "collectives")


def test_sim_and_mpi_agree(four_ranks):
    oks(four_ranks, 4, "sim_equal 12")


@pytest.mark.parametrize("mesh, pairs", [("2x2", 324), ("4", 16)])
def test_every_redistribution_pair_on_real_ranks(four_ranks, mesh, pairs):
    oks(four_ranks, 4, f"redistribute {mesh}: {pairs} pairs")


def test_launcher_prints_each_rank():
    res = launch(2, "hello")
    assert res.returncode == 0, res.stdout + res.stderr
    # ranks share one stdout: lines may interleave, so look for each rank's words, not whole lines
    assert sorted(re.findall(r"hello from rank (\d) of 2", res.stdout)) == ["0", "1"], res.stdout
    # the same through `python -m mindlab run`
    res = subprocess.run([sys.executable, "-m", "mindlab", "run", "-n", "1", WORKER, "hello"], capture_output=True,
                         text=True, timeout=120, env=env(), cwd=HERE)
    assert res.returncode == 0 and re.findall(r"hello from rank \d of \d", res.stdout) == ["hello from rank 0 of 1"]


def test_launcher_usage_errors():
    res = subprocess.run([sys.executable, "-m", "mindlab.run", "-n", "2", "no_such_script.py"], capture_output=True,
                         text=True, timeout=60, env=env())
    assert res.returncode == 2 and "no such script: no_such_script.py" in res.stderr
    res = subprocess.run([sys.executable, "-m", "mindlab.run", "--mpiexec", "/nonexistent/mpiexec", WORKER, "hello"],
                         capture_output=True, text=True, timeout=60, env=env())
    assert res.returncode == 127 and "no mpiexec found" in res.stderr


def _kill_the_rank_left_behind(cmd):
    """Start the "die" job ``cmd``; once rank 3 says READY <pid> (the others are then in the collective) SIGKILL it
    and collect the job: (return code, pid, stdout, stderr)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=HERE)
    try:
        line = proc.stdout.readline()
        m = re.match(r"READY (\d+)", line)
        assert m, line + proc.stderr.read()
        os.kill(int(m.group(1)), signal.SIGKILL)
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, m.group(1), out, err


def test_killed_rank_ends_the_job_with_a_clear_message():
    """Ranks 0-2 wait in an all_reduce; rank 3 is SIGKILLed from outside."""
    rc, pid, out, err = _kill_the_rank_left_behind([sys.executable, "-m", "mindlab.run", "-n", "4", WORKER, "die"])
    assert rc != 0
    assert f"mindlab.run: rank 3 (pid {pid} on" in err and "ended first without reporting an error" in err, err
    assert "finished although a rank was killed" not in out


def test_killed_rank_under_plain_mpiexec_does_not_hang():
    rc, _, out, _ = _kill_the_rank_left_behind([MPIEXEC, "-n", "4", sys.executable, WORKER, "die"])
    assert rc != 0 and "finished although a rank was killed" not in out


@pytest.mark.parametrize("mode, where", [("straggle", r"last finished barrier #0 on group \[0, 1, 2, 3\] [0-9.]+ s "
                                                    r"ago and has not called all_reduce #1"),
                                         ("early_exit", "finished its program and is waiting in MPI_Finalize")])
def test_rank_that_never_arrives_times_out_with_a_clear_message(mode, where):
    res = launch(4, mode, extra=("--timeout", "3"), timeout=LIMIT)
    assert res.returncode != 0
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("mindlab.run: rank "), res.stderr
    assert "all_reduce #1 on group [0, 1, 2, 3] did not complete within 3 s" in last
    assert re.search(r"rank 3 \(pid \d+\) " + where, last), last
    # the waiting ranks raised CommunicationError (tagged tracebacks)
    assert re.search(r"\[mindlab rank [012]/4 pid \d+\] mindlab\.parallel\.comm\.base\.CommunicationError", res.stderr)


def test_rank_that_raises_stops_the_others():
    res = launch(4, "raise", timeout=LIMIT)
    assert res.returncode != 0
    assert "[mindlab rank 1/4 pid" in res.stderr and "ValueError: boom on purpose" in res.stderr
    assert "mindlab.run: rank 1 failed with ValueError: boom on purpose" in res.stderr


def test_rank_that_exits_abruptly_is_named():
    res = launch(4, "vanish", timeout=LIMIT)
    assert res.returncode != 0
    # rank 3 is named as (one of) the first to end; under heavy load mpiexec's kills of the others can land in the
    # same instant, and the launcher then lists every rank that ended together
    assert re.search(r"mindlab\.run: (rank \d \(pid \d+ on \S+\), )*rank 3 \(pid \d+ on \S+\)[^\n]* ended first",
                     res.stderr), res.stderr


def test_calibrate_over_mpi():
    res = mpiexec(2, "calibrate")
    assert res.returncode == 0, res.stdout + res.stderr
    prof = json.loads(res.stdout.split("PROFILE ", 1)[1])
    assert prof["name"] == "cpu-calibrated-mpi" and prof["bandwidth"] > 0 and prof["latency"] >= 0
