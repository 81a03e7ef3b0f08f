"""gan3d: unsupervised generative 3D shape learning from natural images."""
