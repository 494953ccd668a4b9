"""OpenAPI 3 and Swagger 2 documents (JSON and YAML) become one Markdown block per operation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.errors import BadFile
from core.knowledge.ingest.openapi import MAX_SCHEMA_LINES, parse_openapi
from core.knowledge.ingest.parse import parse_file
from core.types import Block

OPENAPI_3_YAML = """
openapi: 3.0.3
info:
  title: Pet Store
  version: 1.2.0
  description: |
    ペットを管理する API。
security:
  - bearerAuth: []
paths:
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
        required: true
        description: The pet id (path level).
        schema: {type: string}
      - $ref: '#/components/parameters/Trace'
    get:
      operationId: getPet
      tags: [pets, read]
      summary: Get one pet
      description: Returns a pet with its family tree.
      parameters:
        - name: X-Trace
          in: header
          description: Overridden at operation level.
          schema: {type: integer, format: int64}
        - name: expand
          in: query
          schema:
            type: array
            items: {type: string, enum: [owner, children]}
      responses:
        200:
          description: The pet.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
            application/xml:
              schema: {$ref: '#/components/schemas/Pet'}
        '404':
          $ref: '#/components/responses/NotFound'
    put:
      operationId: replacePet
      security: []
      requestBody:
        $ref: '#/components/requestBodies/PetBody'
      responses:
        '204': {description: Replaced.}
  /health:
    get:
      summary: الحالة الصحية للخدمة
      deprecated: true
      responses:
        default: {description: OK}
components:
  parameters:
    Trace:
      name: X-Trace
      in: header
      schema: {type: string}
  requestBodies:
    PetBody:
      required: true
      description: The new pet.
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Pet'}
  responses:
    NotFound:
      description: No pet with this id.
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Error'}
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
  schemas:
    Error:
      type: object
      required: [code]
      properties:
        code: {type: integer, description: Machine-readable code.}
        message: {type: string}
    Pet:
      allOf:
        - $ref: '#/components/schemas/Node'
        - type: object
          required: [name]
          properties:
            name: {type: string, description: 名前}
            status: {type: string, enum: [available, sold], default: available}
            owner:
              oneOf:
                - $ref: '#/components/schemas/Person'
                - {type: string, description: An owner id.}
    Person:
      type: object
      properties:
        email: {type: string, format: email}
        pets:
          type: array
          items: {$ref: '#/components/schemas/Pet'}
    Node:
      type: object
      description: A node in the family tree.
      properties:
        id: {type: integer, readOnly: true}
        children:
          type: array
          items: {$ref: '#/components/schemas/Node'}
        labels:
          type: object
          additionalProperties: {type: string}
"""

SWAGGER_2 = {
    "swagger": "2.0",
    "info": {"title": "Legacy Users", "version": "v1"},
    "consumes": ["application/json"],
    "produces": ["application/json", "text/csv"],
    "parameters": {"Page": {"name": "page", "in": "query", "type": "integer", "default": 1}},
    "paths": {
        "/v1/users/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
            "post": {
                "operationId": "updateUser",
                "tags": ["users"],
                "parameters": [
                    {"$ref": "#/parameters/Page"},
                    {
                        "name": "user",
                        "in": "body",
                        "required": True,
                        "description": "Fields to change.",
                        "schema": {"$ref": "#/definitions/User"},
                    },
                ],
                "responses": {
                    "200": {"description": "The user.", "schema": {"$ref": "#/definitions/User"}},
                    "400": {"description": "Invalid input."},
                },
            },
        },
        "/v1/avatars": {
            "post": {
                "parameters": [
                    {"name": "file", "in": "formData", "type": "file", "required": True},
                    {"name": "caption", "in": "formData", "type": "string", "description": "Alt text."},
                ],
                "responses": {"201": {"description": "Uploaded."}},
            },
        },
    },
    "definitions": {
        "User": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "manager": {"$ref": "#/definitions/User"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    },
}


def operations(spec: dict[str, Any]) -> dict[str, Block]:
    """Blocks of a parsed spec keyed by 'METHOD path'."""
    parsed = parse_openapi(spec, "spec.yaml")
    assert all(block.kind == "api-operation" for block in parsed.blocks)
    return {dict(b.metadata)["method"] + " " + dict(b.metadata)["path"]: b for b in parsed.blocks}


def bad(spec: dict[str, Any]) -> str:
    """The message of the BadFile that parsing `spec` raises."""
    with pytest.raises(BadFile) as info:
        parse_openapi(spec, "spec.yaml")
    return str(info.value)


def test_openapi3_yaml_file_document_and_blocks(tmp_path: Path) -> None:
    path = tmp_path / "petstore.yaml"
    path.write_text(OPENAPI_3_YAML, encoding="utf-8")
    parsed = parse_file(path)
    assert parsed.title == "Pet Store 1.2.0"
    assert parsed.description == "ペットを管理する API。"
    keys = [(dict(b.metadata)["method"], dict(b.metadata)["path"]) for b in parsed.blocks]
    assert keys == [("GET", "/pets/{petId}"), ("PUT", "/pets/{petId}"), ("GET", "/health")]
    first = parsed.blocks[0]
    assert first.heading_path == ("Pet Store", "pets")
    assert first.metadata == (
        ("operation_id", "getPet"),
        ("tags", "pets,read"),
        ("method", "GET"),
        ("path", "/pets/{petId}"),
    )
    assert parsed.blocks[2].heading_path == ("Pet Store", "default")
    assert dict(parsed.blocks[2].metadata)["operation_id"] == ""


def test_openapi3_operation_markdown() -> None:
    text = operations(yaml.safe_load(OPENAPI_3_YAML))["GET /pets/{petId}"].text
    lines = text.splitlines()
    assert lines[0] == "## GET /pets/{petId}"
    assert "Get one pet" in lines and "Returns a pet with its family tree." in lines
    assert "Operation ID: `getPet`" in lines and "Tags: pets, read" in lines
    assert "Security: bearerAuth." in lines
    # path-level parameters merged; the operation's X-Trace replaces the path-level one
    assert "- `petId` (path, string, required): The pet id (path level)." in lines
    assert "- `X-Trace` (header, integer, int64): Overridden at operation level." in lines
    assert "- `expand` (query, array of string, one of: `owner`, `children`)" in lines
    assert text.count("`X-Trace`") == 1
    # responses: the shared schema of two media types is listed once; allOf merged; refs resolved
    assert "- `200`: The pet." in lines
    assert "  - `application/json`, `application/xml`: Pet (object)" in lines
    assert "    - `id` (integer, read only)" in lines
    assert "    - `name` (string, required): 名前" in lines
    assert "    - `status` (string, one of: `available`, `sold`, default `available`)" in lines
    assert "    - `labels` (map of string)" in lines
    assert "- `404`: No pet with this id." in lines
    assert "  - `application/json`: Error (object)" in lines
    assert "    - `code` (integer, required): Machine-readable code." in lines


def test_recursive_schemas_are_named_not_expanded_again() -> None:
    text = operations(yaml.safe_load(OPENAPI_3_YAML))["GET /pets/{petId}"].text
    lines = text.splitlines()
    assert "    - `children` (array of Node (recursive, see above))" in lines
    assert "    - `owner` (one of: Person | string)" in lines
    assert "      - option 1: Person (object)" in lines
    assert "        - `pets` (array of Pet (recursive, see above))" in lines
    assert "      - option 2: string: An owner id." not in lines  # options carry labels, not descriptions
    assert "      - option 2: string" in lines
    assert text.count("`email`") == 1


def test_request_body_ref_and_empty_security() -> None:
    text = operations(yaml.safe_load(OPENAPI_3_YAML))["PUT /pets/{petId}"].text
    lines = text.splitlines()
    assert "### Request body (required)" in lines and "The new pet." in lines
    assert "- `application/json`: Pet (object)" in lines
    assert "  - `name` (string, required): 名前" in lines
    assert "Security: none (public operation)." in lines
    assert "- `204`: Replaced." in lines


def test_arabic_summary_and_deprecation() -> None:
    text = operations(yaml.safe_load(OPENAPI_3_YAML))["GET /health"].text
    assert "الحالة الصحية للخدمة" in text.splitlines()
    assert "Deprecated: this operation is deprecated." in text
    assert "- `default`: OK" in text


def test_swagger2_json_body_form_data_and_definitions(tmp_path: Path) -> None:
    path = tmp_path / "legacy.json"
    path.write_text(json.dumps(SWAGGER_2), encoding="utf-8")
    parsed = parse_file(path)
    assert parsed.title == "Legacy Users v1"
    update, upload = parsed.blocks
    lines = update.text.splitlines()
    assert update.heading_path == ("Legacy Users", "users")
    assert "- `id` (path, string, required)" in lines
    assert "- `page` (query, integer, default `1`)" in lines
    assert "`user`" not in update.text.split("### Request body")[0]  # the body parameter is not a parameter
    assert "### Request body (required)" in lines and "Fields to change." in lines
    assert "- `application/json`: User (object)" in lines
    assert "  - `id` (string, required)" in lines
    assert "  - `manager` (User (recursive, see above))" in lines
    assert "  - `tags` (array of string)" in lines
    assert "  - `application/json`, `text/csv`: User (see above)" in lines
    assert "- `400`: Invalid input." in lines
    upload_lines = upload.text.splitlines()
    assert "- `multipart/form-data`: object" in upload_lines
    assert "  - `file` (file, required)" in upload_lines
    assert "  - `caption` (string): Alt text." in upload_lines


def response_spec(schemas: dict[str, Any], components: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI 3.1 document with one GET per path, answering 200 with the given JSON schema."""
    paths = {
        path: {
            "get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}}
        }
        for path, schema in schemas.items()
    }
    return {"openapi": "3.1.0", "info": {"title": "Shop"}, "paths": paths, "components": {"schemas": components or {}}}


def test_named_schema_reused_is_expanded_once() -> None:
    address = {"$ref": "#/components/schemas/Address"}
    order = {"type": "object", "properties": {"billing": address, "shipping": {**address, "description": "Where."}}}
    city = {"type": ["object", "null"], "properties": {"city": {"type": "string"}}}
    lines = operations(response_spec({"/orders": order}, {"Address": city}))["GET /orders"].text.splitlines()
    assert "    - `billing` (Address (object | null))" in lines
    assert "      - `city` (string)" in lines
    assert "    - `shipping` (Address (see above)): Where." in lines


def test_depth_and_size_are_bounded() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for level in range(12, 0, -1):
        deep = {"type": "object", "properties": {f"level{level}": deep}}
    wide = {"type": "object", "properties": {f"field{i}": {"type": "integer"} for i in range(1000)}}
    blocks = operations(response_spec({"/deep": deep, "/wide": wide}))
    deep_text = blocks["GET /deep"].text
    assert "`level4`" in deep_text and "`level8`" not in deep_text
    wide_text = blocks["GET /wide"].text
    assert "`field0`" in wide_text and f"`field{MAX_SCHEMA_LINES}`" not in wide_text
    assert "further fields omitted" in wide_text
    assert len(wide_text.splitlines()) < MAX_SCHEMA_LINES + 20


def test_yaml_alias_cycle_terminates() -> None:
    spec = yaml.safe_load("""
openapi: 3.0.0
info: {title: Loop}
paths:
  /tree:
    get:
      responses:
        '200':
          description: tree
          content:
            application/json:
              schema: &tree
                type: object
                properties:
                  child: *tree
""")
    text = operations(spec)["GET /tree"].text
    assert "`child`" in text and text.count("`child`") < 10


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s.pop("paths"), "without a `paths` section"),
        (lambda s: s.update(paths={"/x": {"summary": "no methods"}}), "define no operations"),
        (lambda s: s.update(openapi="2.0"), "`openapi: 2.0`"),
        (lambda s: s.pop("openapi") and s.update(swagger="1.2"), "`swagger: 1.2`"),
    ],
)
def test_invalid_documents_are_refused(change, expected: str) -> None:
    spec = yaml.safe_load(OPENAPI_3_YAML)
    change(spec)
    assert expected in bad(spec)


def test_dangling_ref_names_the_ref_and_where_it_is() -> None:
    spec = yaml.safe_load(OPENAPI_3_YAML)
    del spec["components"]["schemas"]["Error"]
    message = bad(spec)
    assert "`$ref: '#/components/schemas/Error'`" in message
    assert "components > responses > NotFound > content > application/json > schema" in message
    assert "points to nothing" in message and "`Error`" in message


def test_ref_loop_is_refused() -> None:
    spec = yaml.safe_load(OPENAPI_3_YAML)
    spec["components"]["schemas"]["Error"] = {"$ref": "#/components/schemas/Oops"}
    spec["components"]["schemas"]["Oops"] = {"$ref": "#/components/schemas/Error"}
    assert "loop of references" in bad(spec)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("api.yaml", "openapi: 3.0.0\ninfo:\n  title: x\n   version: 1\n", "not valid YAML at line 4"),
        ("api.json", '{\n  "openapi": "3.0.0",\n  "info": {,}\n}', "not valid JSON: Expecting property name"),
        ("package.json", '{"name": "my-app", "version": "1.0.0"}', "not an OpenAPI document"),
        ("config.yml", "- just\n- a list\n", "not an OpenAPI document"),
    ],
)
def test_bad_openapi_files_are_refused(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadFile) as info:
        parse_file(path)
    assert expected in str(info.value)
    if name == "api.json":
        assert "line 3, column 12" in str(info.value)


def alias_bomb(levels: int, width: int = 9) -> str:
    """A tiny YAML spec whose aliases ("billion laughs") expand to width**levels values in `summary`."""
    lines = ['openapi: 3.0.3', 'info: {title: Glühbirnen-API, version: "1"}', 'x-laughs:', '  l0: &l0 "lol"']
    for level in range(1, levels + 1):
        lines.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    lines += ["paths:", "  /lampen:", "    get:", f"      summary: *l{levels}",
              "      responses: {'200': {description: ok}}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [7, 10])
def test_a_yaml_alias_bomb_fails_alone_with_a_reason(tmp_path, levels):
    spec = tmp_path / "bomb.yaml"
    spec.write_text(alias_bomb(levels), encoding="utf-8")
    assert len(spec.read_bytes()) < 1000
    with pytest.raises(BadFile, match="bomb.yaml uses YAML aliases .* that expand to more than"):
        parse_file(spec)


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n"])
def test_a_yaml_alias_holding_itself_is_refused(tmp_path, text):
    spec = tmp_path / "loop.yaml"
    spec.write_text("openapi: 3.0.3\n" + text, encoding="utf-8")
    with pytest.raises(BadFile, match="YAML aliases"):
        parse_file(spec)


def test_front_matter_alias_bomb_fails(tmp_path):
    page = tmp_path / "seite.md"
    bomb = "\n".join(line for line in alias_bomb(10).splitlines()[3:15])
    page.write_text(f"---\nx-laughs:\n{bomb}\n---\n# Titel\n\nText über Lampen.\n", encoding="utf-8")
    with pytest.raises(BadFile, match="front matter uses YAML aliases"):
        parse_file(page)


def test_modest_aliases_and_non_text_values_are_read(tmp_path):
    spec = tmp_path / "lampen.yaml"
    spec.write_text("""
openapi: 3.0.3
info: {title: [not, a, title], version: {major: 1}}
x-shared: &err {type: object, properties: {code: {type: integer}}}
paths:
  /lampen:
    get:
      summary: {nested: {summary: object}}
      description: [eine, Liste]
      parameters:
        - {name: farben, in: query, schema: {type: array, items: {type: string}, default: [rot, grün, blau],
           enum: [{r: 1}, hell]}}
        - {name: modus, in: query, schema: {type: {not: text}, default: {a: 1}, const: []}}
      responses:
        '200': {description: Die Lampen., content: {application/json: {schema: *err}}}
        '500': {description: Fehler., content: {application/json: {schema: *err}}}
""", encoding="utf-8")
    text = parse_file(spec).blocks[0].text
    assert "default a list of 3 values" in text and "one of: an object of 1 key, `hell`" in text
    assert "default an object of 1 key" in text and "always `[]`" in text
    assert "{'" not in text and "['" not in text
    assert "nested" not in text and "eine" not in text and "`code` (integer)" in text
