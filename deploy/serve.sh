#!/usr/bin/env bash
# Serve a Qwen3 model with vLLM the way Polydesk's HTTP backends expect it.
# Usage: deploy/serve.sh reranker|embedding|chat [MODEL] [extra vllm serve flags...]
#   reranker:  Qwen3-Reranker 0.6B/4B/8B (default Qwen/Qwen3-Reranker-8B, port 8001). The yes/no score head, and
#              NO --chat-template: Polydesk sends the canonical Qwen3-Reranker prompt itself.
#   embedding: Qwen3-Embedding 0.6B/4B/8B (default Qwen/Qwen3-Embedding-0.6B, port 8002), Matryoshka dimensions on.
#   chat:      a Qwen3 chat model (default Qwen/Qwen3-8B, port 8003) with its reasoning parser; Polydesk switches
#              thinking off per request.
# HOST (0.0.0.0), PORT, MAX_MODEL_LEN (8192) and VLLM (the vllm executable) can be set in the environment.
set -euo pipefail
role=${1:?usage: deploy/serve.sh reranker|embedding|chat [MODEL] [vllm serve flags...]}
shift
case "$role" in
  reranker)
    model=${1:-Qwen/Qwen3-Reranker-8B}; port=${PORT:-8001}
    flags=(--runner pooling --hf-overrides
           '{"architectures":["Qwen3ForSequenceClassification"],"classifier_from_token":["no","yes"],"is_original_qwen3_reranker":true}') ;;
  embedding)
    model=${1:-Qwen/Qwen3-Embedding-0.6B}; port=${PORT:-8002}
    flags=(--runner pooling --hf-overrides '{"is_matryoshka": true}') ;;
  chat)
    model=${1:-Qwen/Qwen3-8B}; port=${PORT:-8003}
    flags=(--reasoning-parser qwen3) ;;
  *) echo "unknown role '$role': use reranker, embedding or chat" >&2; exit 2 ;;
esac
shift $(( $# > 0 ? 1 : 0 ))
exec "${VLLM:-vllm}" serve "$model" --host "${HOST:-0.0.0.0}" --port "$port" \
  --max-model-len "${MAX_MODEL_LEN:-8192}" "${flags[@]}" "$@"
