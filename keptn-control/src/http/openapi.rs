//! `GET /api/openapi.json`: the OpenAPI 3 document of the operations implemented here.

use axum::Json;
use serde_json::{Map, Value, json};

/// Every implemented operation: method, path, summary, success status, success schema.
pub(crate) const OPERATIONS: &[(&str, &str, &str, u16, &str)] = &[
    ("post", "/api/v1/auth", "Checks the token", 200, "Empty"),
    (
        "get",
        "/api/v1/metadata",
        "Installation metadata",
        200,
        "Metadata",
    ),
    (
        "post",
        "/api/v1/event",
        "Sends a Keptn CloudEvent into the control plane",
        200,
        "EventContext",
    ),
    (
        "get",
        "/api/mongodb-datastore/event",
        "Events by keptnContext, project, stage, service, type, eventID, fromTime; paged",
        200,
        "Events",
    ),
    (
        "get",
        "/api/mongodb-datastore/event/type/{eventType}",
        "Events of one type, with filter",
        200,
        "Events",
    ),
    (
        "post",
        "/api/controlPlane/v1/project",
        "Creates a project from a base64 shipyard",
        201,
        "Empty",
    ),
    (
        "get",
        "/api/controlPlane/v1/project",
        "Lists projects; paged",
        200,
        "Object",
    ),
    (
        "get",
        "/api/controlPlane/v1/project/{project}",
        "One project with its stages",
        200,
        "Object",
    ),
    (
        "delete",
        "/api/controlPlane/v1/project/{project}",
        "Deletes a project",
        200,
        "Message",
    ),
    (
        "post",
        "/api/controlPlane/v1/project/{project}/service",
        "Creates a service in every stage",
        200,
        "Empty",
    ),
    (
        "delete",
        "/api/controlPlane/v1/project/{project}/service/{service}",
        "Deletes a service",
        200,
        "Message",
    ),
    (
        "get",
        "/api/controlPlane/v1/project/{project}/stage",
        "The project's stages; paged",
        200,
        "Object",
    ),
    (
        "get",
        "/api/controlPlane/v1/project/{project}/stage/{stage}",
        "One stage with its services",
        200,
        "Object",
    ),
    (
        "get",
        "/api/controlPlane/v1/project/{project}/stage/{stage}/service",
        "A stage's services with deployed image and last events; paged",
        200,
        "Object",
    ),
    (
        "get",
        "/api/controlPlane/v1/project/{project}/stage/{stage}/service/{service}",
        "One service of a stage",
        200,
        "Object",
    ),
    (
        "post",
        "/api/controlPlane/v1/project/{project}/stage/{stage}/service/{service}/evaluation",
        "Triggers an evaluation",
        200,
        "EventContext",
    ),
    (
        "get",
        "/api/controlPlane/v1/sequence/{project}",
        "Sequence states, filterable by keptnContext, name, state; paged",
        200,
        "Object",
    ),
    (
        "post",
        "/api/controlPlane/v1/sequence/{project}/{keptnContext}/control",
        "Aborts, pauses or resumes a sequence",
        200,
        "Empty",
    ),
    (
        "get",
        "/api/controlPlane/v1/event/triggered/{eventType}",
        "Open .triggered events of a task, each leased to the caller",
        200,
        "Events",
    ),
    (
        "get",
        "/api/resource-service/v1/project/{project}/resource",
        "Project resources; paged",
        200,
        "Object",
    ),
    (
        "post",
        "/api/resource-service/v1/project/{project}/resource",
        "Creates project resources (base64)",
        201,
        "Empty",
    ),
    (
        "put",
        "/api/resource-service/v1/project/{project}/resource",
        "Updates project resources (base64)",
        201,
        "Empty",
    ),
    (
        "get",
        "/api/resource-service/v1/project/{project}/resource/{resourceURI}",
        "One project resource (base64)",
        200,
        "Object",
    ),
    (
        "get",
        "/api/resource-service/v1/project/{project}/stage/{stage}/resource",
        "Stage resources; paged",
        200,
        "Object",
    ),
    (
        "post",
        "/api/resource-service/v1/project/{project}/stage/{stage}/resource",
        "Creates stage resources",
        201,
        "Empty",
    ),
    (
        "put",
        "/api/resource-service/v1/project/{project}/stage/{stage}/resource",
        "Updates stage resources",
        201,
        "Empty",
    ),
    (
        "get",
        "/api/resource-service/v1/project/{project}/stage/{stage}/resource/{resourceURI}",
        "One stage resource",
        200,
        "Object",
    ),
    (
        "get",
        "/api/resource-service/v1/project/{project}/stage/{stage}/service/{service}/resource",
        "Service resources; paged",
        200,
        "Object",
    ),
    (
        "post",
        "/api/resource-service/v1/project/{project}/stage/{stage}/service/{service}/resource",
        "Creates service resources",
        201,
        "Empty",
    ),
    (
        "put",
        "/api/resource-service/v1/project/{project}/stage/{stage}/service/{service}/resource",
        "Updates service resources",
        201,
        "Empty",
    ),
    (
        "get",
        "/api/resource-service/v1/project/{project}/stage/{stage}/service/{service}/resource/{resourceURI}",
        "One service resource",
        200,
        "Object",
    ),
    ("get", "/api/openapi.json", "This document", 200, "Object"),
];

fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let error = json!({"description": "Keptn's error body", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    for (method, path, summary, status, schema) in OPERATIONS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let ok = json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        let op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {status.to_string(): ok, "400": error, "401": error, "404": error, "413": error},
        });
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "keptn-rs control plane: the Keptn 1.4.5 API", "version": env!("CARGO_PKG_VERSION")},
        "security": [{"key": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "x-token"}},
            "schemas": {
                "Error": {"type": "object", "required": ["message"], "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}},
                "Empty": {"type": "object"},
                "Object": {"type": "object"},
                "Message": {"type": "object", "properties": {"message": {"type": "string"}}},
                "EventContext": {"type": "object", "required": ["keptnContext"], "properties": {"keptnContext": {"type": "string"}, "token": {"type": "string"}}},
                "Metadata": {"type": "object", "properties": {"keptnversion": {"type": "string"}, "namespace": {"type": "string"}}},
                "Events": {"type": "object", "properties": {"events": {"type": "array", "items": {"type": "object"}}, "nextPageKey": {"type": "string"}, "pageSize": {"type": "integer"}, "totalCount": {"type": "integer"}}},
            },
        },
    })
}

pub(super) async fn document() -> Json<Value> {
    Json(build())
}
