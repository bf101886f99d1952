#!/usr/bin/env bash
# Rewrites requirements/constraints.txt, the lock that setup_env.sh installs
# with, from the environment in $VENV (default .venv). Run it once `make test`
# is green in an environment built from changed requirements/*.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=$(realpath -m "${VENV:-.venv}")
LOCK=requirements/constraints.txt
{
  echo "# Exact versions of every package in the environment that the test suite"
  echo "# passed in, written by tools/misc/update_lock.sh: tools/misc/setup_env.sh"
  echo "# installs with it (pip -c). Ranges for users stay in requirements/*.txt."
  "$VENV/bin/python" -m pip --disable-pip-version-check freeze --all \
    --exclude-editable | LC_ALL=C sort --ignore-case
} > "$LOCK.partial"
mv "$LOCK.partial" "$LOCK"
echo "wrote $LOCK ($(grep -c '==' "$LOCK") packages)"
