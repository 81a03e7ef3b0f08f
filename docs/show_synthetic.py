"""Writes docs/figures/synthetic32.png: 16 test images and 8 normal maps.

  python -m gan3d.data --variant=synthetic --resolution=32 --data_dir=/tmp/gen32
  python docs/show_synthetic.py /tmp/gen32
"""
import sys

import numpy as np
from PIL import Image

from configs import synthetic
from gan3d import data


def main(data_dir):
  c = synthetic.get_config()
  c.data.data_dir = data_dir
  gt = data.load_synthetic_ground_truth(c, split='test', num=16)
  img = ((gt['image'] + 1) * 127.5).clip(0, 255).astype(np.uint8)
  nrm = ((gt['normals'] + 1) * 127.5).clip(0, 255).astype(np.uint8)
  rows = [np.concatenate(list(img[:8]), 1), np.concatenate(list(img[8:]), 1),
          np.concatenate(list(nrm[:8]), 1)]
  grid = np.concatenate(rows, 0)
  h, w = grid.shape[:2]
  Image.fromarray(grid).resize((3 * w, 3 * h), Image.NEAREST).save(
      'docs/figures/synthetic32.png')


if __name__ == '__main__':
  main(sys.argv[1])
