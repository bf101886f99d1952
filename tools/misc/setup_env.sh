#!/usr/bin/env bash
# Creates (or completes) the project's virtual environment.
#
#   tools/misc/setup_env.sh                    set up $VENV (.venv by default)
#   tools/misc/setup_env.sh --print-mmcv-plan  say how mmcv would be built
#       (mode=cuda|cpu), why, for which GPU architectures and in which cache
#       folder, building and installing nothing ($VENV must hold torch)
#
# Every package comes at the exact version of requirements/constraints.txt, the
# lock of the environment CI was green with, so a fresh machine gets what CI
# tested rather than whatever is newest (tools/misc/update_lock.sh rewrites it;
# requirements/*.txt keep the ranges that users of the package see).
#
# mmcv 2.1.0 ships only as source on PyPI, so it is built once per machine with
# its ops and cached as a wheel outside the repository. torch 2.14's headers need
# C++20, which mmcv 2.1.0's setup.py predates, hence the patch below.
#
# mmcv's CUDA ops (RoIAlign, NMS and the rest, which mmdet's detectors call on
# every training step on a GPU) are built when the machine has all of: a CUDA
# toolkit (nvcc on PATH or in $CUDA_HOME/bin) of torch's CUDA major version, a
# CUDA build of torch, and a GPU that torch sees. Otherwise mmcv gets its CPU
# ops only. A machine with a toolkit but no GPU, as CI's, builds CPU ops: the
# CUDA build takes far longer than CI's 45 minutes on 2 cores allow, and
# nothing there could run it. MMZOO_MMCV_CUDA=1 builds the CUDA ops without a
# GPU (for a machine that prepares an environment for GPU ones), and
# MMZOO_MMCV_CUDA=0 builds CPU ops only. The log says which and why.
# (MMZOO_WITH_CUDA, read by setup.py, is mmzoo's own kernels, not mmcv's.)
#
# The CUDA build targets TORCH_CUDA_ARCH_LIST, by default the visible GPUs'
# compute capabilities only (one architecture: the smallest, fastest build),
# or 8.0 and 9.0 when it is forced without a GPU. Wheels are cached per torch
# version and flavour, torch2.14.1-cpuops or torch2.14.1-cu130-sm90, so a
# CPU-only wheel is never installed for a CUDA plan, nor one built for other
# GPUs. (Earlier versions of this script cached under torch2.14.1, a name that
# does not say which ops the wheel holds: those wheels are not reused.)
set -euo pipefail

log() { printf '[setup_env %(%H:%M:%S)T] %s\n' -1 "$*"; }
die() {
  printf 'setup_env: error: %s\n' "$*" >&2
  exit 1
}

# The CUDA toolkit's root: $CUDA_HOME, else the top folder that the nvcc on
# PATH reports. torch guesses nvcc's grandparent folder, which is wrong for a
# wrapper script outside the toolkit (/usr/local/bin/nvcc running
# /usr/local/cuda-13.0/bin/nvcc): the link then fails on -lcudart. setup.py
# finds it the same way.
find_cuda_home() {
  if [ -n "${CUDA_HOME:-}" ]; then
    echo "$CUDA_HOME"
    return
  fi
  local nvcc top
  nvcc=$(command -v nvcc) || return 0
  top=$("$nvcc" --dryrun -c -x cu /dev/null -o /dev/null 2>&1 |
    sed -n 's/^#\$ TOP=//p' | head -n 1)
  realpath -m "${top:-$(dirname "$(dirname "$(realpath "$nvcc")")")}"
}

join_reasons() {
  local out='' reason
  for reason in "$@"; do
    out+="${out:+; }$reason"
  done
  echo "$out"
}

# "sm80-sm90" for TORCH_CUDA_ARCH_LIST="8.0;9.0" (torch also accepts spaces
# between architectures, and "+PTX").
arch_tag() {
  local tag='' arch
  for arch in ${1//;/ }; do
    arch=${arch,,}
    tag+=-sm${arch//./}
  done
  echo "${tag#-}"
}

# Decides how mmcv is built (MMCV_MODE cuda or cpu, MMCV_REASON, MMCV_ARCHS)
# and where its wheel is cached (MMCV_CACHE), from what torch in $PY and the
# CUDA toolkit report. Builds nothing.
mmcv_plan() {
  local probe
  # One line: torch's version, its CUDA version or -, the visible GPUs'
  # compute capabilities or -, the first GPU's name.
  probe=$("$PY" - <<'EOF'
import torch
cuda = torch.version.cuda
gpus = range(torch.cuda.device_count()) if cuda and torch.cuda.is_available() else []
caps = sorted({'%d.%d' % torch.cuda.get_device_capability(i) for i in gpus})
name = torch.cuda.get_device_name(0) if caps else '-'
print(torch.__version__.split('+')[0], cuda or '-', ';'.join(caps) or '-', name)
EOF
  ) || die "cannot import torch with $PY (is $VENV set up?)"
  read -r TORCH_FOUND TORCH_CUDA GPU_CAPS GPU_NAME <<<"$probe"

  CUDA_ROOT=$(find_cuda_home)
  NVCC_VERSION=''
  if [ -n "$CUDA_ROOT" ] && [ -x "$CUDA_ROOT/bin/nvcc" ]; then
    NVCC_VERSION=$("$CUDA_ROOT/bin/nvcc" --version |
      sed -n 's/.*release \([0-9][0-9.]*\),.*/\1/p')
  fi

  # What stands in the way of mmcv's CUDA ops, in words for the log.
  local missing=()
  if [ -z "$NVCC_VERSION" ]; then
    if [ -n "${CUDA_HOME:-}" ]; then
      missing+=("no nvcc in \$CUDA_HOME/bin ($CUDA_HOME)")
    else
      missing+=("no CUDA toolkit (no nvcc on PATH, CUDA_HOME unset)")
    fi
  fi
  if [ "$TORCH_CUDA" = - ]; then
    missing+=("torch $TORCH_FOUND is a CPU-only build")
  fi
  if [ -n "$NVCC_VERSION" ] && [ "$TORCH_CUDA" != - ] &&
    [ "${NVCC_VERSION%%.*}" != "${TORCH_CUDA%%.*}" ]; then
    # torch refuses to build an extension across CUDA major versions.
    missing+=("nvcc $NVCC_VERSION in $CUDA_ROOT and torch's CUDA $TORCH_CUDA differ in major version")
  fi
  local cannot_build=("${missing[@]}")
  if [ "$GPU_CAPS" = - ]; then
    missing+=("no GPU visible to torch")
  fi
  local have="nvcc $NVCC_VERSION in $CUDA_ROOT, torch $TORCH_FOUND built for CUDA $TORCH_CUDA"
  if [ "$GPU_CAPS" != - ]; then
    have+=", $GPU_NAME (compute capability ${GPU_CAPS//;/, })"
  fi

  case "${MMZOO_MMCV_CUDA:-}" in
  0)
    MMCV_MODE=cpu
    MMCV_REASON='MMZOO_MMCV_CUDA=0'
    ;;
  1)
    if [ ${#cannot_build[@]} -gt 0 ]; then
      die "MMZOO_MMCV_CUDA=1, but mmcv's CUDA ops cannot be built here:" \
        "$(join_reasons "${cannot_build[@]}")"
    fi
    MMCV_MODE=cuda
    MMCV_REASON="MMZOO_MMCV_CUDA=1; $have"
    ;;
  '')
    if [ ${#missing[@]} -eq 0 ]; then
      MMCV_MODE=cuda
      MMCV_REASON=$have
    else
      MMCV_MODE=cpu
      MMCV_REASON=$(join_reasons "${missing[@]}")
    fi
    ;;
  *)
    die "MMZOO_MMCV_CUDA must be 1 (build mmcv's CUDA ops) or 0 (CPU ops" \
      "only), not '$MMZOO_MMCV_CUDA'"
    ;;
  esac

  MMCV_ARCHS=-
  if [ "$MMCV_MODE" = cuda ]; then
    if [ -n "${TORCH_CUDA_ARCH_LIST:-}" ]; then
      MMCV_ARCHS=$TORCH_CUDA_ARCH_LIST
    elif [ "$GPU_CAPS" != - ]; then
      MMCV_ARCHS=$GPU_CAPS
    else
      # Forced without a GPU to detect: Ampere and Hopper, as setup.py.
      MMCV_ARCHS='8.0;9.0'
    fi
    MMCV_CACHE=$WHEEL_CACHE/torch$TORCH_FOUND-cu${TORCH_CUDA//./}-$(arch_tag "$MMCV_ARCHS")
  else
    MMCV_CACHE=$WHEEL_CACHE/torch$TORCH_FOUND-cpuops
  fi
}

print_mmcv_plan() {
  echo "mode=$MMCV_MODE"
  echo "reason=$MMCV_REASON"
  echo "arch=$MMCV_ARCHS"
  echo "cuda_home=${CUDA_ROOT:--}"
  echo "cache=$MMCV_CACHE"
}

# The cached mmcv wheel for this interpreter (its cp311 tag), if any.
cached_mmcv_wheel() {
  local tag
  tag=$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  compgen -G "$MMCV_CACHE/mmcv-$MMCV_VERSION-$tag-*.whl" | head -n 1 || true
}

# Compiles mmcv's ops as the plan says and caches the wheel.
build_mmcv() {
  local build src jobs started=$SECONDS
  build=$(mktemp -d)
  # Expanded now: the trap may run after this function's locals are gone.
  trap "rm -rf '$build'" EXIT
  $PIP download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$build"
  tar -xzf "$build/mmcv-$MMCV_VERSION.tar.gz" -C "$build"
  src=$build/mmcv-$MMCV_VERSION
  sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' \
    "$src/setup.py"
  # nproc would count OMP_NUM_THREADS, a setting for the programs that run.
  jobs=${MAX_JOBS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}
  # No debug information, which only slows the compiler down.
  local -a build_env=(MMCV_WITH_OPS=1 MAX_JOBS="$jobs" CFLAGS="${CFLAGS:-} -g0")
  if [ "$MMCV_MODE" = cuda ]; then
    local n_cu n_arch lo hi
    n_cu=$(find "$src/mmcv/ops/csrc/pytorch/cuda" -name '*.cu' | wc -l)
    n_arch=$(wc -w <<<"${MMCV_ARCHS//;/ }")
    # An estimate, not a measurement of this build: the C++ sources take
    # about 9 CPU-minutes (the CPU-only build: 4.5 minutes with 2 jobs), and
    # each CUDA source 0.5 to 1.5 CPU-minutes per architecture, assumed from
    # nvcc 13.0 taking 71 s for roi_align_cuda.cu and 76 s for nms_cuda.cu
    # (sm_90) on one core of the shared 2-core machine this was written on.
    # A few sources (filtered_lrelu.cu) take longer; counting every source in
    # full per architecture overstates a build for several, whose host code
    # compiles once.
    lo=$(((9 + n_cu * n_arch / 2 + jobs - 1) / jobs))
    hi=$(((9 + n_cu * n_arch * 3 / 2 + jobs - 1) / jobs))
    log "building mmcv $MMCV_VERSION with CUDA ops for TORCH_CUDA_ARCH_LIST=$MMCV_ARCHS" \
      "($MMCV_REASON): $n_cu CUDA sources x $n_arch architecture(s) and the C++ ones," \
      "estimated $lo-$hi minutes with MAX_JOBS=$jobs (from the file count, at 0.5-1.5" \
      "CPU-minutes per CUDA source and architecture); once per machine"
    # torch takes nvcc from CUDA_HOME; CUDA 13 keeps libcudart in lib/, where
    # torch does not look.
    build_env+=(FORCE_CUDA=1 CUDA_HOME="$CUDA_ROOT" TORCH_CUDA_ARCH_LIST="$MMCV_ARCHS"
      LDFLAGS="${LDFLAGS:-} -L$CUDA_ROOT/lib")
    # torch's CUDA headers include cuSPARSE's and cuBLAS's, which a minimal
    # toolkit (nvcc and the runtime) lacks; a CUDA torch from pip brings them
    # in its nvidia packages, and torch reads CUDA_INC_PATH.
    if [ ! -e "$CUDA_ROOT/include/cusparse.h" ]; then
      local headers
      headers=$("$PY" -c 'import glob, nvidia
print(*[d for p in nvidia.__path__ for d in glob.glob(p + "/*/include/cusparse.h")][:1])' 2>/dev/null || true)
      if [ -n "$headers" ]; then
        build_env+=(CUDA_INC_PATH="$(dirname "$headers")")
      fi
    fi
  else
    # 4.5 minutes with 2 jobs on a 2-core machine: about 9 CPU-minutes.
    log "building mmcv $MMCV_VERSION with CPU ops only ($MMCV_REASON):" \
      "about $(((9 + jobs - 1) / jobs)) minutes with MAX_JOBS=$jobs, once per machine"
    # mmcv's setup.py compiles its CUDA ops whenever torch sees a GPU,
    # FORCE_CUDA=0 notwithstanding (and fails without nvcc): hide the GPUs.
    build_env+=(FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=)
  fi
  (cd "$src" && env "${build_env[@]}" \
    $PIP wheel -q --no-build-isolation --no-deps . -w "$build/dist")
  # Write under a temporary name first so an interrupted build never leaves a
  # truncated wheel in the cache.
  local whl
  whl=$(ls "$build"/dist/mmcv-*.whl)
  mkdir -p "$MMCV_CACHE"
  cp "$whl" "$MMCV_CACHE/.partial" && mv "$MMCV_CACHE/.partial" "$MMCV_CACHE/$(basename "$whl")"
  local took=$((SECONDS - started))
  log "built in $((took / 60)) min $((took % 60)) s; cached $(basename "$whl") in $MMCV_CACHE"
  rm -rf "$build"
  trap - EXIT
}

# Whether the venv's mmcv was compiled with CUDA ops: prints its CUDA version,
# "not available" (CPU ops only) or "missing".
installed_mmcv_cuda() {
  "$PY" -c \
    'from mmcv.ops import get_compiling_cuda_version as v; print(v())' \
    2>/dev/null || echo missing
}

# Installs the cached wheel of this plan unless the venv already has it. pip
# keeps any installed mmcv 2.1.0 whatever its ops, so an mmcv from another
# cache folder (an earlier plan), from elsewhere, or without the CUDA ops the
# plan asks for, is replaced.
install_mmcv() {
  local whl=$1 stamp=$VENV/.mmzoo-mmcv installed
  installed=$(installed_mmcv_cuda)
  if [ "$(cat "$stamp" 2>/dev/null)" = "$whl" ] && [ "$installed" != missing ] &&
    { [ "$MMCV_MODE" = cpu ] || [ "$installed" != 'not available' ]; }; then
    return
  fi
  case "$installed" in
  missing) installed='none' ;;
  'not available') installed='CPU ops only' ;;
  *) installed="CUDA $installed ops" ;;
  esac
  log "installing $(basename "$whl") from $MMCV_CACHE (the venv's mmcv: $installed)"
  $PIP install -q --no-deps --force-reinstall "$whl"
  echo "$whl" >"$stamp"
}

# On a GPU, mmcv's NMS and RoIAlign must run there: a wheel compiled for other
# architectures fails here rather than on the first training step.
check_mmcv_on_gpu() {
  "$PY" - <<'EOF' || die "mmcv's CUDA ops do not run on this GPU (see above); remove $MMCV_CACHE and run this script again to rebuild them"
import torch
from mmcv.ops import get_compiling_cuda_version, nms, roi_align
print('mmcv CUDA ops:', get_compiling_cuda_version())
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.]], device='cuda')
nms(boxes, torch.tensor([0.9, 0.8], device='cuda'), 0.5)
roi_align(torch.ones(1, 1, 8, 8, device='cuda'),
          torch.tensor([[0., 0., 0., 4., 4.]], device='cuda'), (2, 2))
torch.cuda.synchronize()
EOF
}

# Everything runs inside main, which bash parses whole before running, so
# editing this file while a setup is under way cannot derail it.
main() {
  VENV=$(realpath -m "${VENV:-.venv}")
  WHEEL_CACHE=${MMZOO_WHEEL_CACHE:-$HOME/.cache/mmzoo/wheels}
  # One source of truth for the pins: requirements/.
  pin() { sed -n "s/^$1==//p" "requirements/$2.txt"; }
  TORCH_VERSION=$(pin torch runtime)
  TORCHVISION_VERSION=$(pin torchvision runtime)
  MMCV_VERSION=$(pin mmcv mminstall)
  PY=$VENV/bin/python
  LOCK=$(realpath requirements/constraints.txt)
  PIP="$PY -m pip --disable-pip-version-check"

  case "${1:-}" in
  --print-mmcv-plan)
    mmcv_plan
    print_mmcv_plan
    return
    ;;
  '') ;;
  *) die "unknown argument '$1' (usage: $0 [--print-mmcv-plan])" ;;
  esac

  if [ ! -x "$PY" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi

  $PIP install -q -c "$LOCK" pip -r requirements/build.txt
  if ! $PY -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    log "installing torch $TORCH_VERSION"
    $PIP install -q -c "$LOCK" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  fi

  # The wheel is bound to the torch ABI it was compiled against, and to the
  # CUDA version and GPUs of its ops.
  mmcv_plan
  log "mmcv's ops: $MMCV_MODE ($MMCV_REASON)"
  if [ "$MMCV_MODE" = cpu ] && [ "$GPU_CAPS" != - ]; then
    log "warning: mmcv's RoIAlign and NMS (mmdet's detectors) will fail on this" \
      "GPU without its CUDA ops: install the CUDA toolkit $TORCH_CUDA (nvcc) and" \
      "run this script again"
  fi
  whl=$(cached_mmcv_wheel)
  if [ -z "$whl" ]; then
    build_mmcv
    whl=$(cached_mmcv_wheel)
  fi
  install_mmcv "$whl"

  log "installing mmzoo and its requirements"
  $PIP install -q -c "$LOCK" --find-links "$MMCV_CACHE" \
    -r requirements/runtime.txt -r requirements/mminstall.txt \
    -r requirements/optional.txt -r requirements/tests.txt
  if [ "$MMCV_MODE" = cuda ] && [ "$GPU_CAPS" != - ]; then
    check_mmcv_on_gpu
  fi
  # Builds mmzoo._ext (the ops' kernels) against the installed torch, so no
  # build isolation; the venv's ninja compiles the sources in parallel.
  # MMZOO_WITH_CUDA=1 adds the CUDA kernels (see setup.py).
  log "building mmzoo._ext (MMZOO_WITH_CUDA=${MMZOO_WITH_CUDA:-auto})"
  PATH="$VENV/bin:$PATH" $PIP install -q --no-deps --no-build-isolation -e .
  log "environment ready in $VENV"
}

main "$@"
