#!/usr/bin/env bash
# The synthetic-data study of README "Results": trains configs/synthetic.py
# (and its variants) at the same step budget and evaluates each run.
#
#   bash benchmarks/synthetic_study.sh ROOT [RUN ...]
#
# RUN names (default: sym16+no_size, the config's default, and its four
# ablations, the Fig. 3 study; sym16 is the one with the size constraint):
#   sym16              shape channels from G_o's blocks up to 16 x 16
#                      (model.shape_max_res) and a mirror-symmetric shape
#                      (model.shape_symmetry), size constraint on; with
#                      +no_size it is configs/synthetic.py's default;
#   sym8               the same with blocks up to 8 x 8 only;
#   sym0               the same with all of G_o's blocks (shape_max_res 0);
#   smr8, smr16        model.shape_max_res 8 / 16 only; sym16s3: sym16 with
#                      shape_output_scale 0.3; sym16lrM: sym16 with
#                      train.shape_lr_mult M (e.g. sym16lr0.1);
#   crisp no_size no_pyramid yaw120   the paper's ablations (config variants);
#   raw offset_hemisphere offset_disc offset_paraboloid hemisphere_scale0.3
#   hemisphere_scale1.0  shape parametrisations (hemisphere_scaleS:
#                      offset_hemisphere with shape_output_scale S;
#                      'hemisphere' is a synonym of offset_hemisphere);
#   seedN              config.seed N (initialisation, latents, viewpoints;
#                      the data set is the same);
#   noramp             train.ema_rampup 0: the EMA half-life is
#                      train.ema_kimg from the first step;
#   radR               model.base_radius R: the extent of the base surface
#                      (e.g. offset_paraboloid+rad0.8 ends at the sphere-cap
#                      baseline's rim, r = 0.8, z = 0);
#   sphere, wrapW      model.shape_param offset_sphere: the disc grid wrapped
#                      onto a ball of base_radius (radR), its rim W degrees
#                      (model.base_wrap_deg, default 120) from the pole,
#                      behind the equator like a head's sides;
#   lbaseM             model.learned_base_mult M: G_o learns a shape base of
#                      its own (zero at the start, added as M x it to the raw
#                      shape channels; e.g. lbase10); lbresR: its grid R x R
#                      (model.learned_base_res; bilinearly upsampled, smooth);
#   edgepad            model.skip_pad edge: G's skip-path upsampling repeats
#                      the border pixels instead of padding with zeros, so
#                      a toRGB bias moves the whole shape image alike;
#   sepshape           model.shape_branch separate: the shape channels from a
#                      tower of G_o's own (up to shape_max_res), sharing no
#                      weights with the texture;
#   initS              model.shape_init_scale S (e.g. init0.1): the untrained
#                      offsets from the base surface shrink by S;
#   sblrB              train.shape_bias_lr_mult B: the shape channels'
#                      toRGB biases (which move the whole shape image at
#                      once) learn B times as fast (0: they stay 0);
#   freezeS            train.shape_freeze_steps S: the shape stays at its
#                      start for G's first S steps;
#   meanface           the ground-truth mean face as the base surface
#                      (offset_template, written to ROOT/mean_face.npy by
#                      benchmarks/face_template.py): a diagnostic probe of
#                      the training objective, never a result;
#   noshade, objlight  other training data: no shading
#                      (data.synthetic.shading False), or the light attached
#                      to the face (data.synthetic.light_frame object), so
#                      that the shading is view-independent;
#   tiltT              other training data and light prior: the light cone's
#                      centre turned up by T degrees in both
#                      (data.synthetic.light_tilt_deg, light.tilt_deg; build
#                      such data once before two runs share it);
#   spreadS            other training data and light prior: lights within S
#                      degrees of the cone's centre in both
#                      (data.synthetic.light_spread_deg, light.spread_deg;
#                      default 40; build such data once, as for tiltT);
#   viewsY             other training data and viewpoint prior: yaw within
#                      +-Y degrees in both (data.synthetic.yaw_range_deg,
#                      viewpoint.yaw_range_deg; default 45; build once);
#   smooth             other training data: faces without their fine relief
#                      (the brows', eyes', nose's, cheeks', lips' and chin's
#                      heights 0: the head's dome, jaw and skirt only);
#   nohair             other training data: no hair above the hairline
#                      (data.synthetic.face.hairline (1.5, 1.5), above the
#                      face; the hair at the sides of the head stays);
#   texoffX            model.texture_offset X: the untrained albedo's mean
#                      (e.g. texoff-0.17; 0 = the network's own output);
#   leanW              train.lean_weight W: penalise the batch's mean lean
#                      (gan3d.losses.lean_penalty; e.g. lean10);
#   fleanW             the same with train.lean_measure front: the lean of
#                      the surface seen from the front (gan3d.losses.
#                      front_lean; e.g. flean100);
#   ncW                train.smooth_weight W: the smoothness prior on G's
#                      meshes (gan3d.losses.normal_consistency; e.g. nc100;
#                      without ncW a run has W = 0, the paper);
#   creaseW            train.crease_weight W: the crease prior on G's meshes
#                      (gan3d.losses.crease_penalty: changes of bending
#                      between neighbouring cells; e.g. crease20);
#   leakL              light.leak L: the lit generator's shading keeps a slope
#                      L where it faces away from the light (e.g. leak0.2);
#   boundalb           light.bounded_albedo True: the lit generator's albedo
#                      is tanh(texture), inside the data's range;
#   winK               render.window K: the renderer's pixel window per
#                      triangle (default 4; the training log's
#                      render_overflow counts the triangles it clips);
#   resR               config.resolution R (renders and data at R x R,
#                      generator at 2R; build the data set once before two
#                      runs share it);
#   ssS                render.supersample S: G's images rendered at S times
#                      the resolution and averaged down, as the photos are
#                      (window and soft width in pixels of that render:
#                      combine with winK, e.g. ss2+win6);
#   slopeL, sppP       render.slope L (lambda_slope of eq 9, depth per
#                      pixel; e.g. slope0.1) and render.soft_pairs_per_pixel
#                      P (the soft layer's pair capacity; the training log's
#                      soft_overflow counts the pairs it drops);
#   r1G, glrX, dlrX, bsB   the GAN's own knobs: train.r1_gamma G (default
#                      0.05), train.g_lr / train.d_lr X (0.0025) and
#                      train.batch_size B (16); dcbC, dcmC: the
#                      discriminator's model.d_channel_base C (1024) and
#                      model.d_channel_max C (64);
#   progK              progressive growing from 16 x 16 (model.progressive,
#                      the paper's schedule): K thousand images at 16 x 16,
#                      then a K-kimg fade-in to 32 x 32;
#   lit, unlit         the generator's light prior (config.light.model
#                      camera / none; every name starts unlit, as the paper).
# Join names with '+' to combine them: sym16+crisp is the crisp ablation of
# sym16. Every name starts from the paper's generator (shape_max_res=0, no
# symmetry, size constraint on, no smoothness prior; the config's default
# before 2026-11-26) and from the D width, renderer and R1 weight of the
# defaults before 2026-11-29 evening (dcb1024, dcm64, ss1, win4, r1 0.05),
# so plain `crisp` is the paper's model without the soft layer, and the
# config's default is sym16+no_size+nc100+dcb2048+dcm128+ss2+win6+r11.0.
# STEPS=N (default: the config's total_steps, 600; the first study ran 400)
# sets the step budget, with a checkpoint every 200 steps. Runs go two at a
# time, each on one CPU thread (on a 2-core machine two single-threaded runs
# finish ~1.3x sooner than one after the other). Each run writes ROOT/NAME
# (checkpoints, metrics.jsonl, samples) and ROOT/NAME/eval/metrics_step*.json;
# timings are in ROOT/NAME.log.
set -euo pipefail
ROOT=${1:?usage: synthetic_study.sh ROOT [RUN ...]}
shift
RUNS=("$@")
if [ ${#RUNS[@]} -eq 0 ]; then
  RUNS=(sym16+no_size sym16 sym16+no_size+crisp sym16+no_size+no_pyramid
        sym16+no_size+yaw120)
fi
PARALLEL=${PARALLEL:-2}
# Samples per evaluation (the Chamfer MMD against the 512 test shapes costs
# ~3 min per 1000 samples and model on this CPU).
EVAL_SAMPLES=${EVAL_SAMPLES:-256}
mkdir -p "$ROOT"
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

run_one() {
  # NAME = PART[+PART...]: each PART is a run name below or an ablation
  # variant of configs/synthetic.py (e.g. sym16+crisp). Every run starts
  # from the paper's generator (shape_max_res=0, no symmetry, size
  # constraint on, smooth_weight 0), whatever the config's defaults, so
  # that the names keep their meaning.
  local name=$1 part parts smr=0 sym=False nc=0 light=none variants=(size) args=()
  local dcb=1024 dcm=64 ss=1 win=4 r1=0.05
  IFS='+' read -r -a parts <<< "$name"
  for part in "${parts[@]}"; do
    case $part in
      raw) args+=(--config.model.shape_param=raw --config.model.shape_output_scale=1.0) ;;
      offset_hemisphere|offset_disc|offset_paraboloid|offset_sphere) args+=(--config.model.shape_param=$part) ;;
      sphere) args+=(--config.model.shape_param=offset_sphere) ;;
      wrap*) args+=(--config.model.base_wrap_deg=${part#wrap}) ;;
      hemisphere) args+=(--config.model.shape_param=offset_hemisphere) ;;
      hemisphere_scale0.3|hemisphere_scale1.0)
        args+=(--config.model.shape_param=offset_hemisphere
               --config.model.shape_output_scale=${part#hemisphere_scale}) ;;
      crisp|no_size|no_pyramid|yaw120) variants+=("$part") ;;
      smr8|smr16) smr=${part#smr} ;;
      sym16) smr=16; sym=True ;;
      sym8) smr=8; sym=True ;;
      sym0) smr=0; sym=True ;;
      sym16s3) smr=16; sym=True; args+=(--config.model.shape_output_scale=0.3) ;;
      sym16lr*) smr=16; sym=True; args+=(--config.train.shape_lr_mult=${part#sym16lr}) ;;
      seed*) args+=(--config.seed=${part#seed}) ;;
      noramp) args+=(--config.train.ema_rampup=0) ;;
      init*) args+=(--config.model.shape_init_scale=${part#init}) ;;
      rad*) args+=(--config.model.base_radius=${part#rad}) ;;
      lbres*) args+=(--config.model.learned_base_res=${part#lbres}) ;;
      lbase*) args+=(--config.model.learned_base_mult=${part#lbase}) ;;
      sepshape) args+=(--config.model.shape_branch=separate) ;;
      edgepad) args+=(--config.model.skip_pad=edge) ;;
      freeze*) args+=(--config.train.shape_freeze_steps=${part#freeze}) ;;
      sblr*) args+=(--config.train.shape_bias_lr_mult=${part#sblr}) ;;
      meanface)
        # The data's own mean face as the base surface: a probe of the
        # training objective, not a result (benchmarks/face_template.py).
        [ -f "$ROOT/mean_face.npy" ] || python -m benchmarks.face_template \
            --config=configs/synthetic.py --out="$ROOT/mean_face.npy" > /dev/null
        args+=(--config.model.shape_param=offset_template
               --config.model.base_template="$ROOT/mean_face.npy") ;;
      noshade) args+=(--config.data.synthetic.shading=False) ;;
      lit) light=camera ;;
      unlit) light=none ;;
      objlight) args+=(--config.data.synthetic.light_frame=object) ;;
      tilt*) # the data's light cone and the generator's light prior turned up
        args+=(--config.data.synthetic.light_tilt_deg=${part#tilt} --config.light.tilt_deg=${part#tilt}) ;;
      views*) # the data's yaw range and the generator's viewpoint prior, +-Y degrees
        args+=("--config.data.synthetic.yaw_range_deg=(-${part#views},${part#views})"
               "--config.viewpoint.yaw_range_deg=(-${part#views},${part#views})") ;;
      spread*) # the data's light cone and the generator's light prior, narrower or wider
        args+=(--config.data.synthetic.light_spread_deg=${part#spread} --config.light.spread_deg=${part#spread}) ;;
      boundalb) args+=(--config.light.bounded_albedo=True) ;;
      win*) win=${part#win} ;;
      ss*) ss=${part#ss} ;;
      slope*) args+=(--config.render.slope=${part#slope}) ;;
      res*) args+=(--config.resolution=${part#res}) ;;
      spp*) args+=(--config.render.soft_pairs_per_pixel=${part#spp}) ;;
      leak*) args+=(--config.light.leak=${part#leak}) ;;
      lean*) args+=(--config.train.lean_weight=${part#lean}) ;;
      flean*) args+=(--config.train.lean_weight=${part#flean} --config.train.lean_measure=front) ;;
      r1*) r1=${part#r1} ;;
      glr*) args+=(--config.train.g_lr=${part#glr}) ;;
      dlr*) args+=(--config.train.d_lr=${part#dlr}) ;;
      bs*) args+=(--config.train.batch_size=${part#bs}) ;;
      prog*) args+=(--config.model.progressive=True --config.model.progressive_start_res=16
                    --config.train.progressive_fade_kimg=${part#prog}
                    --config.train.progressive_stable_kimg=${part#prog}) ;;
      dcb*) dcb=${part#dcb} ;;
      dcm*) dcm=${part#dcm} ;;
      crease*) args+=(--config.train.crease_weight=${part#crease}) ;;
      nc*) nc=${part#nc} ;;
      texoff*) args+=(--config.model.texture_offset=${part#texoff}) ;;
      smooth) # faces without fine relief: the head's dome, jaw and skirt only
        for k in brow_height eye_depth nose_height nostril_height cheek_height lip_height chin_height; do
          args+=("--config.data.synthetic.face.$k=(0.0,0.0)")
        done ;;
      nohair) args+=("--config.data.synthetic.face.hairline=(1.5,1.5)") ;;
      *) echo "unknown run $part (in $name)" >&2; return 2 ;;
    esac
  done
  args+=(--config.model.shape_max_res=$smr --config.model.shape_symmetry=$sym
         --config.train.smooth_weight=$nc --config.light.model=$light
         --config.model.d_channel_base=$dcb --config.model.d_channel_max=$dcm
         --config.render.supersample=$ss --config.render.window=$win --config.train.r1_gamma=$r1)
  # variants holds at least 'size', so there is always a colon part.
  local cfg="configs/synthetic.py:$(IFS=,; echo "${variants[*]}")"
  if [ -n "${STEPS:-}" ]; then
    args+=(--config.train.total_steps="$STEPS" --config.train.checkpoint_every_steps=200
           --config.train.keep_checkpoints=8 --config.train.sample_every_steps=200)
  fi
  # Ablations change one thing of the default config (whatever its
  # shape_param is); the three shape_param runs differ in that key only.
  {
    echo "=== $name: $(date -u +%FT%TZ)"
    /usr/bin/time -f "train wall %e s" python -m launch.train --config="$cfg" \
        "${args[@]}" --workdir="$ROOT/$name"
    /usr/bin/time -f "evaluate wall %e s" python -m launch.evaluate \
        --config="$cfg" "${args[@]}" --workdir="$ROOT/$name" \
        --num_samples="$EVAL_SAMPLES"
    echo "=== $name done: $(date -u +%FT%TZ)"
  } >> "$ROOT/$name.log" 2>&1
}

active=0
for name in "${RUNS[@]}"; do
  run_one "$name" &
  active=$((active + 1))
  if [ "$active" -ge "$PARALLEL" ]; then
    wait -n
    active=$((active - 1))
  fi
done
wait
python -m benchmarks.study_table "$ROOT" "${RUNS[@]}"
