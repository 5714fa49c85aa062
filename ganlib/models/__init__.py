"""One file per GAN family. Import the family you need, e.g. ``from ganlib.models import mlp``."""

from ganlib.models.mlp import MLP_PRESETS, MLPConfig, MLPDiscriminator, MLPGenerator, build_mlp_gan

__all__ = ["MLPConfig", "MLP_PRESETS", "MLPGenerator", "MLPDiscriminator", "build_mlp_gan"]
