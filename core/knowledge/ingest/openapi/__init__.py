"""Turn an OpenAPI 3.x or Swagger 2.0 document into one Markdown block per operation."""

from core.knowledge.ingest.openapi.document import parse_openapi
from core.knowledge.ingest.openapi.schema import MAX_SCHEMA_LINES
from core.knowledge.ingest.openapi.yaml_spec import load_yaml

__all__ = ["MAX_SCHEMA_LINES", "load_yaml", "parse_openapi"]
