"""torch_check.py: PyTorch's CUDA memory as heapql records it (run under `heapql run`).

Allocates tensors of known sizes, frees some, and prints what PyTorch itself reports, for
scripts/gpu-check.sh to compare with the database:
  TORCH reserved_peak N      torch.cuda.max_memory_reserved()
  TORCH allocated_peak N     torch.cuda.max_memory_allocated()
Exit 3 when torch or a GPU is missing (the script reports a skip).
"""
import sys

try:
    import torch
except Exception:  # noqa: BLE001 - any import failure means "no torch here"
    sys.exit(3)
if not torch.cuda.is_available():
    sys.exit(3)

keep = []
for mib in (1, 3, 17, 64, 129):
    keep.append(torch.empty(mib << 20, dtype=torch.uint8, device="cuda"))
tmp = [torch.ones(5 << 20, dtype=torch.uint8, device="cuda") for _ in range(4)]
del tmp
keep.append(torch.zeros(257 << 20, dtype=torch.uint8, device="cuda"))
torch.cuda.synchronize()
print("TORCH reserved_peak", torch.cuda.max_memory_reserved())
print("TORCH allocated_peak", torch.cuda.max_memory_allocated())
