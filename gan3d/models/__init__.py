"""Networks of gan3d (paper section 7): StyleGAN generators G_o, G_b and the
residual discriminator. See ``generate`` for the single generation path."""

from gan3d.models.defaults import MODEL_KEYS, model_config, render_config
from gan3d.models.discriminator import (Discriminator, discriminate, init_discriminator,
                                        make_discriminator, minibatch_stddev)
from gan3d.models.generator import (StyleGenerator, build_scene, generate, generate_from_ws,
                                    init_generators, init_w_avg, is_shape_bias, is_shape_output,
                                    make_generator, map_latents, mix_styles, num_ws, render_scene,
                                    scale_shape_init, scale_shape_outputs, synthesize,
                                    truncate)

__all__ = [
    'MODEL_KEYS', 'model_config', 'render_config', 'Discriminator', 'discriminate',
    'init_discriminator', 'make_discriminator', 'minibatch_stddev', 'StyleGenerator',
    'build_scene', 'generate', 'generate_from_ws', 'init_generators', 'init_w_avg',
    'is_shape_bias', 'is_shape_output', 'make_generator', 'map_latents', 'mix_styles', 'num_ws',
    'render_scene',
    'scale_shape_init', 'scale_shape_outputs', 'synthesize', 'truncate',
]
