#!/usr/bin/env bash
# Creates (or completes) the project's virtual environment.
#
# Every package comes at the exact version of requirements/constraints.txt, the
# lock of the environment CI was green with, so a fresh machine gets what CI
# tested rather than whatever is newest (tools/misc/update_lock.sh rewrites it;
# requirements/*.txt keep the ranges that users of the package see).
#
# mmcv 2.1.0 ships only as source on PyPI, so it is built once per machine with
# its ops and cached as a wheel outside the repository. torch 2.14's headers need
# C++20, which mmcv 2.1.0's setup.py predates, hence the patch below.
set -euo pipefail

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

  log() { printf '[setup_env %(%H:%M:%S)T] %s\n' -1 "$*"; }

  if [ ! -x "$PY" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi

  $PIP install -q -c "$LOCK" pip -r requirements/build.txt
  if ! $PY -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    log "installing torch $TORCH_VERSION"
    $PIP install -q -c "$LOCK" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  fi

  # The wheel is bound to the torch ABI it was compiled against.
  MMCV_CACHE=$WHEEL_CACHE/torch$TORCH_VERSION
  mkdir -p "$MMCV_CACHE"
  if ! ls "$MMCV_CACHE"/mmcv-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
    build=$(mktemp -d)
    trap 'rm -rf "$build"' EXIT
    log "building mmcv $MMCV_VERSION with ops (5 to 15 minutes on 2 cores, once per machine)"
    $PIP download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$build"
    tar -xzf "$build"/mmcv-$MMCV_VERSION.tar.gz -C "$build"
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' \
      "$build/mmcv-$MMCV_VERSION/setup.py"
    # CPU ops only (mmzoo's own CUDA kernels are separate from mmcv's), and no
    # debug information, which only slows the compiler down.
    (cd "$build/mmcv-$MMCV_VERSION" && MMCV_WITH_OPS=1 FORCE_CUDA=0 CFLAGS="${CFLAGS:-} -g0" \
      MAX_JOBS=${MAX_JOBS:-$(nproc)} \
      $PIP wheel -q --no-build-isolation --no-deps . -w "$build/dist")
    # Write under a temporary name first so an interrupted build never leaves a
    # truncated wheel in the cache.
    whl=$(ls "$build"/dist/mmcv-*.whl)
    cp "$whl" "$MMCV_CACHE/.partial" && mv "$MMCV_CACHE/.partial" "$MMCV_CACHE/$(basename "$whl")"
    log "cached $(basename "$whl") in $MMCV_CACHE"
  fi

  log "installing mmzoo and its requirements"
  $PIP install -q -c "$LOCK" --find-links "$MMCV_CACHE" \
    -r requirements/runtime.txt -r requirements/mminstall.txt \
    -r requirements/optional.txt -r requirements/tests.txt
  # Builds mmzoo._ext (the ops' kernels) against the installed torch, so no
  # build isolation; the venv's ninja compiles the sources in parallel.
  # MMZOO_WITH_CUDA=1 adds the CUDA kernels (see setup.py).
  log "building mmzoo._ext (MMZOO_WITH_CUDA=${MMZOO_WITH_CUDA:-auto})"
  PATH="$VENV/bin:$PATH" $PIP install -q --no-deps --no-build-isolation -e .
  log "environment ready in $VENV"
}

main "$@"
