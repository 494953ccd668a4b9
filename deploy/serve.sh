#!/usr/bin/env bash
# Serve a Qwen3 model with vLLM the way Polydesk's HTTP backends expect it.
# Usage: deploy/serve.sh reranker|embedding [MODEL] [extra vllm serve flags...]
#   reranker:  Qwen3-Reranker (default Qwen/Qwen3-Reranker-8B, port 8001). The yes/no score head, and NO
#              --chat-template: Polydesk sends the canonical Qwen3-Reranker prompt itself.
#   embedding: Qwen3-Embedding (default Qwen/Qwen3-Embedding-0.6B, port 8002), with Matryoshka dimensions.
# HOST (0.0.0.0), PORT, MAX_MODEL_LEN (8192) and VLLM (the vllm executable) can be set in the environment.
set -euo pipefail
role=${1:?usage: deploy/serve.sh reranker|embedding [MODEL] [vllm serve flags...]}
shift
case "$role" in
  reranker)
    model=${1:-Qwen/Qwen3-Reranker-8B}; port=${PORT:-8001}
    overrides='{"architectures":["Qwen3ForSequenceClassification"],"classifier_from_token":["no","yes"],"is_original_qwen3_reranker":true}' ;;
  embedding)
    model=${1:-Qwen/Qwen3-Embedding-0.6B}; port=${PORT:-8002}
    overrides='{"is_matryoshka": true}' ;;
  *) echo "unknown role '$role': use reranker or embedding" >&2; exit 2 ;;
esac
shift $(( $# > 0 ? 1 : 0 ))
exec "${VLLM:-vllm}" serve "$model" --host "${HOST:-0.0.0.0}" --port "$port" \
  --runner pooling --max-model-len "${MAX_MODEL_LEN:-8192}" --hf-overrides "$overrides" "$@"
