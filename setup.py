import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmzoo', 'version.py')) as f:
        exec(compile(f.read(), 'mmzoo/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(name: str) -> list:
    """Read ``requirements/<name>.txt``, skipping comments and blank lines."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='mmzoo',
    version=get_version(),
    description='Paper models (Res2Net, ResNeSt, ResNeXt, Swin, STANet, '
    'BSDA-Net, T2Net) for mmsegmentation, mmdetection and mmpretrain',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'projects',
                                    'benchmarks', 'docs')),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=parse_requirements('runtime') +
    parse_requirements('mminstall'),
    extras_require={
        'tests': parse_requirements('tests'),
        'optional': parse_requirements('optional'),
        'all': parse_requirements('tests') + parse_requirements('optional'),
    },
    zip_safe=False)
