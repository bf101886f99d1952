"""Importing this module makes mmengine's checkpoints safe to load and
atomic to write for the whole process (see
:func:`mmzoo.engine.install_checkpoint_safety`).

It exists for configs, whose only way to run code is ``custom_imports``::

    custom_imports = dict(
        imports=['mmzoo.models', 'mmzoo.engine.checkpoint_safety'],
        allow_failed_imports=False)
"""
from .checkpoint import install_checkpoint_safety

install_checkpoint_safety()
