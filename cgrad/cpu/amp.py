"""cgrad.cpu.amp: PyTorch's deprecated torch.cpu.amp.GradScaler and autocast, with its
FutureWarnings; they are torch.amp's for device "cpu". PyTorch's autocast default here is
bfloat16, which cgrad lacks: None picks cgrad's CPU autocast dtype (float16)."""
from ..amp import _deprecated_aliases

GradScaler, autocast = _deprecated_aliases("cpu", None)
