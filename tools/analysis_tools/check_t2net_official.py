"""Check mmzoo's T2Net against the official module, weight for weight.

    python tools/analysis_tools/check_t2net_official.py OFFICIAL_REPO

OFFICIAL_REPO is a clone of github chunmeifeng/T2Net (its ``models``
package is imported from there). For scales 2 and 4 the script builds the
official ``T2Net`` as ixi_train_t2net.py does (8 residual blocks, 64
features, residual scale 0.1), counts its parameters, copies its weights
into ``mmzoo.T2Net`` (every official parameter but the two body
convolutions its forward never runs) and prints the largest difference of
both outputs on a random float64 input.
"""
import argparse
import sys

import torch

from mmzoo.registry import MODELS


def official_key(key: str) -> str:
    """The official name of one of our parameters."""
    for ours, theirs in (('sr_head', 'head1.0'), ('recon_head', 'head2.0'),
                         ('sr_blocks', 'body1'), ('recon_blocks', 'body2'),
                         ('sr_tail.1', 'tail.1'), ('recon_tail', 'b_tail')):
        if key.startswith(ours):
            return theirs + key[len(ours):]
    if key.startswith('transformers.'):
        return key.replace('transformers.', 'conv1.').replace('.fuse', '')
    if key.startswith('sr_tail.0'):
        return 'tail.0' + key[len('sr_tail.0'):]
    raise KeyError(key)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('official_repo')
    args = parser.parse_args()
    sys.path.insert(0, args.official_repo)
    from models.T2net import T2Net as Official

    import mmzoo.models  # noqa: F401
    torch.manual_seed(0)
    for scale in (2, 4):
        official = Official(
            scale, 1, 1, n_resblocks=8, n_feats=64, res_scale=.1,
            bn=None).double().eval()
        ours = MODELS.build(dict(type='mmzoo.T2Net',
                                 scale=scale)).double().eval()
        theirs = official.state_dict()
        ours.load_state_dict(
            {k: theirs[official_key(k)]
             for k in ours.state_dict()})
        unused = sum(p.numel() for p in official.body1[8].parameters()) * 2
        x = torch.randn(2, 1, 20, 24, dtype=torch.float64)
        with torch.no_grad():
            diffs = [(a - b).abs().max().item()
                     for a, b in zip(official(x), ours(x))]
        total = sum(p.numel() for p in official.parameters())
        print(f'x{scale}: official {total:,} '
              f'parameters ({unused:,} never used), mmzoo '
              f'{sum(p.numel() for p in ours.parameters()):,}; max |diff| SR '
              f'{diffs[0]:.1e}, reconstruction {diffs[1]:.1e}')


if __name__ == '__main__':
    main()
