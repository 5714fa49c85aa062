"""One file per GAN family. Import the family you need, e.g. ``from ganlib.models import dcgan``."""

from ganlib.models.conditional import (
    CONDITIONAL_PRESETS,
    ConcatDiscriminator,
    ConditionalConfig,
    ConditionalGenerator,
    PatchDiscriminator,
    ProjectionDiscriminator,
    UNetGenerator,
    build_conditional_gan,
)
from ganlib.models.dcgan import (
    DCGAN_PRESETS,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    build_dcgan,
    pad_to,
)
from ganlib.models.mlp import MLP_PRESETS, MLPConfig, MLPDiscriminator, MLPGenerator, build_mlp_gan

__all__ = [
    "MLPConfig", "MLP_PRESETS", "MLPGenerator", "MLPDiscriminator", "build_mlp_gan",
    "DCGANConfig", "DCGAN_PRESETS", "DCGANGenerator", "DCGANDiscriminator", "build_dcgan", "pad_to",
    "ConditionalConfig", "CONDITIONAL_PRESETS", "ConditionalGenerator", "ConcatDiscriminator",
    "ProjectionDiscriminator", "build_conditional_gan", "UNetGenerator", "PatchDiscriminator",
]
