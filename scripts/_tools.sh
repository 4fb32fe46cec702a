# Shared by scripts/demo and scripts/test: a virtual environment with nox, and the
# Python interpreters 3.10-3.13 on PATH (pyenv installs them side by side).
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
            echo "$candidate"; return
        fi
    done
    echo "no Python 3.10 or newer found" >&2; exit 2
}

pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
for version in 3.10 3.11 3.12 3.13; do
    newest=$(ls -d "$pyenv_root"/versions/"$version".*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$newest" ]; then PATH="$PATH:$newest"; fi
done
export PATH

if [ ! -x .venv-tools/bin/nox ]; then
    "$(find_python)" -m venv .venv-tools
    .venv-tools/bin/python -m pip install --quiet --upgrade pip
    .venv-tools/bin/python -m pip install --quiet "nox>=2025.2.9"
fi
