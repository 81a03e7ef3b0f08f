"""Evaluation metrics of gan3d (issue 6): image metrics (SWD, FID, KID) and 3D
accuracy against synthetic ground truth (Chamfer MMD / coverage, SIDE, MAD,
hollow-face rate), plus trivial baselines.

Modules are imported lazily by their users:
  gan3d.eval.swd        sliced Wasserstein distance (Karras et al. 2018)
  gan3d.eval.inception  Flax InceptionV3 (pool3) + weight loading
  gan3d.eval.fid        FID / KID from features
  gan3d.eval.geometry   3D metrics
  gan3d.eval.baselines  disc / sphere-cap "generated" sets
"""
