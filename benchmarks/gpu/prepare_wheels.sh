#!/usr/bin/env bash
# Run HERE (a machine with the package registry), from the repository root: downloads into .whl/ the
# wheels a bare GPU machine without internet lacks for training and benchmarking with spr-or.
# Such a machine has torch, torchvision, numpy, scipy, matplotlib, scikit-learn, tqdm, pyyaml and
# pytest; spr_or trains without the OR solvers (cvxpy, HiGHS, Pyomo, SCIP: tests/test_training_without_solvers.py),
# so it needs torch-pruning (pure Python), and for MNIST-1D runs the mnist1d package with requests (which
# mnist1d imports; its own needs are pure Python too but one: charset_normalizer, a binary wheel). Then copy the repository with .whl/ to the GPU
# machine and run benchmarks/gpu/run_on_gpu.sh there (docs/reproduce.md, "On a GPU machine").
#
#   bash benchmarks/gpu/prepare_wheels.sh [python version of the GPU machine, default 3.12]
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON_VERSION="${1:-3.12}"
PIP="${PIP:-python3 -m pip}"
mkdir -p .whl
$PIP download --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "torch-pruning==1.6.1" "mnist1d==0.0.2.post1" requests urllib3 idna charset_normalizer certifi
ls -l .whl
