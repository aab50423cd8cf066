#!/usr/bin/env bash
# One GPU check, well inside 10 minutes on one H100/H200:
#   1. the device;  2. `predict` throughput, batched fp16 against one image at a time;
#   3. the app's inference worker on 20 photos and the training dock's child command for one
#      epoch, both on CUDA and offscreen;  4. the default recipe with AMP for TRAIN_MINUTES on
#      train+extra, packaged as an fp16 model with its card and scored on the valid photos.
#
#   DATA=../shared/data/svhn OUTDIR=runs/gpu_check TRAIN_MINUTES=5 scripts/gpu_check.sh
#
# STEPS picks the steps to run (default "1 2 3 4"); CONFIG the training recipe of step 4
# (default configs/gpu_train.json; configs/printed_v10_gpu.json warm-starts the printed model).
# Step 3 needs PySide6 and is skipped, with a word, where it cannot be imported.
#
# DATA is a dataset root in the usual layout (train/ train.json, extra/ extra.json, valid/
# valid.json; scripts/compact_dataset.py makes a small copy of one to move to a GPU machine).
# The valid photos are only measured on, never trained on. Each step has its own time limit and
# a failed step does not stop the others; the exit code is the number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/svhn}
OUTDIR=${OUTDIR:-runs/gpu_check}
TRAIN_MINUTES=${TRAIN_MINUTES:-5}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-1 2 3 4}
CONFIG=${CONFIG:-configs/gpu_train.json}
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONUNBUFFERED=1 QT_QPA_PLATFORM=offscreen
mkdir -p "$OUTDIR"
failed=0
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    echo "== $name (limit ${limit}s)"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@"
    local rc=$?
    echo "== $name: exit $rc after $((SECONDS - t0)) s"
    [ $rc -eq 0 ] || failed=$((failed + 1))
}

want() { [[ " $STEPS " == *" $1 "* ]]; }

want 1 && step "1 device" 60 "$PY" -c "
import torch, torchvision
print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.version.cuda)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(p.name, f'{p.total_memory / 2**30:.0f} GiB', f'{p.multi_processor_count} SMs', 'capability', f'{p.major}.{p.minor}')
else:
    raise SystemExit('no CUDA device')"

want 2 && step "2 predict throughput" 120 "$PY" bench/predict_throughput.py --device "$DEVICE" \
    --images "$DATA/valid" --batch-size 128 --repeat 10 --workers 12
want 2 && step "2b predict CLI" 90 "$PY" -m trainer predict "$DATA/valid" --out "$OUTDIR/predict" \
    --device "$DEVICE" --batch-size 128 --workers 8

if want 3 && ! "$PY" -c "import PySide6" 2>/dev/null; then
    echo "== 3 app on $DEVICE: skipped, PySide6 cannot be imported here"
elif want 3; then
    step "3 app on $DEVICE" 240 "$PY" scripts/app_device_check.py --device "$DEVICE" \
    --images "$DATA/valid" --ann "$DATA/valid.json" --count 20 \
    --train-images "$DATA/train" --train-ann "$DATA/train.json" --out "$OUTDIR/app"
fi

want 4 || { echo "== $failed step(s) failed"; exit "$failed"; }
budget=$(( ${TRAIN_MINUTES%.*} * 60 + 150 ))
step "4 train ${TRAIN_MINUTES} min" "$budget" "$PY" -m trainer train --config "$CONFIG" \
    --train-images "$DATA/train" --train-ann "$DATA/train.json" \
    --train-images "$DATA/extra" --train-ann "$DATA/extra.json" \
    --device "$DEVICE" --max-minutes "$TRAIN_MINUTES" --out "$OUTDIR/train" ${TRAIN_ARGS:-}
if [ -f "$OUTDIR/train/best.pt" ]; then
    evaluate=()  # scored on the valid photos where they came along
    [ -f "$DATA/valid.json" ] && evaluate=(--eval-images "$DATA/valid" --eval-ann "$DATA/valid.json")
    step "4b package (and score on valid)" 120 "$PY" scripts/package_model.py "$OUTDIR/train" \
        --out "$OUTDIR/model.pt" "${evaluate[@]}" \
        --hardware "$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU")')" \
        --command "python -m trainer train --config $CONFIG (train+extra) --max-minutes $TRAIN_MINUTES --device $DEVICE"
fi
echo "== $failed step(s) failed"
exit "$failed"
