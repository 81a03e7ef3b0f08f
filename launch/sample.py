r"""Samples and exports a trained run: ``python -m launch.sample --config=C --workdir=DIR --out=OUT``.

  python -m launch.sample --config=configs/synthetic.py --workdir=/tmp/syn \
      --out=/tmp/syn_samples --num=8 --truncation=0.7 --seed=0
  python -m launch.sample --config=configs/synthetic.py --workdir=/tmp/syn \
      --out=/tmp/syn_side --yaw=30 --pitch=-10

Writes OUT/samples.png (Fig. 1/4 sheet), OUT/interpolation.png (Fig. 5),
OUT/turntable.gif, OUT/meshes/sample_KKK.{obj,mtl,png,glb} and OUT/index.html
(open it in a browser: sample images and a 3D viewer, no server needed).
See `gan3d.sample` for the layout and every knob.
"""

from absl import app
from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment config file (configs/*.py[:variants]).',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Run directory with checkpoints/.')
_OUT = flags.DEFINE_string('out', None, 'Output folder.')
_STEP = flags.DEFINE_integer('step', None, 'Checkpoint step (default: latest).')
_NUM = flags.DEFINE_integer('num', None, 'Number of samples (default 8).')
_YAW = flags.DEFINE_float('yaw', None, 'Yaw of the sample images, degrees (default 0).')
_PITCH = flags.DEFINE_float('pitch', None, 'Pitch of the sample images, degrees (default 0).')
_TRUNC = flags.DEFINE_float('truncation', None, 'Truncation psi (default 0.7; 1 = off).')
_SEED = flags.DEFINE_integer('seed', None, 'Seed of the latents (default 0).')
_TILE = flags.DEFINE_integer('tile', None, 'Sheet tile size in pixels (default: resolution).')
flags.mark_flags_as_required(['config', 'workdir', 'out'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  from gan3d import sample  # pylint: disable=g-import-not-at-top
  out = sample.sample(_CONFIG.value, _WORKDIR.value, _OUT.value, step=_STEP.value,
                      num=_NUM.value, yaw_deg=_YAW.value, pitch_deg=_PITCH.value,
                      truncation_psi=_TRUNC.value, seed=_SEED.value, tile=_TILE.value)
  print(f"step {out['step']}: wrote")
  for key in ('samples_png', 'interpolation_png', 'gif', 'html'):
    print(f'  {out[key]}')
  print(f"  {len(out['obj'])} OBJ and {len(out['glb'])} GLB meshes in "
        f"{_OUT.value}/meshes/")


if __name__ == '__main__':
  app.run(main)
