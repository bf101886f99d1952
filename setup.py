import glob
import os
import os.path as osp
import shutil
import subprocess
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
CSRC = osp.join('mmzoo', 'ops', 'csrc')


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


def find_cuda_home():
    """The CUDA toolkit's root: $CUDA_HOME, else where the nvcc on PATH says it
    lives.

    torch guesses the parent of nvcc's folder, which is wrong when nvcc is
    a wrapper script outside the toolkit (/usr/local/bin/nvcc running
    /usr/local/cuda-13.0/bin/nvcc): the link then fails on -lcudart. nvcc's
    dry run prints its real top folder.
    """
    if os.environ.get('CUDA_HOME'):
        return os.environ['CUDA_HOME']
    nvcc = shutil.which('nvcc')
    if nvcc is None:
        return None
    dry_run = subprocess.run(
        [nvcc, '--dryrun', '-c', '-x', 'cu', os.devnull, '-o', os.devnull],
        capture_output=True,
        text=True)
    for line in (dry_run.stdout + dry_run.stderr).splitlines():
        if line.startswith('#$ TOP='):
            return osp.realpath(line[len('#$ TOP='):])
    return osp.dirname(osp.dirname(osp.realpath(nvcc)))


def cuda_wanted() -> bool:
    """MMZOO_WITH_CUDA=1 demands the CUDA kernels, 0 skips them; unset builds
    them when nvcc and a CUDA build of torch are present."""
    cuda_home = find_cuda_home()
    if cuda_home is not None:
        os.environ['CUDA_HOME'] = cuda_home
    import torch
    from torch.utils.cpp_extension import CUDA_HOME
    available = torch.version.cuda is not None and CUDA_HOME is not None
    flag = os.environ.get('MMZOO_WITH_CUDA', '')
    if flag == '1' and not available:
        raise RuntimeError(
            'MMZOO_WITH_CUDA=1 but the CUDA kernels cannot be built: '
            f'torch.version.cuda={torch.version.cuda}, CUDA_HOME={CUDA_HOME} '
            '(is nvcc on PATH?)')
    return available if flag == '' else flag == '1'


def get_extensions() -> list:
    """``mmzoo._ext``: the ops' CPU kernels, plus the CUDA ones when wanted.

    torch 2.14's headers need C++20, for nvcc too.
    """
    # First: it sets CUDA_HOME, which torch.utils.cpp_extension reads once,
    # when imported.
    with_cuda = cuda_wanted()
    from torch.utils.cpp_extension import CppExtension, CUDAExtension
    sources = [osp.join(CSRC, 'ext.cpp')]
    sources += sorted(glob.glob(osp.join(CSRC, 'common', '*.cpp')))
    sources += sorted(glob.glob(osp.join(CSRC, 'cpu', '*.cpp')))
    # -fopenmp: at::parallel_for is an `omp parallel` in the headers (and
    # `omp simd` marks the reductions). -fno-trapping-math lets the clamps of
    # the vectorised exp (csrc/common) become blends; no code here reads
    # floating-point exception flags.
    cxx = ['-O3', '-std=c++20', '-fopenmp', '-fno-trapping-math', '-g0']
    if not with_cuda:
        return [
            CppExtension(
                'mmzoo._ext',
                sources,
                extra_compile_args={'cxx': cxx},
                extra_link_args=['-fopenmp'])
        ]
    from torch.utils.cpp_extension import CUDA_HOME

    # Without a GPU to detect, torch would compile for every architecture it
    # knows; Ampere and Hopper keep the build short.
    os.environ.setdefault('TORCH_CUDA_ARCH_LIST', '8.0;9.0')
    sources += sorted(glob.glob(osp.join(CSRC, 'cuda', '*.cu')))
    return [
        CUDAExtension(
            'mmzoo._ext',
            sources,
            extra_compile_args={
                'cxx': cxx,
                'nvcc': ['-O3', '-std=c++20', '-lineinfo']
            },
            # CUDA 13 keeps libcudart in lib/, where torch does not look.
            library_dirs=[osp.join(CUDA_HOME, 'lib')],
            extra_link_args=['-fopenmp'])
    ]


def get_cmdclass() -> dict:
    from torch.utils.cpp_extension import BuildExtension
    return {'build_ext': BuildExtension}


setup(
    name='mmzoo',
    version=get_version(),
    description='Paper models (Res2Net, ResNeSt, ResNeXt, Swin Transformer, '
    'STANet) for mmsegmentation, mmdetection and mmpretrain',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(
        exclude=('configs', 'tools', 'tests', 'benchmarks', 'docs')),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=parse_requirements('runtime') +
    parse_requirements('mminstall'),
    extras_require={
        'tests': parse_requirements('tests'),
        'optional': parse_requirements('optional'),
        'all': parse_requirements('tests') + parse_requirements('optional'),
    },
    ext_modules=get_extensions(),
    cmdclass=get_cmdclass(),
    zip_safe=False)
