"""Training: one generic loop, and one task per GAN family.

- :mod:`ganlib.training.loop`       :func:`fit`, :class:`Context`, :class:`Progress`, EMA, the optimiser step
- :mod:`ganlib.training.gan`        G against D (notebooks 02-05): unconditional, class-conditional, pix2pix
- :mod:`ganlib.training.cyclegan`   G: X -> Y and F: Y -> X against D_Y and D_X, with image pools (notebook 06)
- :mod:`ganlib.training.progan`, :mod:`ganlib.training.stylegan`   progressive growing and StyleGAN2 (notebook 08)
- :mod:`ganlib.training.vae`, :mod:`ganlib.training.diffusion`     the VAE's ELBO and the DDPM's L_simple (notebook 09)
- :mod:`ganlib.training.distributed` several processes under torchrun: shards, gradient averaging, rank 0 writes
- :mod:`ganlib.training.plan`       :func:`device_plan`: precision, layout, fused optimisers, compile, per device
- :mod:`ganlib.training.history`    :class:`History`, every metric a task reports as a series
- :mod:`ganlib.training.checkpoint` atomic checkpoints read with ``weights_only=True``; ``stages``, one folder per stage of a run

``ganlib.train.train(G, D, batches, cfg)`` is the short wrapper for a G-against-D game.
"""

from ganlib.training.checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint, save_checkpoint, stages
from ganlib.training.gan import AlternatingTask, TrainConfig
from ganlib.training.history import History
from ganlib.training.loop import Context, LoopConfig, NonFiniteLossError, Progress, Task, fit
from ganlib.training.plan import PRECISIONS, DevicePlan, device_plan

__all__ = [
    "fit", "Context", "Progress", "Task", "LoopConfig", "NonFiniteLossError", "History", "TrainConfig",
    "AlternatingTask", "CheckpointError", "CHECKPOINT_NAME", "load_checkpoint", "save_checkpoint",
    "stages", "DevicePlan", "device_plan", "PRECISIONS",
]
