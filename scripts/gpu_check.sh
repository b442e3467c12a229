#!/usr/bin/env bash
# The GPU path, run for real, in one command (at most 12 minutes on a CUDA GPU, no network needed):
#
#   scripts/gpu_check.sh MNIST_DIR OUT_DIR [--cpu-rehearsal]
#
# MNIST_DIR holds MNIST's four IDX files (.gz or not). OUT_DIR receives results.json (everything
# measured, and the issue's targets met or not), summary.txt (the same, for people), results.md
# (a section ready for benchmarks/RESULTS.md) and logs.tar.gz (every step's full output).
#   1. the GPU, driver, torch and torchvision versions;
#   2. the test suite's CUDA tests (pytest -m cuda: tests/test_cuda.py and every test skipped
#      for lack of a GPU);
#   3. the bench on real MNIST (python -m cnnbook bench --device cuda --gpu-alexnet --compile): the
#      usual-loop baseline, cnnbook's recipes, the race to 99.0% against the peer
#      (tuomaso/train_mnist_fast's recipe, 3 seeds) and AlexNetCIFAR's compiled training speed;
#   4. every chapter's full budget as plain Python (scripts/nb_to_py.py; no Jupyter needed), with
#      the data in MNIST_DIR and no CIFAR-10 (the chapters then use what they have at hand), each
#      chapter's own time estimate kept beside its measured seconds;
#   5. results.json, summary.txt, results.md.
# --cpu-rehearsal runs the same steps on the CPU in quick mode (a few minutes), writing the same
# files: rehearse here, so that the one call on a GPU machine works (tests/test_gpu_check.py).
#
# cnnbook is imported from this working tree (no install). Python: $PYTHON, else .venv/bin/python
# if present, else python3. If IPython or ipywidgets is missing and the folder .whl/ holds their
# wheels, they are installed into a temporary folder first (the GPU machine has neither).
set -uo pipefail

usage() { echo "usage: scripts/gpu_check.sh MNIST_DIR OUT_DIR [--cpu-rehearsal]" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 3 ] || usage
MNIST_DIR=$1 OUT=$2 REHEARSAL=0
if [ $# -eq 3 ]; then [ "$3" = --cpu-rehearsal ] || usage; REHEARSAL=1; fi
ls "$MNIST_DIR"/train-images-idx3-ubyte* >/dev/null 2>&1 || {
  echo "gpu_check: MNIST_DIR=$MNIST_DIR holds no train-images-idx3-ubyte[.gz]" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MNIST_DIR=$(cd "$MNIST_DIR" && pwd)
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d) LOGS=$WORK/logs
mkdir -p "$LOGS" "$WORK/data"
cd "$ROOT"

# Every step has a time cap, and all of them together a deadline (GPU_CHECK_SECONDS, default 700 s
# on a GPU: tests 90 s, bench 200 s, chapters 400 s; a rehearsal on a busy 2-core CPU gets three
# times the caps and 1,500 s).
SCALE=$(( REHEARSAL ? 3 : 1 ))
START=$(date +%s) DEADLINE=$(( $(date +%s) + ${GPU_CHECK_SECONDS:-$(( REHEARSAL ? 1500 : 700 ))} ))
left() { echo $(( DEADLINE - $(date +%s) )); }
cap() { local want=$(( $1 * SCALE )) l; l=$(( $(left) - 10 ))
        [ "$want" -lt "$l" ] && echo "$want" || echo $(( l > 5 ? l : 5 )); }

PY=${PYTHON:-}
[ -n "$PY" ] || { [ -x .venv/bin/python ] && PY=$ROOT/.venv/bin/python || PY=python3; }
export PYTHONPATH=$ROOT PYTHONUNBUFFERED=1 MPLBACKEND=Agg
if ! "$PY" -c "import IPython, ipywidgets" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" .whl/*.whl \
    > "$LOGS/wheels.log" 2>&1 && export PYTHONPATH=$ROOT:$WORK/site
fi
# The data folder the chapters and the bench read: MNIST linked in, room for CIFAR-10's (failed) download.
for f in "$MNIST_DIR"/*; do ln -s "$f" "$WORK/data/$(basename "$f")"; done
export CNNBOOK_DATA=$WORK/data

if [ $REHEARSAL = 1 ]; then
  DEVICE=cpu; BENCH_EXTRA=(--quick); CHAPTER_ENV=(CNNBOOK_QUICK=1 CNNBOOK_DEVICE=cpu)
else
  DEVICE=cuda; BENCH_EXTRA=(); CHAPTER_ENV=(CNNBOOK_BUDGET=full)
fi
echo "gpu_check: device $DEVICE, python $PY, logs in $OUT/logs.tar.gz"

# 1. the machine
{ if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  else echo "nvidia-smi: not installed"; fi
  "$PY" - <<'EOF'
import json, platform, sys
import torch, torchvision
info = {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
        "torchvision": torchvision.__version__, "cuda_available": torch.cuda.is_available(),
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
try:
    import subprocess
    smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True, timeout=30)
    info["driver"] = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 and smi.stdout.strip() else None
except (OSError, subprocess.SubprocessError):
    info["driver"] = None
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), sm_count=p.multi_processor_count,
                capability=f"{p.major}.{p.minor}", gpu_count=torch.cuda.device_count())
print("ENV_JSON " + json.dumps(info))
EOF
} > "$LOGS/1-env.log" 2>&1
cat "$LOGS/1-env.log"

# 2. the CUDA tests
echo "== CUDA tests (pytest -m cuda)"
timeout "$(cap ${GPU_CHECK_TEST_SECONDS:-90})" "$PY" -m pytest -m cuda tests -q -p no:cacheprovider -o addopts="-ra" \
  --continue-on-collection-errors > "$LOGS/2-tests.log" 2>&1
echo "tests exit $?" >> "$LOGS/2-tests.log"; tail -3 "$LOGS/2-tests.log"

# 3. the bench, once: the table of benchmarks/RESULTS.md, the race against the peer, AlexNetCIFAR
# compiled (GPU_CHECK_BENCH=0 skips it: the test of the rehearsal does, to stay short)
if [ "${GPU_CHECK_BENCH:-1}" = 1 ]; then
echo "== bench"
# GPU_CHECK_BASELINE=0 skips the usual-loop baseline (its PIL pipeline is slow); GPU_CHECK_COMPILE=0
# times AlexNetCIFAR uncompiled: both for a run with little device time left.
BENCH_FLAGS=(--seeds "${GPU_CHECK_SEEDS:-3}")
[ "${GPU_CHECK_BASELINE:-1}" = 1 ] || BENCH_FLAGS+=(--skip-baseline)
[ "${GPU_CHECK_COMPILE:-1}" = 1 ] && BENCH_FLAGS+=(--compile)
timeout "$(cap 200)" "$PY" -m cnnbook bench --device $DEVICE --gpu-alexnet --data-root "$CNNBOOK_DATA" \
  "${BENCH_FLAGS[@]}" --no-progress --json "$WORK/bench.json" "${BENCH_EXTRA[@]}" > "$LOGS/3-bench.log" 2>&1
echo "bench exit $?" >> "$LOGS/3-bench.log"; tail -12 "$LOGS/3-bench.log"
fi

# 4. every chapter, full budget (quick in rehearsal), all at once: one GPU, many CPU cores
echo "== chapters"
CHAPTER_CAP=$(cap 400)
# GPU_CHECK_CHAPTERS="padding pooling" runs only those (tests/test_gpu_check.py uses one).
for nb in book/*.ipynb; do
  name=$(basename "$nb" .ipynb)
  [ -z "${GPU_CHECK_CHAPTERS:-}" ] || [[ " $GPU_CHECK_CHAPTERS " == *" $name "* ]] || continue
  "$PY" scripts/nb_to_py.py "$nb" > "$WORK/$name.py" || continue
  ( cd book && s=$(date +%s)
    env "${CHAPTER_ENV[@]}" CNNBOOK_STRICT=1 CNNBOOK_GLUE_OUT="$WORK/$name.glue.json" \
      timeout "$CHAPTER_CAP" "$PY" "$WORK/$name.py" > "$LOGS/4-chapter-$name.log" 2>&1
    echo "CHAPTER_EXIT $? $(( $(date +%s) - s ))" >> "$LOGS/4-chapter-$name.log" ) &
done
wait
for f in "$LOGS"/4-chapter-*.log; do echo "$(basename "$f" .log): $(tail -1 "$f")"; done

# 5. one JSON file with everything measured and the targets, a summary for people, a RESULTS.md section
"$PY" scripts/gpu_check_report.py "$WORK" "$OUT" "$REHEARSAL" "$(( $(date +%s) - START ))"
tar -czf "$OUT/logs.tar.gz" -C "$WORK" logs
echo "gpu_check: wrote $OUT/results.json, $OUT/summary.txt, $OUT/results.md, $OUT/logs.tar.gz in $(( $(date +%s) - START )) s"
# exit status: 0 when every step passed
"$PY" -c "
import json, sys
r = json.load(open('$OUT/results.json'))
bench_ok = r['bench'] is not None or '${GPU_CHECK_BENCH:-1}' == '0'
ok = not r['tests']['failed'] and bench_ok and all(c['status'] == 'passed' for c in r['chapters'].values())
sys.exit(0 if ok else 1)"
