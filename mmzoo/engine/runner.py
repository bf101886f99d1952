"""mmengine's Runner with strict checkpoint loading, clear errors on bad
checkpoints and data, and a work dir left as it was when a run fails before it
starts."""
import copy
import os
import os.path as osp
import shutil
from typing import Any, Callable, Dict, List, Optional, Union

import torch
from mmengine.dataset import Compose
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)
from mmengine.visualization import LocalVisBackend

from mmzoo.registry import RUNNERS
from mmzoo.utils.fileio import atomic_write_bytes
from .checkpoint import (STRIP_MODULE, CheckpointMismatchError,
                         NotResumableError, check_state_dict,
                         find_resumable_checkpoint, remove_stale_partials,
                         state_dict_of)
from .checkpoint_hook import AtomicCheckpointHook
from .vis_backend import AtomicLocalVisBackend

# The keys of a data info that name the files a sample is read from.
FILE_KEYS = ('img_path_a', 'img_path_b', 'img_path', 'seg_map_path',
             'ann_path')


class SampleError(RuntimeError):
    """A sample could not be loaded; the message names its files."""


class _FileNamingCompose(Compose):
    """A dataset pipeline whose errors name the sample's files.

    A decoder failing inside a transform (``cv2.error`` on an empty .png, which
    mmcv's LoadImageFromFile passes on bare) does not say which file it was
    given.
    """

    def __init__(self, pipeline: Compose) -> None:
        self.transforms = pipeline.transforms

    def __call__(self, data: dict) -> Optional[dict]:
        files = [str(data[k]) for k in FILE_KEYS if data.get(k)]
        try:
            return super().__call__(data)
        except Exception as error:
            if not files or any(f in str(error) for f in files):
                raise
            raise SampleError(f'could not load the sample {", ".join(files)}: '
                              f'{type(error).__name__}: {error}') from error


def _name_files_in_errors(dataset) -> None:
    """Wrap the pipeline of ``dataset`` and of the datasets it wraps."""
    if isinstance(getattr(dataset, 'pipeline', None), Compose) and not \
            isinstance(dataset.pipeline, _FileNamingCompose):
        dataset.pipeline = _FileNamingCompose(dataset.pipeline)
    for inner in getattr(dataset, 'datasets', []):  # ConcatDataset
        _name_files_in_errors(inner)
    if hasattr(dataset, 'dataset'):  # RepeatDataset, ClassBalancedDataset
        _name_files_in_errors(dataset.dataset)


def _is_type(hook_type: Any, name: str, cls: type) -> bool:
    if isinstance(hook_type, str):
        return hook_type.split('.')[-1] == name
    return hook_type is cls


class _WorkDirSnapshot:
    """What a work dir holds, to take back what a failed start added.

    mmengine's Runner creates the work dir, a timestamped log folder and the
    dumped config before it builds the model, datasets or loads a checkpoint,
    so a run refused for bad input would otherwise leave them behind (and the
    dumped config would overwrite the previous run's).
    """

    def __init__(self, work_dir: str, overwritten: List[str]) -> None:
        self.work_dir = osp.abspath(work_dir)
        self.existed = osp.isdir(self.work_dir)
        self.paths = set(self._walk()) if self.existed else set()
        self.saved = {}
        for path in overwritten:
            if osp.isfile(path):
                with open(path, 'rb') as f:
                    self.saved[path] = (f.read(), os.stat(path))

    def _walk(self) -> List[str]:
        found = []
        for root, dirs, files in os.walk(self.work_dir):
            found += [osp.join(root, name) for name in dirs + files]
        return found

    def restore(self) -> None:
        if not self.existed:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            return
        # Deepest first, so that folders are empty when their turn comes.
        for path in sorted(set(self._walk()) - self.paths, reverse=True):
            if osp.isdir(path) and not osp.islink(path):
                shutil.rmtree(path, ignore_errors=True)
                continue
            try:
                os.remove(path)
            except FileNotFoundError:  # another rank of the run was first
                pass
        for path, (data, stat) in self.saved.items():
            with open(path, 'rb') as f:
                changed = f.read() != data
            if changed:
                atomic_write_bytes(data, path)
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@RUNNERS.register_module()
class MMZooRunner(Runner):
    """:class:`mmengine.runner.Runner` as ``tools/train.py`` and
    ``tools/test.py`` run it.

    It takes Runner's arguments and adds:

    - Strict loading. ``load_from`` and resumed checkpoints must fit the
      model exactly; a mismatch is a :class:`CheckpointMismatchError` naming
      the file and the first missing, unexpected and mis-shaped keys (mmengine
      only logs them and trains on). ``allow_partial_load = True`` in the
      config (``--allow-partial-load``) loads what fits, with a warning.
    - The checkpoint is read and checked against the model when the runner
      is created, before any dataset is built, so a wrong file fails in
      seconds rather than after the datasets are scanned. A resumed run
      without a fixed seed takes the interrupted run's (``load_from`` and
      ``resume`` are given as keywords, as ``from_cfg`` does).
    - Resuming says what is wrong with a checkpoint it cannot resume from (a
      plain state dict, another config's optimizer state) naming the file;
      ``resume=True`` without ``load_from`` takes the newest complete
      checkpoint of the work dir, skipping truncated ones, and a resumed run
      removes the partial files a killed save left.
    - Atomic writes of ``last_checkpoint`` (:class:`AtomicCheckpointHook` in
      place of CheckpointHook) and of pictures
      (:class:`AtomicLocalVisBackend` in place of LocalVisBackend), and a
      visualizer of the run's own (see :meth:`build_visualizer`).
    - Errors while loading a sample name its files.
    - A run that fails before its first iteration leaves the work dir as it
      found it: the log folder and dumped config it made are removed, and a
      config dump it overwrote is put back.
    - Two runs in one process started within the same second (a notebook, a
      test) get their own logger, visualizer and log folder (see
      :meth:`setup_env`).
    """

    def __init__(self, model, work_dir: str, *args, **kwargs) -> None:
        cfg = kwargs.get('cfg')
        filename = getattr(cfg, 'filename', None)
        self._requested_name = kwargs.get('experiment_name')
        dumped = [osp.join(work_dir, osp.basename(filename))
                  ] if filename else []
        self._snapshot = _WorkDirSnapshot(work_dir, dumped)
        self._started = False
        self._resuming = None
        notes = []
        self._preloaded = self._read_checkpoint(work_dir, kwargs, notes.append)
        try:
            super().__init__(model, work_dir, *args, **kwargs)
            # Found before the run's logger existed; they belong to its log.
            for note in notes:
                self.logger.info(note)
            if self._preloaded is not None:
                path, checkpoint = self._preloaded
                self._check_weights(checkpoint, path, STRIP_MODULE)
        except BaseException:
            self._snapshot.restore()
            raise

    def setup_env(self, env_cfg: dict) -> None:
        """Runner's set-up, then a timestamp of the run's own.

        mmengine names the run's logger, visualizer, message hub and log folder
        after the second it started, and hands back an existing instance of a
        name: a second run of one config in the same process and second would
        log into the first run's file and draw into its folder. A suffix
        (``_1``, ``_2``, ...) keeps them apart; separate processes (and so the
        ranks of a distributed run) never collide.
        """
        super().setup_env(env_cfg)
        base, count = self._timestamp, 0
        while MMLogger.check_instance_created(self._name_for(self._timestamp)):
            count += 1
            self._timestamp = f'{base}_{count}'

    def _name_for(self, timestamp: str) -> str:
        """The experiment name Runner derives from ``timestamp``."""
        if self._requested_name is not None:
            return f'{self._requested_name}_{timestamp}'
        if self.cfg.filename is not None:
            stem = osp.splitext(osp.basename(self.cfg.filename))[0]
            return f'{stem}_{timestamp}'
        return timestamp

    @classmethod
    def _read_checkpoint(cls, work_dir: str, kwargs: dict,
                         log: Callable[[str], None]) -> Optional[tuple]:
        """Read the checkpoint to load or resume from before anything is built
        (``load_from`` and ``resume`` as keywords, as ``from_cfg`` passes
        them).

        ``resume=True`` without ``load_from`` takes the newest complete
        checkpoint of the work dir. A resumed run without a fixed seed takes
        the interrupted run's: mmengine restores it only after the data
        samplers were seeded, so the resumed run would see other data.
        """
        load_from, resume = kwargs.get('load_from'), kwargs.get('resume')
        if resume and load_from is None:
            load_from, checkpoint = find_resumable_checkpoint(work_dir, log)
            # Nothing to resume from: start afresh, as mmengine does.
            kwargs.update(load_from=load_from, resume=load_from is not None)
        elif load_from is not None:
            checkpoint = _load_checkpoint(load_from, map_location='cpu')
        if load_from is None:
            return None
        if kwargs.get('resume'):
            cls._check_training_checkpoint(checkpoint, load_from)
        randomness = dict(kwargs.get('randomness') or {})
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        if kwargs.get('resume') and randomness.get('seed') is None and \
                isinstance(meta, dict) and meta.get('seed') is not None:
            kwargs['randomness'] = dict(randomness, seed=meta['seed'])
        return load_from, checkpoint

    @property
    def allow_partial_load(self) -> bool:
        return bool(self.cfg.get('allow_partial_load', False))

    def _model(self) -> torch.nn.Module:
        return self.model.module if is_model_wrapper(self.model) \
            else self.model

    @staticmethod
    def _check_training_checkpoint(checkpoint: Any, filename: str) -> None:
        """What Runner.resume reads must be there: ``meta`` with the epoch and
        iteration, and the message hub."""
        if not isinstance(checkpoint, dict):
            lacking, keys = ['everything'], []
        else:
            meta = checkpoint.get('meta')
            lacking = [
                f'meta.{key}' for key in ('epoch', 'iter')
                if not isinstance(meta, dict) or key not in meta
            ] + [key for key in ('message_hub', ) if key not in checkpoint]
            keys = list(checkpoint)[:6]
        if lacking:
            raise NotResumableError(
                f'cannot resume from {filename}: it is not a training '
                'checkpoint of an mmengine Runner (it lacks '
                f'{", ".join(lacking)}; its first keys are {keys}). Weights '
                'alone (a plain state dict, converted weights) start a new '
                f'run with --cfg-options load_from={filename} instead of '
                '--resume.')

    def _check_weights(self, checkpoint: Any, filename: str,
                       revise_keys) -> None:
        state_dict = state_dict_of(checkpoint, filename)
        try:
            check_state_dict(self._model(), state_dict, filename, revise_keys)
        except CheckpointMismatchError as mismatch:
            if not self.allow_partial_load:
                raise
            self.logger.warning(f'allow_partial_load: {mismatch}')

    def _check_optimizer_state(self, checkpoint: dict, filename: str) -> None:
        """The optimizer state of ``checkpoint`` must have the groups and
        shapes of this config's optimizer (torch's own check stops at group
        sizes, with an error that names no file)."""
        saved = checkpoint.get('optimizer')
        if not isinstance(saved, dict) or not isinstance(
                self.optim_wrapper, OptimWrapper):
            return
        groups = self.optim_wrapper.optimizer.param_groups
        saved_groups = saved.get('param_groups', [])
        ours = [len(g['params']) for g in groups]
        theirs = [len(g['params']) for g in saved_groups]
        problem = None
        if ours != theirs:
            problem = (f'its optimizer state has parameter groups of '
                       f'{theirs} parameters, this config\'s optimizer '
                       f'{ours}')
        else:
            state = saved.get('state', {})
            for group, saved_group in zip(groups, saved_groups):
                for param, index in zip(group['params'],
                                        saved_group['params']):
                    for name, value in state.get(index, {}).items():
                        if isinstance(value, torch.Tensor) and value.dim() \
                                and value.shape != param.shape:
                            problem = (
                                f'its optimizer state {name} of parameter '
                                f'{index} is {tuple(value.shape)}, the '
                                f'parameter {tuple(param.shape)}')
                            break
        if problem:
            raise NotResumableError(
                f'cannot resume from {filename}: {problem}. It was trained '
                'with another model or optimizer config; to start from its '
                'weights alone use --cfg-options load_from=... instead of '
                '--resume.')

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module\.', '')]):
        """Runner's ``load_checkpoint``, strict unless ``allow_partial_load``
        is set: ``strict`` is ignored, the config decides."""
        if self._preloaded is not None and self._preloaded[0] == filename:
            checkpoint = self._preloaded[1]
            self._preloaded = None
        else:
            checkpoint = _load_checkpoint(filename, map_location=map_location)
            if self._resuming:
                self._check_training_checkpoint(checkpoint, filename)
            self._check_weights(checkpoint, filename, revise_keys)
        if self._resuming:
            self._check_optimizer_state(checkpoint, filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        checkpoint = _load_checkpoint_to_model(
            self._model(), checkpoint, strict=False, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        self._resuming = filename
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = None
        if not is_main_process():
            return
        folders = {osp.dirname(osp.abspath(filename)), self.work_dir}
        for folder in sorted(folders):
            for path in remove_stale_partials(folder):
                self.logger.info(f'removed {path}, the partial file of a '
                                 'save that was interrupted')

    def load_or_resume(self) -> None:
        super().load_or_resume()
        self._preloaded = None
        self._started = True

    def _until_started(self, run: Callable):
        try:
            return run()
        except BaseException:
            if not self._started:
                self._snapshot.restore()
            raise

    def train(self) -> torch.nn.Module:
        return self._until_started(super().train)

    def val(self) -> dict:
        return self._until_started(super().val)

    def test(self) -> dict:
        return self._until_started(super().test)

    def register_hook(self,
                      hook: Union[Hook, Dict],
                      priority: Optional[Union[str, int]] = None) -> None:
        if isinstance(hook, dict) and _is_type(
                hook.get('type'), 'CheckpointHook', CheckpointHook):
            hook = dict(hook, type=AtomicCheckpointHook)
        super().register_hook(hook, priority)

    def build_visualizer(self, visualizer=None):
        """Runner's visualizer, writing pictures atomically, and one per run.

        Configs name their visualizer 'visualizer', and mmengine returns an
        existing instance of that name: a second run in one process (a
        notebook, a test) would draw into the first run's folder. The run's
        experiment name makes it the run's own.
        """
        if visualizer is None:
            visualizer = dict(
                type='Visualizer',
                vis_backends=[dict(type='LocalVisBackend')],
                save_dir=self._log_dir)
        if isinstance(visualizer, dict):
            visualizer = copy.deepcopy(visualizer)
            visualizer['name'] = self._experiment_name
            for backend in visualizer.get('vis_backends') or []:
                if _is_type(
                        backend.get('type'), 'LocalVisBackend',
                        LocalVisBackend):
                    backend['type'] = AtomicLocalVisBackend
        return super().build_visualizer(visualizer)

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        loader = Runner.build_dataloader(dataloader, seed, diff_rank_seed)
        _name_files_in_errors(loader.dataset)
        return loader
