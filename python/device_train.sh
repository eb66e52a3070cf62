#!/bin/sh
# Train the built-in model on a CUDA machine (torch 2.x) and leave what export needs under
# $OUT/run: vae.pt, latent_stats.json, dit-ema.pt (each well under 16 MiB) and log.jsonl.
# Export on the project's own machine afterwards (Debian's torch writes the reference graphs):
#   .venv/bin/python python/train.py --run <fetched>/run --stage export --export models/flowedit-tiny
# Budget: VAE_MIN + DIT_MIN + POLISH_MIN minutes of training plus start-up.
# RENDER_ON=device (the default) renders the transformer's batches on the GPU (train.py --render-on
# device): the WORKERS processes only draw scenes and tokenise captions, and every sample is a scene
# of its own (BATCH 512 scenes a step, REPEAT 1, clip steps of CLIP_BATCH 32 clips). Should that
# fail, the script goes on for the minutes left with RENDER_ON=workers.
# RENDER_ON=workers renders in the WORKERS processes (numpy). That limited the transformer's steps
# (measured on an H100: 0.12 s per step of 128 scenes × 4 with 14 rendering processes, before the
# renderer was made ~3x faster), so there each scene is used REPEAT times per step, each copy with
# its own t and noise (default BATCH 128, REPEAT 4, CLIP_BATCH 8).
# RESUME=<run folder> (e.g. runs/from-pack, copied to the machine) continues an earlier run:
# its VAE is kept as it is (VAE_MIN is then 0: a VAE trained further would move the latents the
# transformer has learned) and the transformer goes on from its checkpoint (dit.pt, or the EMA
# weights alone in dit-ema.pt with a fresh optimiser); a RESUME folder holding only vae.pt and
# latent_stats.json keeps that VAE and trains a new transformer. The run goes on in RUN_DIR, which
# must then be empty or new; without RUN_DIR each call makes a new folder under /tmp (printed), so a
# second run on a machine still warm from the first never meets the first one's files.
# A folder to RESUME from can be made from any exported pack: python/unpack.py --pack <pack> --config
# <its config> --run <folder> writes that pack's vae.pt, latent_stats.json and dit-ema.pt.
# The transformer-stage trials the committed pack does not use (docs/lab/built-in-model.md) run through
# experiments/trials.py instead of train.py when one of these is set: SHAPE_AUX=<λ> (the shape map,
# SHAPE_AUX_LAYER), CAPTION_CONTRAST=<λ> (CAPTION_CONTRAST_T=<t_lo>), both only while batches are rendered on
# the device (the fallback to rendering processes trains without them), CLOSE_P=<p> (close-ups) and
# OBJECT_WEIGHT=<λ> (the object-weighted flow loss).
# VAE_OBJECT_WEIGHT=<λ> trains a new VAE (no RESUME) on crops around objects with their pixels weighted
# 1 + λ (train.py --vae-object-weight).
# CONFIG=<train.py --config> picks the network (default flowedit-tiny; flowedit-tiny-wide is the
# larger transformer on the same VAE: start it from a folder without dit-ema.pt, and export with
# the same --config). flowedit-tiny-p2 has patches of 2 × 2 latent cells, 256 tokens a frame: its
# attention, written out for the ONNX export, holds [CLIP_BATCH, 4, 4368, 4368] per layer on a
# 17-frame clip, so give it CLIP_BATCH=8.
set -eu
if [ -n "${RESUME:-}" ]; then RESUME="$(cd "$RESUME" && pwd)"; fi
cd "$(dirname "$0")"
: "${OUT:?set OUT to the folder that comes back}"
RUN="${RUN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/flowedit-run.XXXXXX")}"
echo "run folder: $RUN" >&2
if [ -n "${RESUME:-}" ] && [ -n "$(ls -A "$RUN" 2>/dev/null)" ]; then
  # the RESUME folder defines the run: checkpoints left there by another run would be mixed in
  echo "$RUN already holds a run: give RUN_DIR an empty or new folder to resume $RESUME in, or remove $RUN" >&2
  exit 2
fi
mkdir -p "$RUN" "$OUT/run"
if [ -n "${RESUME:-}" ]; then
  cp -r "$RESUME/." "$RUN/"
  VAE_MIN=0
fi
# Bring the newest EMA weights out as the run goes, so a run stopped at its time limit still
# returns its progress (each checkpoint is written to a temporary file and renamed, so a copy
# never sees half a file).
( while sleep 20; do cp "$RUN/dit-ema.pt" "$RUN/log.jsonl" "$OUT/run/" 2>/dev/null || true; done ) >/dev/null 2>&1 &
COPIER=$!
trap 'kill $COPIER 2>/dev/null || true' EXIT
RENDER_ON="${RENDER_ON:-device}"
START=$(date +%s)
train() {  # $1: where batches are rendered; $2: transformer minutes
  if [ "$1" = device ]; then b=512; r=1; cb=32; aux="${SHAPE_AUX:-0}"; con="${CAPTION_CONTRAST:-0}"; else b=128; r=4; cb=8; aux=0; con=0; fi
  # the recipe, or with a trial's setting experiments/trials.py and its options
  if [ "$aux$con${CLOSE_P:-0}${OBJECT_WEIGHT:-0}" = 0000 ]; then script=train.py; set -- "$1" "$2"
  else script=experiments/trials.py; set -- "$1" "$2" --close-p "${CLOSE_P:-0}" --object-weight "${OBJECT_WEIGHT:-0}" \
    --shape-aux "$aux" --shape-aux-layer "${SHAPE_AUX_LAYER:-3}" --caption-contrast "$con" --caption-contrast-t "${CAPTION_CONTRAST_T:-0}"; fi
  where="$1"; minutes="$2"; shift 2
  "${PYTHON:-python3}" "$script" --config "${CONFIG:-flowedit-tiny}" --run "$RUN" --device "${DEVICE:-cuda}" --threads "${THREADS:-4}" --workers "${WORKERS:-12}" --encode-in-workers 0 \
    --vae-steps 100000 --vae-minutes "${VAE_MIN:-1.5}" --vae-batch 64 --vae-crop 64 --vae-crops 2 --vae-object-weight "${VAE_OBJECT_WEIGHT:-0}" \
    --render-on "$where" --batch "${BATCH:-$b}" --repeat "${REPEAT:-$r}" --clip-batch "${CLIP_BATCH:-$cb}" \
    --dit-minutes "$minutes" --lr "${LR:-4e-4}" --lr-schedule cosine \
    --polish-minutes "${POLISH_MIN:-0.5}" --save-every "${SAVE_EVERY:-60}" "$@"
}
if ! train "$RENDER_ON" "${DIT_MIN:-6}"; then
  [ "$RENDER_ON" = device ] || exit 1
  LEFT=$(awk -v m="${DIT_MIN:-6}" -v s="$(( $(date +%s) - START ))" 'BEGIN { l = m - s / 60; print (l > 0.5 ? l : 0.5) }')
  echo "rendering on the device failed; going on with rendering processes for $LEFT minutes" >&2
  if [ -f "$RUN/vae.pt" ]; then VAE_MIN=0; fi  # a VAE trained already stays as it is
  train workers "$LEFT"
fi
kill $COPIER 2>/dev/null || true
cp "$RUN/vae.pt" "$RUN/latent_stats.json" "$RUN/dit-ema.pt" "$RUN/log.jsonl" "$OUT/run/"
ls -la "$OUT/run"
