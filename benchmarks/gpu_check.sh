#!/usr/bin/env bash
# One command that measures a GPU (see benchmarks/gpu_check.py): the CUDA row of train_speed.py, a few
# hundred steps of every CLI model (images/s, peak memory, fraction of the GPU's peak bf16 FLOP/s) and one
# full evaluation; writes benchmarks/results/gpu-check-DATE.md. Bounded to nine minutes.
#
#   bash benchmarks/gpu_check.sh                      # from the repository root, on a machine with CUDA
#   bash benchmarks/gpu_check.sh --peak-tflops 165    # a GPU missing from the script's table of peaks
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$(pwd)"  # works from a checkout without installing ganlib
# The script stops starting new parts after its --budget (500 s); timeout is the hard stop at nine minutes.
exec timeout --signal=INT --kill-after=20 540 python benchmarks/gpu_check.py "$@"
