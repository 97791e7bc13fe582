"""The on-disk cache of fused kernels (kernels/cpu/kernel_cache.py): a second process loads the kernel instead of
compiling it; a damaged cache file or an unusable cache directory falls back to compiling in memory with a
KernelCacheWarning, and the results stay right."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, warnings
    import numpy as np
    import mindlab as ms
    from mindlab import ops, Tensor
    from mindlab.kernels.cpu import kernel_cache, fused

    @ms.jit
    def chain(x, a, b):
        return ops.tanh(x * a + b) * ops.sigmoid(x)

    x = np.linspace(-3, 3, 4096, dtype=np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = chain(Tensor(x), 1.5, 0.25).asnumpy()
    ref = np.tanh(x * 1.5 + 0.25) * (1 / (1 + np.exp(-x)))
    kernels = list(fused.KERNELS.values())
    print(json.dumps({
        "max_err": float(np.abs(y - ref).max()),
        "stats": kernel_cache.STATS,
        "n_kernels": len(kernels),
        "cache_hits": sum(sum(k.stats.cache_hits.values()) for k in kernels),
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
    }))
""")


def _run(tmp_path, cache_dir):
    script = tmp_path / "chain.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "MINDLAB_CACHE_DIR": str(cache_dir), "MINDLAB_FUSION": "1"}
    env.pop("MINDLAB_KERNEL_CACHE", None)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_loads_the_kernel_from_disk(tmp_path):
    cache = tmp_path / "cache"
    first = _run(tmp_path, cache)
    assert first["n_kernels"] == 1 and first["stats"]["written"] == 1 and first["cache_hits"] == 0
    assert first["max_err"] < 1e-5 and not first["warnings"]
    files = list(cache.glob("kernels-*/k_*.py"))
    assert len(files) == 1 and list(cache.glob("kernels-*/__pycache__/*.nbi"))
    second = _run(tmp_path, cache)
    assert second["stats"]["written"] == 0 and second["stats"]["imported"] == 1
    assert second["cache_hits"] == 1, second          # numba loaded the machine code: nothing compiled
    assert second["max_err"] == first["max_err"] and not second["warnings"]


def test_damaged_cache_files_are_removed_and_the_kernel_recompiled(tmp_path):
    cache = tmp_path / "cache"
    _run(tmp_path, cache)
    for f in cache.glob("kernels-*/__pycache__/*"):
        f.write_bytes(b"\x80\x04not a numba cache file")
    out = _run(tmp_path, cache)
    assert out["max_err"] < 1e-5
    assert out["stats"]["damaged"] == 1
    assert any("KernelCacheWarning" in w and "could not be loaded" in w for w in out["warnings"]), out
    again = _run(tmp_path, cache)                    # rewritten whole by the run above or this one: clean again
    assert again["max_err"] < 1e-5 and again["stats"]["damaged"] == 0


def test_damaged_kernel_source_is_rewritten(tmp_path):
    cache = tmp_path / "cache"
    _run(tmp_path, cache)
    (src,) = cache.glob("kernels-*/k_*.py")
    src.write_text("this is not python (")
    out = _run(tmp_path, cache)
    assert out["max_err"] < 1e-5 and out["stats"]["written"] == 1 and not out["warnings"]
    assert "def fused_kernel" in src.read_text()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permissions; the not-a-directory case covers it")
def test_unwritable_cache_dir_warns_and_compiles_in_memory(tmp_path):
    cache = tmp_path / "ro"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        out = _run(tmp_path, cache)
    finally:
        cache.chmod(0o700)
    assert out["max_err"] < 1e-5 and out["stats"]["fallbacks"] == 1
    assert any("kernel cache disabled" in w for w in out["warnings"])


def test_cache_dir_that_is_a_file_warns_and_compiles_in_memory(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    out = _run(tmp_path, not_a_dir)
    assert out["max_err"] < 1e-5 and out["stats"]["fallbacks"] == 1 and out["stats"]["written"] == 0
    assert any("KernelCacheWarning: mindlab kernel cache disabled" in w and str(not_a_dir) in w
               for w in out["warnings"]), out
    assert not_a_dir.read_text() == "x"               # nothing of the user's was touched
