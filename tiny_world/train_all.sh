#!/usr/bin/env bash
# Retrain every model of the tiny world (v2: defects, binary attributes, linear-colour latent).
# These are the commands that made the shipped weights (see tiny_world/weights/README.md).
# Run from the repository root after `make setup`:
#
#   bash tiny_world/train_all.sh                 # every stage: vae decoder judges unet quality
#   bash tiny_world/train_all.sh unet quality    # some stages
#   RESUME=1 bash tiny_world/train_all.sh unet   # continue a cut-off stage from its checkpoint
#
# One torch thread, niced. Every stage is seeded and step-counted (--max-steps fixes the
# learning-rate schedule), so a rerun repeats the same schedule whatever the machine's speed.
# On the shared 2-core CPU that made the shipped weights some schedules were cut off at a
# checkpoint and then continued under a longer one; --stop-at repeats each cut exactly (see
# tiny_world/weights/README.md for the steps and times). Checkpoints live in
# .cache/tiny_world/checkpoints. TINY_WORLD_WEIGHTS=DIR writes the weights elsewhere than
# tiny_world/weights (the shipped ones stay in use meanwhile).
set -euo pipefail
PY="${PYTHON:-.venv/bin/python}"
export OMP_NUM_THREADS=1
RUN="nice -n 10 $PY -m"
R=""
if [ "${RESUME:-0}" = "1" ]; then R="--resume"; fi
STAGES="${*:-vae decoder judges unet quality}"
UNET_STEPS="${UNET_STEPS:-7000}"

for stage in $STAGES; do
  case "$stage" in
    vae)     # 70% of the steps on 32x32 crops, the rest on whole images; linear-preview loss
      $RUN tiny_world.train_vae --seed 0 --max-steps 1200 $R ;;
    decoder) # sharpen the decoder on whole images, encoder frozen (the UNet's latents stay);
      # as shipped, a 700-step schedule cut at step 200
      $RUN tiny_world.train_vae --seed 1 --decoder-only --max-steps 700 --stop-at 200 --batch 8 --lr 5e-4 $R ;;
    judges)  # attribute classifier (9 heads), then the CLIP evaluator with hard negatives
      # (the evaluator as shipped: a 2000-step schedule cut at step 300, then an 800-step one)
      $RUN tiny_world.train_judges --seed 0 --classifier-steps 1500 --evaluator-steps 2000 --evaluator-stop-at 300 $R
      $RUN tiny_world.train_judges --seed 0 --classifier-steps 1500 --evaluator-steps 800 --resume
      # then 1600 more steps in which half of each batch are rendered twins of the other half
      # (one defect toggled or one attribute changed), so that a clean image must beat its
      # defective twin against the plain caption
      $RUN tiny_world.train_judges --seed 0 --classifier-steps 1500 --evaluator-steps 2400 --evaluator-twins 0.5 --resume ;;
    unet)    # frozen seeded text encoder; 12% "", 35% partial captions from the first step; EMA.
      # Two schedules, as the shipped weights were made: a 4000-step one at batch 16, cut at
      # step 1750 on a loaded machine, then continued (optimizer, EMA and random streams
      # resumed) under a 7000-step schedule at batch 32.
      $RUN tiny_world.train_unet --seed 0 --max-steps 4000 --stop-at 1750 --batch 16 --images 6144 --checkpoint-every 250 $R
      $RUN tiny_world.train_unet --seed 0 --max-steps "$UNET_STEPS" --batch 32 --images 6144 --checkpoint-every 250 --resume
      # then a fine-tune with offset noise (0.8 of a per-channel constant added to the noise):
      # on an 8x8 latent the first step's noise mean is large enough to decide the colour and
      # the background, and offset noise teaches the model to take those from the text
      $RUN tiny_world.train_unet --seed 0 --finetune --offset-noise 0.8 --max-steps 1500 --lr 3e-4 --warmup 100 --batch 32 --images 6144 --checkpoint-every 250 $R ;;
    quality)
      $RUN tiny_world.quality --seed 0 ;;
    *) echo "unknown stage $stage (expected vae, decoder, judges, unet, quality)" >&2; exit 2 ;;
  esac
done
