"""EDSR's residual block (Lim et al., "Enhanced Deep Residual Networks for
Single Image Super-Resolution", CVPRW 2017): conv-ReLU-conv without
normalisation, the residual scaled before it is added."""
import torch
import torch.nn as nn


class EDSRResBlock(nn.Module):
    """``x + res_scale · conv(relu(conv(x)))`` with same-size convolutions.

    EDSR drops batch normalisation (it removes the range flexibility a
    restoration network needs) and scales the residual by a small factor
    (0.1) so that deep stacks train stably.

    Args:
        channels (int): Input and output channels.
        kernel_size (int): Kernel size of both convolutions. Defaults to 3.
        res_scale (float): Factor on the residual. Defaults to 1.0.
    """

    def __init__(self,
                 channels: int,
                 kernel_size: int = 3,
                 res_scale: float = 1.0) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size, padding=padding),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, kernel_size, padding=padding))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale
