#!/bin/sh
# Train the built-in model on a CUDA machine (torch 2.x) and leave what export needs under
# $OUT/run: vae.pt, latent_stats.json, dit-ema.pt (each well under 16 MiB) and log.jsonl.
# Export on the project's own machine afterwards (Debian's torch writes the reference graphs):
#   /usr/bin/python3 python/train.py --run <fetched>/run --stage export --export models/flowedit-tiny
# Budget: VAE_MIN + DIT_MIN + POLISH_MIN minutes of training plus start-up.
# Rendering limits the transformer's steps (measured on an H100: 0.12 s per step of 128 scenes × 4
# with 14 rendering processes, before the renderer was made ~3x faster), so each scene is used REPEAT
# times per step, each copy with its own t and noise (default 4: a step of 4 × BATCH samples).
# RESUME=<run folder> (e.g. runs/flowedit-tiny, copied to the machine) continues an earlier run:
# its VAE is kept as it is (VAE_MIN is then 0: a VAE trained further would move the latents the
# transformer has learned) and the transformer goes on from its checkpoint (dit.pt, or the EMA
# weights alone in dit-ema.pt with a fresh optimiser); a RESUME folder holding only vae.pt and
# latent_stats.json keeps that VAE and trains a new transformer.
# CONFIG=<train.py --config> picks the network (default flowedit-tiny; flowedit-tiny-wide is the
# larger transformer on the same VAE: start it from a folder without dit-ema.pt, and export with
# the same --config).
set -eu
if [ -n "${RESUME:-}" ]; then RESUME="$(cd "$RESUME" && pwd)"; fi
cd "$(dirname "$0")"
: "${OUT:?set OUT to the folder that comes back}"
RUN="${RUN_DIR:-/tmp/flowedit-run}"
mkdir -p "$RUN" "$OUT/run"
if [ -n "${RESUME:-}" ]; then
  cp -r "$RESUME/." "$RUN/"
  VAE_MIN=0
fi
# Bring the newest EMA weights out as the run goes, so a run stopped at its time limit still
# returns its progress (each checkpoint is written to a temporary file and renamed, so a copy
# never sees half a file).
( while sleep 20; do cp "$RUN/dit-ema.pt" "$RUN/log.jsonl" "$OUT/run/" 2>/dev/null || true; done ) &
COPIER=$!
trap 'kill $COPIER 2>/dev/null || true' EXIT
"${PYTHON:-python3}" train.py --config "${CONFIG:-flowedit-tiny}" --run "$RUN" --device "${DEVICE:-cuda}" --threads "${THREADS:-4}" --workers "${WORKERS:-12}" --encode-in-workers 0 \
  --vae-steps 100000 --vae-minutes "${VAE_MIN:-1.5}" --vae-batch 64 --vae-crop 64 --vae-crops 2 \
  --batch "${BATCH:-128}" --repeat "${REPEAT:-4}" --clip-batch 8 --dit-minutes "${DIT_MIN:-6}" --lr "${LR:-4e-4}" --lr-schedule cosine \
  --object-weight "${OBJECT_WEIGHT:-0}" \
  --polish-minutes "${POLISH_MIN:-0.5}" --save-every "${SAVE_EVERY:-60}"
kill $COPIER 2>/dev/null || true
cp "$RUN/vae.pt" "$RUN/latent_stats.json" "$RUN/dit-ema.pt" "$RUN/log.jsonl" "$OUT/run/"
ls -la "$OUT/run"
