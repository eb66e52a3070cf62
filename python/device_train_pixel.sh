#!/bin/sh
# Train the pixel-space model (flowedit-pixel: 64×64, patch 4, no VAE) on one CUDA GPU and bring back
# under $OUT/run what export needs: dit-ema.pt (the EMA weights in half precision, under 16 MiB) and
# log.jsonl (the loss, and the in-run check's curve: samples seen -> shape, colour, background and
# whole-caption accuracy of 128 held-out captions under the strict judge, every CHECK_EVERY seconds).
# Both are copied to $OUT/run every 20 s while it trains, so a run stopped at its time limit still
# returns its progress. Export and measure on the project's own machine afterwards
# (docs/built-in-model.md, "Retraining").
# Budget: DIT_MIN minutes of training (default 8.5; the checks' time is not counted) and at most WALL_MIN
# minutes for the stage, checks included (default 9.3), so the whole command, start-up included, ends
# inside a 10-minute limit.
# Training (python/train_pixel.py): bfloat16 autocast and fused attention on CUDA, scenes drawn as render
# plans by WORKERS processes and rendered on the GPU, BATCH stills a step (default 512; a share CLIP_P of
# the steps are CLIP_BATCH clips of 5 or 9 frames, CLIP_FRAMES), the enlarged-object mix (ENLARGED, then
# ENLARGED_LATE in the last quarter), the loss weighted 1 + OBJECT_LAMBDA on the objects, cosine learning
# rate from LR. RESUME=<run folder holding dit-ema.pt> continues an earlier run's EMA weights.
# A local dry run: DEVICE=cpu THREADS=1 WORKERS=1 BATCH=4 CLIP_BATCH=2 DIT_MIN=0.5 CHECK_EVERY=10
#   CHECK_COUNT=8 PYTHON=$PWD/.venv/bin/python OUT=/tmp/o sh python/device_train_pixel.sh
set -eu
if [ -n "${RESUME:-}" ]; then RESUME="$(cd "$RESUME" && pwd)"; fi
cd "$(dirname "$0")"
: "${OUT:?set OUT to the folder that comes back}"
RUN="${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/flowedit-pixel.XXXXXX")}"
echo "run folder: $RUN" >&2
if [ -n "${RESUME:-}" ] && [ -n "$(ls -A "$RUN" 2>/dev/null)" ]; then
  echo "$RUN already holds a run: give RUN_DIR an empty or new folder to resume $RESUME in, or remove $RUN" >&2
  exit 2
fi
mkdir -p "$RUN" "$OUT/run"
if [ -n "${RESUME:-}" ]; then cp "$RESUME/dit-ema.pt" "$RUN/"; fi
( while sleep 20; do cp "$RUN/dit-ema.pt" "$RUN/log.jsonl" "$OUT/run/" 2>/dev/null || true; done ) >/dev/null 2>&1 &
COPIER=$!
trap 'kill $COPIER 2>/dev/null || true' EXIT
PYTHONUNBUFFERED=1 "${PYTHON:-python3}" train.py --config "${CONFIG:-flowedit-pixel}" --size "${SIZE:-64}" --run "$RUN" \
  --stage dit --device "${DEVICE:-cuda}" --threads "${THREADS:-4}" --workers "${WORKERS:-12}" --render-on device \
  --batch "${BATCH:-512}" --repeat 1 --clip-p "${CLIP_P:-0.1}" --clip-batch "${CLIP_BATCH:-16}" --clip-frames "${CLIP_FRAMES:-5,9}" \
  --dit-minutes "${DIT_MIN:-8.5}" --wall-minutes "${WALL_MIN:-9.3}" --lr "${LR:-5e-4}" --lr-schedule cosine --warmup "${WARMUP:-200}" \
  --enlarged "${ENLARGED:-0.4}" --enlarged-late "${ENLARGED_LATE:-0.15}" --object-lambda "${OBJECT_LAMBDA:-4}" \
  --check-every "${CHECK_EVERY:-90}" --check-count "${CHECK_COUNT:-128}" --check-steps "${CHECK_STEPS:-10}" \
  --save-every "${SAVE_EVERY:-60}"
kill $COPIER 2>/dev/null || true
cp "$RUN/dit-ema.pt" "$RUN/log.jsonl" "$OUT/run/"
ls -la "$OUT/run"
