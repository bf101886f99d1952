"""The ``make demo`` training loop against a bare training step.

    python benchmarks/stanet_demo_loop.py [--iters 40] [--threads N]
        [--data data/synthetic_levircd] [--profile]

On the demo's generated pairs (``make demo`` writes them, or
``python tools/dataset_converters/make_synthetic_levircd.py
data/synthetic_levircd --size 256 --num-train 192 --num-val 16 --num-test
16``) and the demo config's model, each in a fresh interpreter, one after the
other:

- ``bare``: ``model.train_step`` (data preprocessing, forward, backward, Adam
  step) on batches loaded beforehand: the compute alone; then the Adam step
  alone, torch's default implementation against the fused one the config
  asks for (``ratio = default / fused``);
- ``demo``: ``Runner.train`` of the demo config as it is, for ``--iters``
  iterations, then one validation and one checkpoint;
- ``worker``: the same with one data-loader worker process, as the demo
  loaded its training batches before (``WORKER``).

For the loops, one iteration's time runs from the end of one iteration to the
end of the next (data loading, hooks and the step; the median over
iterations 2 onwards); the first iteration (warm-up), the validation and the
checkpoints at the end (the last and the best), the imports and the runner's
build are reported on their own. Printed: seconds per iteration, the overhead
of each loop over the bare step, and ``ratio = worker / demo`` (above 1:
loading in the training process is faster). ``--profile`` adds cProfile's
cumulative top entries of the demo loop's main process.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

START = time.time()
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'stanet',
                  'stanet-pam_r18_1xb8-1400iter_synthlevircd-64x64.py')
# The demo's training batches as they were loaded before.
WORKER = {
    'train_dataloader.num_workers': 1,
    'train_dataloader.persistent_workers': True,
}


def demo_config(data, iters, work_dir, overrides):
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(
        {
            'train_dataloader.dataset.data_root': data,
            'val_dataloader.dataset.data_root': data,
            'test_dataloader.dataset.data_root': data,
            'train_cfg.max_iters': iters,
            'train_cfg.val_begin': iters,
            'train_cfg.val_interval': iters,
            'default_hooks.checkpoint.interval': iters,
            'param_scheduler': [],
            'work_dir': work_dir,
            **overrides
        },
        allow_list_keys=False)
    return cfg


def run_loop(args, overrides):
    """Train the demo config for ``args.iters`` iterations; the times of its
    phases."""
    import cProfile
    import io
    import pstats

    from mmengine.hooks import Hook

    from mmzoo.engine import MMZooRunner
    imported = time.time() - START
    events = []

    class Clock(Hook):
        priority = 'HIGHEST'

        def after_train_iter(self, *_, **__):
            events.append(('iter', time.time()))

        def before_val(self, runner):
            events.append(('val', time.time()))

        def after_val(self, runner):
            events.append(('val_done', time.time()))

        def after_train(self, runner):
            events.append(('done', time.time()))

    with tempfile.TemporaryDirectory() as work_dir:
        cfg = demo_config(args.data, args.iters, work_dir, overrides)
        start = time.time()
        runner = MMZooRunner.from_cfg(cfg)
        runner.register_hook(Clock(), 'HIGHEST')
        built = time.time()
        profile = cProfile.Profile() if args.profile else None
        if profile:
            profile.enable()
        runner.train()
        if profile:
            profile.disable()
    times = dict(events[::-1])
    ends = [t for name, t in events if name == 'iter']
    result = dict(
        imports=imported,
        build=built - start,
        first=ends[0] - built,
        iteration=statistics.median(b - a for a, b in zip(ends, ends[1:])),
        val=times['val_done'] - times['val'],
        # The last checkpoint is saved after the last iteration's clock, the
        # best one after the validation.
        checkpoint=times['val'] - ends[-1] + times['done'] - times['val_done'])
    if profile:
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats('cumulative') \
            .print_stats(40)
        result['profile'] = text.getvalue()
    return result


def run_bare(args):
    """``model.train_step`` on the demo's batches, loaded beforehand."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from mmzoo.registry import MODELS
    init_default_scope('mmzoo')
    cfg = demo_config(args.data, args.iters, '', {})
    loader = cfg.train_dataloader
    loader.update(num_workers=0, persistent_workers=False)
    batches = iter(Runner.build_dataloader(loader, seed=0))
    start = time.time()
    batches = [next(batches) for _ in range(args.iters)]
    loading = (time.time() - start) / args.iters
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    steps = []
    for batch in batches:
        start = time.time()
        model.train_step(batch, optim_wrapper)
        steps.append(time.time() - start)
    return dict(
        first=steps[0],
        iteration=statistics.median(steps[1:]),
        loading=loading,
        adam=time_adam(model, cfg.optim_wrapper.optimizer))


def time_adam(model, optimizer_cfg, repeats=5, steps=10):
    """Seconds per step of torch's default Adam and of its fused form on the
    model's parameters, alternated, the median of ``repeats``."""
    import torch
    kwargs = {
        k: v
        for k, v in optimizer_cfg.items() if k not in ('type', 'fused')
    }
    # The training step's last zero_grad left no gradients to step with.
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.randn_like(p)
    times = {False: [], True: []}
    for _ in range(repeats):
        for fused in times:
            adam = torch.optim.Adam(params, fused=fused, **kwargs)
            adam.step()
            start = time.time()
            for _ in range(steps):
                adam.step()
            times[fused].append((time.time() - start) / steps)
    return dict(
        default=statistics.median(times[False]),
        fused=statistics.median(times[True]))


def child(args):
    if args.child == 'bare':
        result = run_bare(args)
    else:
        result = run_loop(args, WORKER if args.child == 'worker' else {})
    print('RESULT ' + json.dumps(result))


def spawn(args, name):
    command = [
        sys.executable, __file__, '--child', name, '--iters',
        str(args.iters), '--data', args.data
    ] + (['--profile'] if args.profile and name == 'demo' else [])
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(args.threads),
        MKL_NUM_THREADS=str(args.threads))
    out = subprocess.run(
        command,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False)
    lines = [x for x in out.stdout.splitlines() if x.startswith('RESULT ')]
    if out.returncode or not lines:
        raise SystemExit(f'{name} failed ({out.returncode}):\n'
                         f'{out.stdout[-3000:]}\n{out.stderr[-3000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=40)
    parser.add_argument(
        '--threads',
        type=int,
        default=int(os.environ.get('OMP_NUM_THREADS', os.cpu_count())))
    parser.add_argument(
        '--data', default=osp.join(REPO, 'data', 'synthetic_levircd'))
    parser.add_argument('--profile', action='store_true')
    parser.add_argument('--child', choices=['bare', 'demo', 'worker'])
    args = parser.parse_args()
    if args.child:
        return child(args)
    if not osp.isdir(osp.join(args.data, 'train')):
        raise SystemExit(f'no generated pairs in {args.data}: run make demo '
                         'or the generator (see this script\'s docstring)')
    if args.iters < 3:
        raise SystemExit('--iters must be at least 3')
    import torch
    print(f'torch {torch.__version__}, {args.threads} thread(s), '
          f'{os.cpu_count()} CPUs; STANet-PAM demo config, batch 8 of 64x64 '
          f'crops, {args.iters} iterations')
    results = {name: spawn(args, name) for name in ('bare', 'demo', 'worker')}
    bare = results['bare']
    print(f'  bare train_step  {bare["iteration"]:.3f} s/iter (first '
          f'{bare["first"]:.2f} s); a batch loaded in the training process '
          f'{bare["loading"]:.3f} s')
    adam = bare['adam']
    print(f'  Adam step: default {adam["default"]:.4f} s, fused '
          f'{adam["fused"]:.4f} s, ratio = '
          f'{adam["default"] / adam["fused"]:.2f}')
    for name in ('demo', 'worker'):
        r = results[name]
        print(f'  {name:<6} loop      {r["iteration"]:.3f} s/iter, '
              f'{100 * (r["iteration"] / bare["iteration"] - 1):+.0f}% over '
              f'bare; imports {r["imports"]:.1f} s, build {r["build"]:.1f} s, '
              f'first iteration {r["first"]:.1f} s, validation '
              f'{r["val"]:.1f} s, checkpoint {r["checkpoint"]:.1f} s')
    ratio = results['worker']['iteration'] / results['demo']['iteration']
    print(f'  per iteration: worker {results["worker"]["iteration"]:.3f} s, '
          f'demo {results["demo"]["iteration"]:.3f} s, ratio = {ratio:.2f}')
    if args.profile:
        print(results['demo']['profile'])


if __name__ == '__main__':
    main()
