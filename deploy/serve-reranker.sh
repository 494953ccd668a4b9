#!/usr/bin/env bash
# Serve Qwen3-Reranker with vLLM for Polydesk's VLLMReranker (client-side prompt format: no --chat-template).
# Usage: deploy/serve-reranker.sh [MODEL] [extra vllm serve flags...]
#   MODEL defaults to Qwen/Qwen3-Reranker-8B; HOST (0.0.0.0), PORT (8001), MAX_MODEL_LEN (8192) and
#   VLLM (the vllm executable) can be set in the environment.
set -euo pipefail
model=${1:-Qwen/Qwen3-Reranker-8B}
shift $(( $# > 0 ? 1 : 0 ))
exec "${VLLM:-vllm}" serve "$model" --host "${HOST:-0.0.0.0}" --port "${PORT:-8001}" \
  --runner pooling --max-model-len "${MAX_MODEL_LEN:-8192}" \
  --hf-overrides '{"architectures":["Qwen3ForSequenceClassification"],"classifier_from_token":["no","yes"],"is_original_qwen3_reranker":true}' \
  "$@"
