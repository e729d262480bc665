"""Rest-pose fit: before its schedule, a network is fitted to the teacher's targets at the rest pose alone.

A student trained from scratch first has to learn what the character looks like. The rest pose's targets (one
teacher call) hold most of that — for the face morpher, the character's own face patch — so a few hundred
steps on them alone, far cheaper than as many examples of the teacher's poses, start the schedule from a
network that already paints the face. The fit takes its steps with the schedule's own optimizer, whose moment
estimates then carry on: a fresh Adam's first steps move every weight by about the learning rate whatever the
gradient (docs/distillation.md, "Warm start"), which would undo much of the fit.
`tha4_sdk.distill.trainer.Trainer` runs it on a fresh start.
"""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.distill.tasks import Task
from tha4_sdk.pose import POSE_SIZE

#: the fit's learning rate: the official schedules' first one
REST_FIT_LR = 1e-4


def rest_poses(n: int = 1, device: torch.device = torch.device("cpu")) -> torch.Tensor:
    """N×45: the rest pose (every parameter 0), n times."""
    return torch.zeros(n, POSE_SIZE, device=device)


def fit_rest_pose(task: Task, module: nn.Module, optimizer: torch.optim.Optimizer, steps: int,
                  weights: tuple[float, ...], device: torch.device) -> float:
    """Train ``module`` (``optimizer``'s parameters) for ``steps`` steps at `REST_FIT_LR` on ``task``'s targets at
    the rest pose (one teacher call, reused); return the last step's weighted loss."""
    poses = rest_poses(1, device)
    targets = task.targets(poses)
    for group in optimizer.param_groups:
        group["lr"] = REST_FIT_LR
    loss = torch.zeros(())
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = sum(w * t for w, t in zip(weights, task.losses(module, poses, targets)))
        loss.backward()  # type: ignore[union-attr]
        optimizer.step()
    return float(loss.detach())
