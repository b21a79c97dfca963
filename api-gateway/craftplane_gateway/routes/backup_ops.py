"""The OpenAPI operations of the backup routes (their rows are in the route table)."""

from __future__ import annotations

from typing import Any

from craftplane_gateway.openapi import JSON, Names, json_response, problem_responses, ref

TAGS = ["backups"]


def _body(names: Names, model: str) -> dict[str, Any]:
    return {"required": False, "content": {JSON: {"schema": ref(names[model])}}}


def _accepted(schema: dict[str, Any], description: str) -> dict[str, Any]:
    response = json_response(schema, description)
    response["headers"] = {"Location": {"$ref": "#/components/headers/Location"}}
    return response


def list_backups(names: Names) -> dict[str, Any]:
    return {
        "operationId": "listServerBackups",
        "summary": "A server's backups, newest first",
        "description": (
            "The MinecraftBackups of the server (read from the cluster), also after the server "
            "was deleted; 404 only when neither the server nor a backup of it exists."
        ),
        "tags": TAGS,
        "responses": {
            "200": json_response(ref(names["BackupPage"]), "The backups."),
            **problem_responses(400, 401, 404, 503),
        },
    }


def create_backup(names: Names) -> dict[str, Any]:
    return {
        "operationId": "backUpServer",
        "summary": "Back up a server now",
        "description": (
            "Creates a manual MinecraftBackup `<server>-<yyyymmdd-hhmmss>` (UTC); the operator "
            "copies the world (saves paused while it runs) to the tenant's repository. Follow "
            "it with GET or the WebSocket's backup frames. Recorded as request.backup."
        ),
        "tags": TAGS,
        "requestBody": _body(names, "BackupCreate"),
        "responses": {
            "202": _accepted(ref(names["BackupOut"]), "The backup was asked for."),
            **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        },
    }


def get_backup(names: Names) -> dict[str, Any]:
    return {
        "operationId": "getBackup",
        "summary": "Get a backup",
        "tags": TAGS,
        "responses": {
            "200": json_response(ref(names["BackupOut"]), "The backup."),
            **problem_responses(400, 401, 404, 503),
        },
    }


def delete_backup(names: Names) -> dict[str, Any]:
    return {
        "operationId": "deleteBackup",
        "summary": "Delete a backup",
        "description": (
            "Deletes the MinecraftBackup; the operator forgets its snapshot in the repository "
            "before it is gone. Recorded as request.backup_delete."
        ),
        "tags": TAGS,
        "responses": {
            "202": _accepted(ref(names["BackupOut"]), "Deletion started."),
            **problem_responses(400, 401, 403, 404, 409, 422, 429, 503),
        },
    }


def verify_backup(names: Names) -> dict[str, Any]:
    return {
        "operationId": "verifyBackup",
        "summary": "Verify a backup by booting it",
        "description": (
            "Asks for one verification of a Completed backup (the "
            "craftplane.io/verify-requested-at annotation): the operator restores it into a "
            "scratch server and marks it Verified once that runs. 409 unless Completed. "
            "Recorded as request.verify."
        ),
        "tags": TAGS,
        "responses": {
            "202": _accepted(ref(names["BackupOut"]), "The verification was asked for."),
            **problem_responses(400, 401, 403, 404, 409, 422, 429, 503),
        },
    }


def restore_backup(names: Names) -> dict[str, Any]:
    return {
        "operationId": "restoreBackup",
        "summary": "Restore a backup",
        "description": (
            "Into an existing server (by default the backup's own): a MinecraftRestore "
            "`<server>-restore-<yyyymmdd-hhmmss>`; the server is stopped (players warned for "
            "lifecycle.announceSeconds), its world replaced and started again. Into a name "
            "no server has: a new server with the source server's spec (or the backup's type "
            "and version when the source is gone) and spec.restoreFrom. 409 unless the backup "
            "is Completed. Recorded as request.restore."
        ),
        "tags": TAGS,
        "requestBody": _body(names, "RestoreCreate"),
        "responses": {
            "202": _accepted(ref(names["RestoreAccepted"]), "The restore was asked for."),
            **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
        },
    }


def get_restore(names: Names) -> dict[str, Any]:
    return {
        "operationId": "getRestore",
        "summary": "Get a restore",
        "tags": TAGS,
        "responses": {
            "200": json_response(ref(names["RestoreOut"]), "The restore."),
            **problem_responses(400, 401, 404, 503),
        },
    }
