"""resnet50 layer1..layer4 with its 3x3 convolutions as Winograd F(m x m, 3 x 3) built from plain ONNX
ops, for test/bench/ortGraphs.ts: does trading multiplications for transforms pay on ONNX Runtime's CPU
provider, which has no Winograd kernel of its own?

    /usr/bin/python3 test/bench/winogradExport.py WEIGHTS_OUT.pth EXPORT_OUT.onnx [TILE] [MIN_CHANNELS] [BATCH]
    node --conditions=fxc-source --import tsx test/bench/ortGraphs.ts --model resnet50 \
      --return layer1,layer2,layer3,layer4 --weights WEIGHTS_OUT.pth --export EXPORT_OUT.onnx [--export ...]

TILE is m (2: 4x4 input tiles, 2.25x fewer multiplications; 4: 6x6 tiles, 4x fewer; default 4); the
stride-1 3x3 convolutions with at least MIN_CHANNELS input channels are rewritten (default 64: all of
them; 256: layer3 and layer4). The weights are torchvision's seed-0 resnet50, as ortExport.py writes
them, batch norm folded into the convolutions as fxc folds it. Each rewritten convolution is: Pad, the
input transform Bᵀ d B as a convolution with fixed 0/±1.. weights and stride m over each channel, a
Transpose to [tile position, channel, tile], one batched MatMul with the transformed filters G g Gᵀ,
a Transpose back, the output transform Aᵀ M A as a 1x1 convolution, DepthToSpace, a Slice where the
size is not a multiple of m, the bias and the ReLU. The script prints each output's largest
difference from the direct convolutions, relative to its largest magnitude. Needs torch and
torchvision only (torch 1.13 exports without the onnx package).
"""
import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def transforms(m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bᵀ, G and Aᵀ of F(m, 3) (Lavin and Gray, 2015), interpolation points 0, ±1 (and ±2, ∞ for m = 4)."""
    if m == 2:
        bt = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        g = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        at = [[1, 1, 1, 0], [0, 1, -1, -1]]
    elif m == 4:
        bt = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
        g = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]]
        at = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    else:
        raise SystemExit(f"TILE must be 2 or 4, not {m}")
    return tuple(torch.tensor(t, dtype=torch.float64) for t in (bt, g, at))  # type: ignore[return-value]


class WinogradConv3x3(nn.Module):
    """A 3x3, stride 1, padding 1 convolution (bias folded in) as F(m x m, 3 x 3), then an optional ReLU."""

    def __init__(self, conv: nn.Conv2d, m: int) -> None:
        super().__init__()
        bt, g, at = transforms(m)
        a = m + 2
        self.m, self.a = m, a
        w = conv.weight.detach().double()
        # The filters transformed once, in float64: [a*a, K, C].
        self.register_buffer("u", torch.einsum("ik,ockl,jl->ijoc", g, w, g).reshape(a * a, *w.shape[:2]).float())
        self.register_buffer("bt", torch.einsum("ik,jl->ijkl", bt, bt).reshape(a * a, 1, a, a).float())
        self.register_buffer("at", torch.einsum("ik,jl->ijkl", at, at).reshape(m * m, a * a, 1, 1).float())
        self.register_buffer("bias", conv.bias.detach().reshape(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = (int(d) for d in x.shape)
        m, a = self.m, self.a
        th, tw = -(-h // m), -(-w // m)
        x = F.pad(x, (1, tw * m + 1 - w, 1, th * m + 1 - h))
        v = F.conv2d(x.reshape(n * c, 1, th * m + 2, tw * m + 2), self.bt, stride=m)
        v = v.reshape(n, c, a * a, th * tw).permute(2, 1, 0, 3).reshape(a * a, c, n * th * tw)
        products = torch.matmul(self.u, v)
        k = products.shape[1]
        products = products.reshape(a * a, k, n, th * tw).permute(2, 1, 0, 3).reshape(n * k, a * a, th, tw)
        y = F.pixel_shuffle(F.conv2d(products, self.at), m).reshape(n, k, th * m, tw * m)
        if th * m != h or tw * m != w:
            y = y[:, :, :h, :w]
        return y + self.bias


def folded(net: torchvision.models.ResNet, m: int, min_channels: int) -> torchvision.models.ResNet:
    """Batch norm folded into every convolution; with m, the qualifying 3x3 convolutions rewritten."""
    net.conv1, net.bn1 = fuse_conv_bn_eval(net.conv1, net.bn1), nn.Identity()
    for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
        for block in layer:
            for i in (1, 2, 3):
                conv = fuse_conv_bn_eval(getattr(block, f"conv{i}"), getattr(block, f"bn{i}"))
                setattr(block, f"conv{i}", conv)
                setattr(block, f"bn{i}", nn.Identity())
            if block.downsample is not None:
                block.downsample = fuse_conv_bn_eval(block.downsample[0], block.downsample[1])
            if m and block.conv2.stride == (1, 1) and block.conv2.in_channels >= min_channels:
                block.conv2 = WinogradConv3x3(block.conv2, m)
    return net


class Layers(nn.Module):
    """resnet50's stem and layer1..layer4, returning the four layers' outputs."""

    def __init__(self, net: torchvision.models.ResNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = self.net
        x = n.maxpool(n.relu(n.conv1(x)))
        outputs = []
        for layer in (n.layer1, n.layer2, n.layer3, n.layer4):
            x = layer(x)
            outputs.append(x)
        return tuple(outputs)


def seeded() -> torchvision.models.ResNet:
    torch.manual_seed(0)
    return torchvision.models.resnet50().eval()


def main(weights_out: str, export_out: str, m: int = 4, min_channels: int = 64, batch: int = 8) -> None:
    torch.save(seeded().state_dict(), weights_out)
    direct = Layers(folded(seeded(), 0, 0)).eval()
    winograd = Layers(folded(seeded(), m, min_channels)).eval()
    x = torch.randn(batch, 3, 224, 224)
    with torch.no_grad():
        for name, got, want in zip(("layer1", "layer2", "layer3", "layer4"), winograd(x), direct(x)):
            print(f"{name}: max |winograd - direct| / max |direct| = {((got - want).abs().max() / want.abs().max()).item():.2e}")
        torch.onnx.export(winograd, x, export_out, opset_version=17, input_names=["input"], output_names=["layer1", "layer2", "layer3", "layer4"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:6]))
