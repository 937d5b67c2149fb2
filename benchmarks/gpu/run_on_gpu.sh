#!/usr/bin/env bash
# Run ON THE GPU MACHINE, from the repository root, after benchmarks/gpu/prepare_wheels.sh put the
# missing wheels in .whl/: installs them into /tmp/site, runs the cuda-marked tests, then takes the
# epoch figures of docs/BENCHMARKS.md ("Training on a GPU"): ResNet-20 and ResNet-56 on 50,000
# synthetic CIFAR-10-sized images at batch 128, dense / SPR / SPR prox on both data paths, plain,
# with bf16 + channels_last, and with torch.compile too; then 1, 2 and 4 runs at once on the GPU.
#
#   bash benchmarks/gpu/run_on_gpu.sh [output folder, default $OUT or runs/gpu]
#   (environment: STEPS=100 ROUNDS=3 MODELS="resnet20 resnet56" COMPILE=1 SAMPLES=50000 PYTHON=python3
#    CONCURRENT="1 2 4" (the numbers of runs at once on the GPU; empty: none) TESTS=1; DEVICE=cpu for a dry run)
set -uo pipefail
cd "$(dirname "$0")/../.."
RESULTS="${1:-${OUT:-runs/gpu}}"
STEPS="${STEPS:-100}"
ROUNDS="${ROUNDS:-3}"
MODELS="${MODELS:-resnet20 resnet56}"
COMPILE="${COMPILE:-1}"
SAMPLES="${SAMPLES:-50000}"
DEVICE="${DEVICE:-cuda}"
CONCURRENT="${CONCURRENT-1 2 4}"
TESTS="${TESTS:-1}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$RESULTS"
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
      torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')" | tee "$RESULTS/gpu.txt"
tests_status=0
if [ "$TESTS" = 1 ]; then
    "$PYTHON" -m pytest -m cuda -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$RESULTS/cuda_tests.txt"
    tests_status=${PIPESTATUS[0]}
fi
bench() { "$PYTHON" -m spr_or.cli bench epoch --device "$DEVICE" --num-samples "$SAMPLES" --max-steps "$STEPS" \
          --rounds "$ROUNDS" --workers 8 "$@"; }
for model in $MODELS; do
    bench --model "$model" --out "$RESULTS/epoch_${model}_fp32.json" 2>&1 | tail -9
    bench --model "$model" --bf16 --channels-last --out "$RESULTS/epoch_${model}_bf16_cl.json" 2>&1 | tail -9
    if [ "$COMPILE" = 1 ]; then
        bench --model "$model" --bf16 --channels-last --compile --loaders device \
            --out "$RESULTS/epoch_${model}_bf16_cl_compile.json" 2>&1 | tail -6
    fi
done
for processes in $CONCURRENT; do
    bench --model "${MODELS%% *}" --bf16 --channels-last --loaders device --modes dense,spr_prox --processes "$processes" \
        --out "$RESULTS/concurrent_${processes}.json" 2>&1 | tail -4
done
if [ "$tests_status" != 0 ]; then
    echo "the cuda tests failed (exit $tests_status): $RESULTS/cuda_tests.txt" >&2
    exit "$tests_status"
fi
