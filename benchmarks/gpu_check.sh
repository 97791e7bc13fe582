#!/usr/bin/env bash
# One run on a CUDA machine (the device tool's): versions, bench_gpu.py, then the GPU tests and the op/nn/grad/graph
# suites with device_target="GPU" in PyNative and GRAPH_MODE, four pytest processes side by side, and 300 generated
# programs compared between the modes on the GPU and against the CPU (benchmarks/fuzz_programs.py --device GPU). Logs and JSON go
# to $OUT. Usage: OUT=/tmp/out PY=/opt/torch/.venv/bin/python bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-/tmp/gpu_check}
PY=${PY:-/opt/torch/.venv/bin/python}
BENCH_S=${BENCH_S:-150}
SUITE_S=${SUITE_S:-170}
mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/build/gpu_pylib"     # build/gpu_pylib: pytest, when the image has none
export NUMBA_CUDA_ARRAY_INTERFACE_SYNC=0 NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0
[ -e mindlab/kernels ] || ln -s "$PWD/kernels" mindlab/kernels   # a source tree run: mindlab.kernels is kernels/
{
  date -u; nvidia-smi; "$PY" -c "import sys, numpy, numba, scipy; print(sys.version); print('numpy', numpy.__version__, 'numba', numba.__version__, 'scipy', scipy.__version__)"
  "$PY" -c "import cupy; print('cupy', cupy.__version__, 'cuda runtime', cupy.cuda.runtime.runtimeGetVersion()); from cupy.cuda import nccl; print('nccl', nccl.available)"
  "$PY" -c "import numba_cuda; print('numba-cuda', numba_cuda.__version__)"
  "$PY" -c "import torch; print('torch', torch.__version__)"
  "$PY" -c "import pytest; print('pytest', pytest.__version__, pytest.__file__)"
  "$PY" -c "from numba import cuda; print('numba.cuda available', cuda.is_available()); cuda.detect()"
} > "$OUT/env.txt" 2>&1
timeout "$BENCH_S" "$PY" benchmarks/bench_gpu.py --json "$OUT/bench.json" > "$OUT/bench.log" 2>&1
echo "bench rc=$?" >> "$OUT/env.txt"
run() {   # name, "VAR=value ...", pytest args...
  local name=$1 envs=$2; shift 2
  env $envs timeout "$SUITE_S" "$PY" -m pytest -v -p no:cacheprovider --tb=short -rfE \
      --junitxml "$OUT/$name.xml" "$@" > "$OUT/$name.log" 2>&1
  echo "$name rc=$?" >> "$OUT/env.txt"
}
run gpu_tests "MINDLAB_TEST_DEVICE=CPU" tests/gpu &
run ops_pynative "MINDLAB_TEST_DEVICE=GPU" tests/ops &
run rest_pynative "MINDLAB_TEST_DEVICE=GPU" tests/nn tests/autodiff tests/graph tests/train tests/test_tensor.py &
run ops_graph "MINDLAB_TEST_DEVICE=GPU MINDLAB_TEST_MODE=graph" tests/ops &
run rest_graph "MINDLAB_TEST_DEVICE=GPU MINDLAB_TEST_MODE=graph" tests/nn tests/autodiff tests/graph tests/passes &
{ timeout "$SUITE_S" "$PY" benchmarks/fuzz_programs.py -n 300 --parallel-every 0 --device GPU > "$OUT/fuzz_gpu.log" 2>&1
  echo "fuzz_gpu rc=$?" >> "$OUT/env.txt"; } &
wait
tail -12 "$OUT/fuzz_gpu.log" >> "$OUT/env.txt"
for f in "$OUT"/*_*.log; do   # one compact file of failures (the device tool returns a few files only)
  echo "=== $(basename "$f"): $(grep -c ' PASSED' "$f") passed, $(grep -c ' FAILED' "$f") failed"
  grep '^FAILED' "$f" | sort -u
  grep -h '^E  ' "$f" | sort | uniq -c | sort -rn | head -25
done > "$OUT/failures.txt" 2>&1
rm -f "$OUT"/*.xml
mkdir -p "$OUT/logs" && mv "$OUT"/*_*.log "$OUT/logs/" && tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$OUT/logs"
cat "$OUT/env.txt"
