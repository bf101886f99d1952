"""OpenMMLab ``projects/`` are imported from the repository root
(``projects.<name>.<package>``), as their configs' ``custom_imports`` do; make
sure the root is importable however mmzoo was installed."""
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
