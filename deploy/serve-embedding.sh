#!/usr/bin/env bash
# Serve Qwen3-Embedding with vLLM for Polydesk's OpenAICompatEmbedder (Matryoshka dimensions enabled).
# Usage: deploy/serve-embedding.sh [MODEL] [extra vllm serve flags...]
#   MODEL defaults to Qwen/Qwen3-Embedding-0.6B; HOST (0.0.0.0), PORT (8002), MAX_MODEL_LEN (8192) and
#   VLLM (the vllm executable) can be set in the environment.
set -euo pipefail
model=${1:-Qwen/Qwen3-Embedding-0.6B}
shift $(( $# > 0 ? 1 : 0 ))
exec "${VLLM:-vllm}" serve "$model" --host "${HOST:-0.0.0.0}" --port "${PORT:-8002}" \
  --runner pooling --max-model-len "${MAX_MODEL_LEN:-8192}" \
  --hf-overrides '{"is_matryoshka": true}' \
  "$@"
