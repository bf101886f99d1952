"""mmzoo's registries: children of mmengine's root registries, scope 'mmzoo'.

A config with ``default_scope='mmzoo'`` imports our modules through
``locations``; a config of mmseg, mmdet or mmpretrain reaches them as
``type='mmzoo.Res2Net'`` (mmengine imports ``mmzoo.registry`` for that prefix)
or after ``custom_imports=dict(imports=['mmzoo.models'])``.
"""
import difflib
from typing import List, Optional, Type

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import \
    RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'mmzoo'
CUSTOM_IMPORTS = ("custom_imports = dict(imports=['mmzoo.models'], "
                  'allow_failed_imports=False)')


class MMZooRegistry(Registry):
    """A registry whose misses explain themselves.

    mmengine answers an unknown type with a bare "not in the registry". Ours
    names the type, registry and scope, suggests the closest registered names
    (with the scope prefix they need), and tells the user how to import mmzoo.
    The error is raised from :meth:`get`, because nested builds inside upstream
    modules reach this registry through mmengine's scope switching rather than
    through our ``build``.
    """

    def get(self, key: str) -> Optional[Type]:
        obj = super().get(key)
        if obj is None:
            raise KeyError(self._miss_message(key))
        return obj

    def __contains__(self, key) -> bool:
        try:
            return self.get(key) is not None
        except KeyError:
            return False

    def _candidate_names(self) -> List[str]:
        names = set(self._module_dict)
        parent = self.parent
        while parent is not None:
            names.update(parent._module_dict)
            parent = parent.parent
        root = self._get_root_registry()
        for scope, child in root._children.items():
            if scope != self.scope:
                names.update(f'{scope}.{name}' for name in child._module_dict)
        return sorted(names)

    def _miss_message(self, key: str) -> str:
        _, real_key = self.split_scope_key(key)
        candidates = self._candidate_names()
        close = difflib.get_close_matches(real_key, candidates, n=3)
        close += [
            c for c in candidates
            if c.split('.')[-1] == real_key and c not in close
        ]
        hint = f' Did you mean {", ".join(map(repr, close))}?' if close else ''
        return (f'`{key}` is not in the {self.scope}::{self.name} registry '
                f'nor in its parents.{hint} If it is an mmzoo component, '
                f'make sure mmzoo is imported: add `{CUSTOM_IMPORTS}` to '
                'your config. An upstream component needs its scope prefix, '
                f'e.g. `mmseg.{real_key}`.')


def _registry(name: str, parent: Registry, locations=()) -> MMZooRegistry:
    return MMZooRegistry(
        name, parent=parent, scope=SCOPE, locations=list(locations))


RUNNERS = _registry('runner', MMENGINE_RUNNERS, ['mmzoo.engine'])
RUNNER_CONSTRUCTORS = _registry('runner constructor',
                                MMENGINE_RUNNER_CONSTRUCTORS)
LOOPS = _registry('loop', MMENGINE_LOOPS)
HOOKS = _registry('hook', MMENGINE_HOOKS, ['mmzoo.engine.hooks'])
DATASETS = _registry('dataset', MMENGINE_DATASETS, ['mmzoo.datasets'])
DATA_SAMPLERS = _registry('data sampler', MMENGINE_DATA_SAMPLERS)
TRANSFORMS = _registry('transform', MMENGINE_TRANSFORMS,
                       ['mmzoo.datasets.transforms'])
MODELS = _registry('model', MMENGINE_MODELS, ['mmzoo.models'])
MODEL_WRAPPERS = _registry('model_wrapper', MMENGINE_MODEL_WRAPPERS,
                           ['mmzoo.engine'])
WEIGHT_INITIALIZERS = _registry('weight initializer',
                                MMENGINE_WEIGHT_INITIALIZERS)
OPTIMIZERS = _registry('optimizer', MMENGINE_OPTIMIZERS)
OPTIM_WRAPPERS = _registry('optim_wrapper', MMENGINE_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _registry('optimizer wrapper constructor',
                                       MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _registry('parameter scheduler', MMENGINE_PARAM_SCHEDULERS)
METRICS = _registry('metric', MMENGINE_METRICS, ['mmzoo.evaluation'])
EVALUATOR = _registry('evaluator', MMENGINE_EVALUATOR)
TASK_UTILS = _registry('task util', MMENGINE_TASK_UTILS)
VISUALIZERS = _registry('visualizer', MMENGINE_VISUALIZERS,
                        ['mmzoo.visualization'])
VISBACKENDS = _registry('vis_backend', MMENGINE_VISBACKENDS, ['mmzoo.engine'])
LOG_PROCESSORS = _registry('log_processor', MMENGINE_LOG_PROCESSORS)
INFERENCERS = _registry('inferencer', MMENGINE_INFERENCERS)
