"""Swin Transformer against the official parameter counts (timm's ports of the
official models), an explicitly padded pure-PyTorch reference written here,
mmseg's SwinTransformer given the same weights, and the upstream registries."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmzoo_testing import (assert_checkpointing_changes_nothing, build_model,
                           classifier_configs, num_params, published_params,
                           randomize_norms, variant)

import mmzoo.ops
from mmzoo.models import SwinTransformer
from mmzoo.models.converters import swin_to_mmseg

# A narrow Swin, fast on CPU but with every feature of the real ones.
SMALL_ARCH = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


@pytest.mark.parametrize('config', classifier_configs('swin'), ids=variant)
def test_classifier_parameter_count_matches_official(config):
    """The exact counts of timm's ports of the official models (the official
    README rounds them to millions: 28, 50, 88, 197); L is the 22k->1k
    model."""
    timm = pytest.importorskip('timm')
    arch = variant(config)[len('swin-'):]
    # Shapes alone decide the count: build on the meta device.
    with torch.device('meta'):
        ours = num_params(build_model(config))
        official = num_params(
            timm.create_model(
                f'swin_{arch}_patch4_window7_224',
                pretrained=False,
                num_classes=1000))
    assert ours == official == published_params(config)


def small_swin(**kwargs):
    kwargs.setdefault('drop_path_rate', 0.)
    torch.manual_seed(0)
    return randomize_norms(SwinTransformer(arch=SMALL_ARCH, **kwargs))


def test_output_shapes_and_strides_for_any_input_size():
    model = small_swin().eval()
    outs = model(torch.rand(1, 3, 97, 131))
    # ceil(97 / 4) = 25, then halved with rounding up at each merge
    assert [tuple(o.shape) for o in outs] == [(1, 16, 25, 33), (1, 32, 13, 17),
                                              (1, 64, 7, 9), (1, 128, 4, 5)]
    assert model.out_channels == (16, 32, 64, 128)
    outs = small_swin(out_indices=(1, 3)).eval()(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 32, 8, 12), (2, 128, 2, 3)]


# ---------------------------------------------------------------------------
# An independent reference: the official (detection/segmentation) Swin
# forward with explicit zero padding, torch.roll, view-based partition and
# the official slice-built mask, reading the weights of our modules.


def ref_mask(Hp, Wp, ws, s):
    img = torch.zeros(Hp, Wp)
    cuts = (slice(0, -ws), slice(-ws, -s), slice(-s, None))
    n = 0
    for h in cuts:
        for w in cuts:
            img[h, w] = n
            n += 1
    win = img.view(Hp // ws, ws, Wp // ws, ws).permute(0, 2, 1, 3)
    win = win.reshape(-1, ws * ws)
    diff = win[:, None, :] - win[:, :, None]
    return diff.ne(0).float() * -100.0


def ref_block(block, x, ws, shift):
    B, H, W, C = x.shape
    attn = block.attn
    heads = attn.num_heads
    y = F.layer_norm(x, (C, ), block.norm1.weight, block.norm1.bias)
    Hp, Wp = -(-H // ws) * ws, -(-W // ws) * ws
    y = F.pad(y, (0, 0, 0, Wp - W, 0, Hp - H))
    if shift:
        y = torch.roll(y, (-shift, -shift), (1, 2))
    win = y.view(B, Hp // ws, ws, Wp // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    win = win.reshape(-1, ws * ws, C)
    N = ws * ws
    qkv = F.linear(win, attn.qkv.weight, attn.qkv.bias)
    q, k, v = qkv.view(-1, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) * (C // heads)**-0.5
    coords = torch.stack(
        torch.meshgrid(torch.arange(ws), torch.arange(ws),
                       indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + ws - 1
    index = rel[..., 0] * (2 * ws - 1) + rel[..., 1]
    bias = attn.relative_position_bias_table[index.view(-1)].view(N, N, -1)
    scores = scores + bias.permute(2, 0, 1)
    if shift:
        mask = ref_mask(Hp, Wp, ws, shift)
        scores = (scores.view(B, -1, heads, N, N) + mask[None, :, None])
        scores = scores.view(-1, heads, N, N)
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(-1, N, C)
    out = F.linear(out, attn.proj.weight, attn.proj.bias)
    out = out.view(B, Hp // ws, Wp // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    out = out.reshape(B, Hp, Wp, C)
    if shift:
        out = torch.roll(out, (shift, shift), (1, 2))
    x = x + out[:, :H, :W]
    fc1, fc2 = block.ffn.layers[0][0], block.ffn.layers[1]
    y = F.layer_norm(x, (C, ), block.norm2.weight, block.norm2.bias)
    return x + F.linear(
        F.gelu(F.linear(y, fc1.weight, fc1.bias)), fc2.weight, fc2.bias)


def ref_merge(merge, x):
    B, H, W, C = x.shape
    x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    x = torch.cat([
        x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]
    ], -1)
    x = F.layer_norm(x, (4 * C, ), merge.norm.weight, merge.norm.bias)
    return F.linear(x, merge.reduction.weight)


def ref_forward(model, img, ws=7):
    pe = model.patch_embed
    img = F.pad(img, (0, -img.shape[3] % 4, 0, -img.shape[2] % 4))
    x = F.conv2d(img, pe.proj.weight, pe.proj.bias, stride=4)
    x = x.permute(0, 2, 3, 1)
    x = F.layer_norm(x, (x.shape[-1], ), pe.norm.weight, pe.norm.bias)
    outs = []
    for i, stage in enumerate(model.stages):
        H, W = x.shape[1:3]
        # The official classifier's rule: no shift in a one-window map.
        shift = ws // 2 if max(H, W) > ws else 0
        for j, block in enumerate(stage.blocks):
            x = ref_block(block, x, ws, shift if j % 2 else 0)
        if i in model.out_indices:
            norm = getattr(model, f'norm{i}')
            out = F.layer_norm(x, (x.shape[-1], ), norm.weight, norm.bias)
            outs.append(out.permute(0, 3, 1, 2))
        if stage.downsample is not None:
            x = ref_merge(stage.downsample, x)
    return outs


@pytest.mark.parametrize('size', [(97, 131), (224, 224), (60, 200)])
def test_matches_explicitly_padded_reference(size):
    model = small_swin().eval()
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        for got, expected in zip(model(x), ref_forward(model, x)):
            torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)


def test_equals_mmseg_swin_given_the_same_weights():
    from mmseg.models.backbones import SwinTransformer as MMSegSwin
    ours = small_swin().eval()
    mmseg = MMSegSwin(
        embed_dims=16,
        depths=SMALL_ARCH['depths'],
        num_heads=SMALL_ARCH['num_heads'],
        window_size=7,
        drop_path_rate=0.,
        out_indices=(0, 1, 2, 3))
    mmseg.eval()  # mmseg's train() returns None: no chaining
    missing, unexpected = mmseg.load_state_dict(
        swin_to_mmseg(ours.state_dict()), strict=False)
    assert not unexpected
    assert all(k.endswith('relative_position_index') for k in missing)
    # Every stage larger than one window (mmseg shifts even a single
    # window, which the official classifier does not), and no stage a
    # multiple of the window, so every block pads.
    x = torch.randn(1, 3, 256, 288)
    with torch.no_grad():
        for a, b in zip(ours(x), mmseg(x)):
            torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4)


def test_frozen_stages():
    model = small_swin(frozen_stages=2)
    assert model.train() is model  # the nn.Module contract
    frozen = [
        model.patch_embed, model.stages[0], model.stages[1], model.norm0,
        model.norm1
    ]
    for module in frozen:
        assert all(not p.requires_grad for p in module.parameters())
        assert not any(m.training for m in module.modules())
    for module in (model.stages[2], model.stages[3], model.norm2):
        assert all(p.requires_grad for p in module.parameters())
        assert all(m.training for m in module.modules())


def test_with_cp_gives_same_outputs_and_gradients():
    assert_checkpointing_changes_nothing(
        small_swin(out_indices=(3, )),
        small_swin(out_indices=(3, ), with_cp=True), torch.randn(2, 3, 60, 44))


def test_drop_path_acts_in_training_only():
    model = small_swin(drop_path_rate=0.5, out_indices=(3, ))
    without = small_swin(drop_path_rate=0., out_indices=(3, ))
    without.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model.eval()(x)[0], without.eval()(x)[0])
    torch.manual_seed(1)
    assert not torch.allclose(model.train()(x)[0], without(x)[0], atol=1e-3)


def use_pytorch_ops(monkeypatch):
    """Swin on mmzoo.ops' pure-PyTorch references instead of the compiled
    kernels, for the rest of the test."""
    from mmzoo.models.backbones import swin
    for name in ('window_attention_qkv', 'window_partition', 'window_reverse'):
        monkeypatch.setattr(swin, name, getattr(mmzoo.ops,
                                                f'{name}_reference'))


def test_compiled_ops_and_reference_agree(monkeypatch):
    """Same outputs and gradients with the compiled ops and with the references
    of mmzoo.ops, in plain PyTorch, swapped in."""
    from mmzoo.ops._library import extension_loaded
    if not extension_loaded():
        pytest.skip('mmzoo._ext is not built')
    # float64 (the CPU kernels take it), so that only real differences
    # show above rounding
    model = small_swin(out_indices=(0, 3)).double()
    x = torch.randn(2, 3, 57, 75, dtype=torch.float64)

    def run():
        outs = model(x)
        loss = sum(o.square().sum() for o in outs)
        return outs, torch.autograd.grad(loss, list(model.parameters()))

    compiled = run()
    use_pytorch_ops(monkeypatch)
    reference = run()
    for a, b in zip(compiled[0] + compiled[1], reference[0] + reference[1]):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=1e-9)


def outputs_and_loss(model, x, autocast_dtype=None):
    """The backbone's outputs, under CUDA autocast to ``autocast_dtype`` if
    given, and the loss the gradient checks differentiate."""
    with torch.autocast(
            'cuda',
            dtype=autocast_dtype or torch.float16,
            enabled=autocast_dtype is not None):
        outs = model(x)
    return outs, sum(o.float().square().mean() for o in outs)


def outputs_and_gradients(model, x, autocast_dtype=None):
    """The backbone's outputs and parameter gradients, as one float64 vector
    each, on the CPU."""
    outs, loss = outputs_and_loss(model, x, autocast_dtype)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return [
        torch.cat([t.detach().double().flatten().cpu() for t in ts])
        for ts in (outs, grads)
    ]


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
@pytest.mark.parametrize('autocast_dtype',
                         [None, torch.float16, torch.bfloat16])
def test_cuda_ops_are_as_accurate_as_pytorch(monkeypatch, autocast_dtype):
    """On the GPU, in float32 and under autocast, the backbone on mmzoo's CUDA
    kernels is at least as close to a float64 CPU run as the same backbone on
    plain PyTorch ops (the pure-PyTorch references)."""
    model = small_swin(out_indices=(0, 3))
    x = torch.randn(2, 3, 57, 75)
    exact = outputs_and_gradients(copy.deepcopy(model).double(), x.double())
    gpu = model.cuda()
    ours = outputs_and_gradients(gpu, x.cuda(), autocast_dtype)
    use_pytorch_ops(monkeypatch)
    plain = outputs_and_gradients(gpu, x.cuda(), autocast_dtype)
    floor = 1e-6 if autocast_dtype is None else 1e-4
    for got, torch_ops, want in zip(ours, plain, exact):
        error = ((got - want).norm() / want.norm()).item()
        torch_error = ((torch_ops - want).norm() / want.norm()).item()
        assert error <= 2 * torch_error + floor, (error, torch_error)


def bias_table_gradients(model, x, autocast_dtype=None):
    """Gradients of the model's relative position bias tables, one each."""
    _, loss = outputs_and_loss(model, x, autocast_dtype)
    tables = [
        p for name, p in model.named_parameters()
        if name.endswith('relative_position_bias_table')
    ]
    return torch.autograd.grad(loss, tables)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
@pytest.mark.parametrize('autocast_dtype', [torch.float16, torch.bfloat16])
def test_cuda_bias_table_gradients_under_autocast(monkeypatch, autocast_dtype):
    """Each relative position bias table's gradient on its own (an error there
    hides in the norm of all gradients together): float32 like the table under
    autocast, and as close to a float64 CPU run as with plain PyTorch ops."""
    model = small_swin(out_indices=(0, 3))
    x = torch.randn(2, 3, 57, 75)
    exact = bias_table_gradients(copy.deepcopy(model).double(), x.double())
    gpu = model.cuda()
    ours = bias_table_gradients(gpu, x.cuda(), autocast_dtype)
    use_pytorch_ops(monkeypatch)
    plain = bias_table_gradients(gpu, x.cuda(), autocast_dtype)
    assert len(ours) == sum(SMALL_ARCH['depths'])
    for got, torch_ops, want in zip(ours, plain, exact):
        assert got.dtype == torch.float32
        error = ((got.cpu().double() - want).norm() / want.norm()).item()
        torch_error = ((torch_ops.cpu().double() - want).norm() /
                       want.norm()).item()
        assert error <= 2 * torch_error + 1e-4, (error, torch_error)


def test_flop_handle_counts_what_mmpretrain_swin_counts():
    """FlopAnalyzer cannot see inside the compiled attention; with
    window_attention_flop_jit registered, Swin-T's MACs equal those of
    mmpretrain's Swin-T, whose attention is plain matmuls."""
    from mmengine.analysis import FlopAnalyzer
    from mmpretrain.models import SwinTransformer as PretrainSwin

    from mmzoo.ops._library import extension_loaded
    if not extension_loaded():
        pytest.skip('mmzoo._ext is not built')
    x = torch.randn(1, 3, 224, 224)

    def macs(model, handles=()):
        analyzer = FlopAnalyzer(model, (x, ))
        analyzer.unsupported_ops_warnings(False)
        for name, handle in handles:
            analyzer.set_op_handle(name, handle)
        return analyzer.total()

    ours = SwinTransformer(arch='tiny', out_indices=(3, ))
    theirs = PretrainSwin(arch='tiny', out_indices=(3, ))
    # mmpretrain's train() returns None, so no eval() chain there.
    ours.eval()
    theirs.eval()
    handle = [(op, mmzoo.ops.window_attention_flop_jit)
              for op in mmzoo.ops.WINDOW_ATTENTION_OPS]
    assert macs(ours) < macs(theirs)
    assert macs(ours, handle) == macs(theirs)


def test_shift_masks_are_cached_per_size_and_device():
    stage = small_swin().stages[0]
    mask = stage.shift_mask(20, 30, torch.device('cpu'))
    assert mask.shape == (3 * 5, 49, 49)
    assert stage.shift_mask(15, 29, torch.device('cpu')) is mask
    assert stage.shift_mask(22, 30, torch.device('cpu')) is not mask


def test_shift_mask_cache_is_bounded():
    """Inputs of ever new sizes keep the masks of the MASK_CACHE_SIZE sizes
    used last; each is the mask of its padded size."""
    from mmzoo.ops import shift_window_mask
    stage = small_swin().stages[0]
    cpu, limit = torch.device('cpu'), stage.MASK_CACHE_SIZE

    def mask_of(n):  # a 7n x (7n + 3) map, padded to 7n x (7n + 7)
        return stage.shift_mask(7 * n, 7 * n + 3, cpu)

    first = mask_of(1)
    for n in range(2, limit + 1):
        mask_of(n)
    assert mask_of(1) is first  # used again: now the most recent
    mask_of(limit + 1)  # evicts size 2, used least recently
    assert len(stage._masks) == limit and mask_of(1) is first
    for n in range(limit + 2, 2 * limit + 2):
        mask = mask_of(n)
        assert torch.equal(mask, shift_window_mask(7 * n, 7 * n + 7, 7, 3))
        assert len(stage._masks) == limit
    rebuilt = mask_of(1)  # evicted meanwhile
    assert rebuilt is not first and torch.equal(rebuilt, first)


def test_pretrained_loads_weights(tmp_path):
    source = small_swin()
    path = tmp_path / 'swin.pth'
    torch.save(dict(state_dict=source.state_dict()), path)
    model = SwinTransformer(arch=SMALL_ARCH, pretrained=str(path))
    model.init_weights()
    for a, b in zip(model.state_dict().values(), source.state_dict().values()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match='pretrained or init_cfg'):
        SwinTransformer(pretrained=str(path), init_cfg=dict(type='Normal'))


def test_default_init_is_the_official_one():
    """Linear weights N(0, 0.02²) (truncated at ±2, as the official
    trunc_normal_), zero biases, unit LayerNorms, N(0, 0.02²) tables."""
    model = SwinTransformer(arch=SMALL_ARCH)
    for m in model.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.weight.data.fill_(3.)
    model.init_weights()
    attn = model.stages[2].blocks[0].attn
    for weight in (attn.qkv.weight, attn.relative_position_bias_table):
        assert 0.017 < weight.std() < 0.023
        assert abs(weight.mean()) < 0.003
    assert torch.all(attn.qkv.bias == 0)
    assert torch.all(model.stages[2].blocks[0].norm1.weight == 1)


def test_invalid_arguments_are_named():
    with pytest.raises(KeyError, match="invalid arch 'huge'"):
        SwinTransformer(arch='huge')
    with pytest.raises(KeyError, match='num_heads'):
        SwinTransformer(arch=dict(embed_dims=96, depths=(2, 2)))
    with pytest.raises(ValueError, match='out_indices'):
        SwinTransformer(out_indices=(4, ))
    with pytest.raises(ValueError, match='frozen_stages'):
        SwinTransformer(frozen_stages=5)
    with pytest.raises(ValueError, match='not divisible by num_heads'):
        SwinTransformer(
            arch=dict(embed_dims=10, depths=(2, ), num_heads=(3, )),
            out_indices=(0, ))
