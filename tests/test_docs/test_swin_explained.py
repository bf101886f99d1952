"""Each answer of docs/en/swin_explained.md, demonstrated."""
import torch
import torch.nn.functional as F

from mmzoo.models.backbones.swin import PatchEmbed, PatchMerging, SwinBlock
from mmzoo.ops import (shift_window_mask, window_attention,
                       window_attention_reference, window_partition,
                       window_reverse)

LN = dict(type='LN')

# 1. Patch partition vs patch merging ----------------------------------------


def test_patch_partition_plus_linear_embedding_is_a_stride_4_conv():
    torch.manual_seed(0)
    embed = PatchEmbed(3, 8, patch_size=4, norm_cfg=LN)
    img = torch.randn(2, 3, 16, 20)
    # Cut 4×4 patches, flatten each to 48 values (channel, row, column),
    # and multiply by one shared 48 -> 8 matrix.
    patches = img.view(2, 3, 4, 4, 5, 4).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(2, 4, 5, 48)
    linear = patches @ embed.proj.weight.reshape(8, 48).t() \
        + embed.proj.bias
    conv = embed.proj(img).permute(0, 2, 3, 1)
    torch.testing.assert_close(linear, conv, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        embed(img), embed.norm(linear), atol=1e-5, rtol=1e-5)


def test_patch_merging_gathers_2x2_in_official_order_then_norm_and_4c_to_2c():
    torch.manual_seed(0)
    C = 3
    merge = PatchMerging(C, 2 * C, norm_cfg=LN)
    merge.norm.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(1, 4, 6, C)
    out = merge(x)
    assert out.shape == (1, 2, 3, 2 * C)
    for i in range(2):
        for j in range(3):
            # official order: (0, 0), (1, 0), (0, 1), (1, 1) as (row, col)
            gathered = torch.cat([
                x[0, 2 * i, 2 * j], x[0, 2 * i + 1, 2 * j],
                x[0, 2 * i, 2 * j + 1], x[0, 2 * i + 1, 2 * j + 1]
            ])
            normed = F.layer_norm(gathered, (4 * C, ), merge.norm.weight,
                                  merge.norm.bias)
            torch.testing.assert_close(out[0, i, j],
                                       merge.reduction.weight @ normed)
    assert merge.reduction.weight.shape == (2 * C, 4 * C)
    assert merge.reduction.bias is None


# 2. The shifted window, against brute force without any roll ---------------


def brute_force_sw_msa(block, y, ws, shift):
    """Every token attends to every token of the padded map that lies in the
    same shifted window and in the same region, computed on the unrolled map
    with one big masked attention."""
    attn = block.attn
    H, W, C = y.shape
    Hp, Wp = -(-H // ws) * ws, -(-W // ws) * ws
    y = F.pad(y, (0, 0, 0, Wp - W, 0, Hp - H))
    rows, cols = torch.meshgrid(
        torch.arange(Hp), torch.arange(Wp), indexing='ij')
    rows, cols = rows.flatten(), cols.flatten()
    # The shifted grid, counted cyclically: row r falls in window
    # ((r - shift) mod Hp) // ws, so the first `shift` rows share the last
    # window with the last ws - shift rows ...
    win_r = ((rows - shift) % Hp) // ws
    win_c = ((cols - shift) % Wp) // ws
    # ... but are not their neighbours: each band is its own region.
    reg_r = (rows < shift).long()
    reg_c = (cols < shift).long()

    def pairs(label):
        return label[:, None] == label[None]

    same = pairs(win_r) & pairs(win_c) & pairs(reg_r) & pairs(reg_c)
    # Inside one region of one window, positions are not wrapped, so the
    # relative position is the plain difference.
    dr = rows[:, None] - rows[None] + ws - 1
    dc = cols[:, None] - cols[None] + ws - 1
    index = (dr.clamp(0, 2 * ws - 2) * (2 * ws - 1) + dc.clamp(0, 2 * ws - 2))
    heads = attn.num_heads
    qkv = attn.qkv(y.reshape(-1, C)).view(-1, 3, heads, C // heads)
    q, k, v = qkv.permute(1, 2, 0, 3)
    scores = q @ k.transpose(-2, -1) * (C // heads)**-0.5
    scores = scores + attn.relative_position_bias_table[index].permute(2, 0, 1)
    scores = scores.masked_fill(~same, float('-inf'))
    out = (scores.softmax(-1) @ v).transpose(0, 1).reshape(Hp, Wp, C)
    return attn.proj(out)[:H, :W]


def test_sw_msa_equals_brute_force_regional_attention():
    torch.manual_seed(0)
    ws, shift = 7, 3
    block = SwinBlock(16, 2, ws, 4., True, 0., dict(type='GELU'), LN)
    block.attn.relative_position_bias_table.data.normal_(0, 1)
    for H, W in ((14, 14), (12, 17)):
        y = torch.randn(1, H, W, 16)
        Hp, Wp = -(-H // ws) * ws, -(-W // ws) * ws
        windows = window_partition(y, ws, shift)  # cyclic shift -shift
        out = block.attn(windows, shift_window_mask(Hp, Wp, ws, shift))
        ours = window_reverse(out, ws, shift, H, W)  # shift back
        torch.testing.assert_close(
            ours[0],
            brute_force_sw_msa(block, y[0], ws, shift),
            atol=1e-5,
            rtol=1e-5)


# 3. The mask: 0 within a region, -100 across, and -inf instead -------------


def test_mask_is_zero_exactly_for_pairs_of_one_region_before_the_roll():
    ws, s, Hp, Wp = 7, 3, 14, 21
    mask = shift_window_mask(Hp, Wp, ws, s)
    # Where each rolled window's tokens came from in the unrolled map.
    rows = torch.arange(Hp).view(-1, 1).expand(Hp, Wp)
    cols = torch.arange(Wp).view(1, -1).expand(Hp, Wp)
    origin = torch.stack([(rows + s) % Hp, (cols + s) % Wp], -1)
    origin = origin.view(Hp // ws, ws, Wp // ws, ws,
                         2).permute(0, 2, 1, 3, 4).reshape(-1, ws * ws, 2)
    # Regions of the unrolled map: the first s rows (columns) wrap around
    # to the far side; the rest stay.
    region = (origin[..., 0] < s) * 2 + (origin[..., 1] < s)
    same = region[:, :, None] == region[:, None, :]
    assert set(mask.unique().tolist()) == {0.0, -100.0}
    assert torch.equal(mask == 0, same)
    # Only the windows on the bottom and right border mix regions.
    mixed = (~same).flatten(1).any(1).view(Hp // ws, Wp // ws)
    assert mixed.tolist() == [[False, False, True], [True, True, True]]


def attention_with(mask_value, q, k, v, mask01):
    # (nW, N, N) -> (nW, 1, N, N): one mask per window, for every head
    mask = torch.zeros(
        mask01.shape, dtype=q.dtype).masked_fill(~mask01, mask_value)[:, None]
    scores = (q @ k.transpose(-2, -1)).float() * q.shape[-1]**-0.5
    scores = scores.to(q.dtype) + mask
    return scores.softmax(-1) @ v


def test_minus_100_versus_minus_infinity_in_fp32_and_fp16():
    torch.manual_seed(0)
    mask = shift_window_mask(14, 14, 7, 3)
    allowed = mask == 0
    q, k, v = torch.randn(3, 4, 1, 49, 16).unbind(0)
    exact = attention_with(
        float('-inf'), q.double(), k.double(), v.double(), allowed)
    # Ordinary scores (|q·k|/sqrt(d) of a few units): -100 and -inf give
    # the very same outputs in fp32 and fp16 (the explainer's "largest
    # difference 0"), since exp(-100) ~ 4e-44 is below half an ulp of the
    # in-region sum (and underflows to 0 in fp16); both are the exact
    # result to the dtype's rounding.
    for dtype, tol in ((torch.float32, 1e-6), (torch.float16, 5e-3)):
        args = (q.to(dtype), k.to(dtype), v.to(dtype), allowed)
        minus_100 = attention_with(-100.0, *args)
        minus_inf = attention_with(float('-inf'), *args)
        assert torch.equal(minus_100, minus_inf)
        assert (minus_100.double() - exact).abs().max() < tol
    # The op the backbone runs agrees as well.
    torch.testing.assert_close(
        window_attention(q, k, v, mask=mask).double(),
        exact,
        atol=1e-5,
        rtol=1e-5)
    # -100 is a soft mask: when scores differ by ~100 (large activations),
    # attention leaks across regions; -inf never does.
    big = q * 60
    leak = (attention_with(-100.0, big, k, v, allowed) -
            attention_with(float('-inf'), big, k, v, allowed)).abs().max()
    assert leak > 0.1
    # -inf turns a row with every key masked into NaN (0/0); -100 gives the
    # unmasked mean. Swin never masks a whole row (a token always sees
    # itself), so its choice of -100 is about fp16-safe arithmetic.
    nothing = torch.zeros_like(allowed)
    assert torch.isnan(attention_with(float('-inf'), q, k, v, nothing)).all()
    torch.testing.assert_close(
        window_attention_reference(
            q, k, v, mask=torch.full_like(mask, -100.0)),
        window_attention_reference(q, k, v))
