"""One file per GAN family. Import the family you need, e.g. ``from ganlib.models import dcgan``.

``vae`` and ``diffusion`` hold the VAE and the DDPM that notebook 09 compares with the GANs.

``patchgan`` holds the PatchGAN discriminator that two families share: pix2pix (``conditional``,
which re-exports it) and ``cyclegan``.
"""

from ganlib.models.conditional import (
    CONDITIONAL_PRESETS,
    ConcatDiscriminator,
    ConditionalConfig,
    ConditionalGenerator,
    ProjectionDiscriminator,
    UNetGenerator,
    build_conditional_gan,
)
from ganlib.models.cyclegan import CYCLEGAN_PRESETS, CycleGANConfig, ResnetGenerator, build_cyclegan
from ganlib.models.dcgan import (
    DCGAN_PRESETS,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    build_dcgan,
)
from ganlib.models.mlp import MLP_PRESETS, MLPConfig, MLPDiscriminator, MLPGenerator, build_mlp_gan
from ganlib.models.patchgan import PatchDiscriminator, patch_map_size, receptive_field

__all__ = [
    "MLPConfig", "MLP_PRESETS", "MLPGenerator", "MLPDiscriminator", "build_mlp_gan",
    "DCGANConfig", "DCGAN_PRESETS", "DCGANGenerator", "DCGANDiscriminator", "build_dcgan",
    "ConditionalConfig", "CONDITIONAL_PRESETS", "ConditionalGenerator", "ConcatDiscriminator",
    "ProjectionDiscriminator", "build_conditional_gan", "UNetGenerator",
    "PatchDiscriminator", "receptive_field", "patch_map_size",
    "CycleGANConfig", "CYCLEGAN_PRESETS", "ResnetGenerator", "build_cyclegan",
]
