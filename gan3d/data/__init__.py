"""gan3d.data: input pipelines (synthetic faces with ground truth, FFHQ, folders).

TensorFlow / tensorflow-datasets are imported lazily (only when a data set is
built or read) and kept off GPUs; importing this package does not import them.

  config.data = data_config('synthetic' | 'ffhq' | 'folder')
  it = make_train_iterator(config, process_index=0, process_count=1)
  batch = next(it)     # {'image': np.float32 [B_local, N, N, 3] in [-1, 1]}
  gt = load_synthetic_ground_truth(config, split='test', num=256)
"""
from gan3d.data.defaults import data_config
from gan3d.data.pipeline import get_builder
from gan3d.data.pipeline import host_slice
from gan3d.data.pipeline import load_synthetic_ground_truth
from gan3d.data.pipeline import make_train_iterator

__all__ = ['data_config', 'get_builder', 'host_slice',
           'load_synthetic_ground_truth', 'make_train_iterator']
