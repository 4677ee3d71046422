"""Issue 17: the API answers every error in one Chinese shape, never a 500, and its filters parse what they are
given with bounds (an id outside the area and one that does not exist answer the same)."""

import pytest
from django.conf import settings as django_settings

from bazhou.core.api.errors import (
    CSRF_FAILED,
    NO_DATA,
    NOT_ACCEPTABLE,
    NOT_FOUND,
    TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
)
from bazhou.core.api.filters import BOOL_INVALID
from bazhou.core.text import illegal_message
from tasks.models import Task
from tests.api.helpers import if_match, results

TASKS = "/api/v1/tasks/"
SHAPE = {"detail", "code", "errors"}


def shaped(response, status: int, code: str) -> dict:
    """The body of an error ``response``, checked to be the one shape with ``status`` and ``code``."""
    assert response.status_code == status, response.content.decode()[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == SHAPE and body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def snapshot(task):
    return Task.objects.filter(pk=task.pk).values().get()


# --- the one error shape ----------------------------------------------------------------------


def test_nested_errors_are_flattened_to_dotted_paths(api, personas, rows):
    before = snapshot(rows.task_a)
    body = {"fund_lines": [{"source": "central", "amount": "60"}, {"source": "nowhere", "amount": "40"}]}
    response = api(personas.township_a).patch(f"{TASKS}{rows.task_a.pk}/", body, format="json", **if_match(1))
    errors = shaped(response, 400, "invalid")["errors"]
    assert errors == {"fund_lines.1.source": ["资金来源无效。"]}
    assert snapshot(rows.task_a) == before


def test_a_body_that_is_not_json_is_refused_in_chinese(api, personas, rows):
    response = api(personas.township_a).generic(
        "PATCH", f"{TASKS}{rows.task_a.pk}/", '{"item": ', content_type="application/json", **if_match(1)
    )
    body = shaped(response, 400, "parse_error")
    assert body["detail"].startswith("请求体不是有效的 JSON") and "parse error" not in body["detail"]


def test_an_empty_json_body_is_refused_in_chinese(api, personas, rows):
    response = api(personas.district_admin).generic("POST", "/api/v1/plans/", "null", content_type="application/json")
    body = shaped(response, 400, "invalid")
    assert body["errors"] == {"non_field_errors": [NO_DATA]} and "No data" not in str(body)


def test_a_session_write_without_csrf_is_a_chinese_403(api, personas, rows):
    client = api(personas.township_a, csrf=True)
    response = client.patch(f"{TASKS}{rows.task_a.pk}/", {"item": "改"}, format="json", **if_match(1))
    body = shaped(response, 403, "csrf_failed")
    assert body["detail"] == CSRF_FAILED and "CSRF Failed" not in body["detail"]


def test_a_body_over_the_upload_limit_is_a_json_413(api, personas, rows, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    before = snapshot(rows.task_a)
    payload = '{"item": "' + "路" * 2000 + '"}'
    response = api(personas.township_a, token=True).generic(
        "PATCH", f"{TASKS}{rows.task_a.pk}/", payload.encode(), content_type="application/json", **if_match(1)
    )
    body = shaped(response, 413, "payload_too_large")
    assert body["detail"] == TOO_LARGE.format(mb=f"{1024 / (1024 * 1024):g}")
    assert snapshot(rows.task_a) == before


def test_an_unsupported_media_type_and_accept_are_answered_in_chinese(api, personas, rows):
    client = api(personas.district_admin, token=True)
    response = client.generic("POST", "/api/v1/plans/", "x", content_type="text/plain")
    assert shaped(response, 415, "unsupported_media_type")["detail"] == UNSUPPORTED_MEDIA_TYPE.format(
        media_type="text/plain"
    )
    response = client.get(TASKS, HTTP_ACCEPT="text/html")
    assert shaped(response, 406, "not_acceptable")["detail"] == NOT_ACCEPTABLE


@pytest.mark.parametrize(
    ("body", "path", "char"),
    [
        ({"item": "通村\x00路"}, "item", "\x00"),
        ({"responsible_person": "吴\uffff"}, "responsible_person", "\uffff"),
        ({"fund_lines": [{"source": "central", "amount": "60"}, {"source": "dist\x01rict", "amount": "40"}]}, None, ""),
    ],
)
def test_characters_that_cannot_be_saved_are_refused_by_field_path(api, personas, rows, body, path, char):
    before = snapshot(rows.task_a)
    response = api(personas.township_a).patch(f"{TASKS}{rows.task_a.pk}/", body, format="json", **if_match(1))
    errors = shaped(response, 400, "invalid")["errors"]
    if path is None:
        assert errors == {"fund_lines.1.source": [illegal_message("dist\x01rict")]}
    else:
        assert errors == {path: [illegal_message(body[path])]}
    assert "不允许是用空字符串" not in str(errors)
    assert snapshot(rows.task_a) == before


def test_a_zero_width_only_required_text_is_refused(api, personas, rows):
    response = api(personas.township_a).patch(
        f"{TASKS}{rows.task_a.pk}/", {"item": "\u200b\u200b"}, format="json", **if_match(1)
    )
    assert "item" in shaped(response, 400, "invalid")["errors"]


def test_an_if_match_of_thousands_of_digits_is_a_400(api, personas, rows):
    response = api(personas.township_a).patch(
        f"{TASKS}{rows.task_a.pk}/", {"item": "改"}, format="json", HTTP_IF_MATCH='"' + "9" * 5000 + '"'
    )
    shaped(response, 400, "parse_error")


@pytest.mark.parametrize("path", ["/api/v1/tasks/99999999999999999999999/", "/api/v1/tasks/abc/", "/api/v1/nothing/"])
def test_a_malformed_id_or_unknown_api_path_is_a_json_404(api, personas, rows, path):
    body = shaped(api(personas.district_admin).get(path), 404, "not_found")
    assert body["detail"] == NOT_FOUND


def test_a_method_the_path_does_not_take_is_a_json_405(api, personas, rows):
    shaped(api(personas.district_admin).delete("/api/v1/plans/"), 405, "method_not_allowed")


# --- filters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "params", "name"),
    [
        (TASKS, {"overdue": "maybe"}, "overdue"),
        (TASKS, {"removed": "2"}, "removed"),
        (TASKS, {"household": "²"}, "household"),
        (TASKS, {"plan": "9" * 30}, "plan"),
        (TASKS, {"status": "finished"}, "status"),
        (TASKS, {"deadline_after": "2017-13-01"}, "deadline"),  # the range filter's name
        (TASKS, {"plan_year": "abc"}, "plan_year"),
        ("/api/v1/villages/", {"is_poor": "-1"}, "is_poor"),
        ("/api/v1/villages/", {"year": "abc"}, "year"),
        ("/api/v1/members/", {"household": "²"}, "household"),
        ("/api/v1/members/", {"is_active": "maybe"}, "is_active"),
        ("/api/v1/incomes/", {"household": "1.5"}, "household"),
        ("/api/v1/findings/", {"overdue": "yes"}, "overdue"),
        ("/api/v1/rectifications/", {"overdue": "yes"}, "overdue"),
        ("/api/v1/assignments/", {"current": "maybe"}, "current"),
        ("/api/v1/plan-table/", {"year": "abc"}, "year"),
        ("/api/v1/plan-table/", {"format": "pdf"}, "format"),
    ],
)
def test_an_invalid_filter_value_is_a_chinese_400_naming_the_parameter(api, personas, rows, url, params, name):
    body = shaped(api(personas.district_admin).get(url, params), 400, "invalid")
    assert list(body["errors"]) == [name] and body["detail"].startswith(f"{name}：")


def test_a_boolean_filter_takes_true_and_false(api, personas, rows):
    client = api(personas.district_admin)
    assert shaped(client.get(TASKS, {"overdue": "maybe"}), 400, "invalid")["errors"] == {"overdue": [BOOL_INVALID]}
    assert len(results(client.get(TASKS, {"removed": "false"}))) == 3
    assert results(client.get(TASKS, {"removed": "true"})) == []


@pytest.mark.parametrize(
    ("url", "name", "row"),
    [
        (TASKS, "plan", "plan_b"),
        (TASKS, "household", "household_b"),
        (TASKS, "village", "village_b"),
        ("/api/v1/members/", "household", "household_b"),
        ("/api/v1/incomes/", "household", "household_b"),
        ("/api/v1/households/", "village", "village_b"),
        ("/api/v1/plans/", "village", "village_b"),
        ("/api/v1/progress-updates/", "task", "task_b"),
        ("/api/v1/change-requests/", "plan", "plan_b"),
        ("/api/v1/change-requests/", "task", "task_b"),
        ("/api/v1/findings/", "village", "village_b"),
    ],
)
def test_an_id_filter_answers_an_out_of_area_id_like_one_that_does_not_exist(api, personas, area, rows, url, name, row):
    target = getattr(rows, row, None) or getattr(area, row)
    client = api(personas.township_a)
    hidden = client.get(url, {name: target.pk})
    never = client.get(url, {name: 999999})
    assert (hidden.status_code, hidden.json()["results"]) == (never.status_code, never.json()["results"]) == (200, [])


def test_a_nul_in_a_query_parameter_never_reaches_the_database(api, personas, rows, settings):
    # Without the middleware that refuses such characters for every request, the API's filters refuse it too.
    settings.MIDDLEWARE = [m for m in django_settings.MIDDLEWARE if "IllegalCharacter" not in m]
    body = shaped(api(personas.district_admin).get(TASKS, {"township": "5119\x00"}), 400, "invalid")
    assert body["errors"] == {"township": [illegal_message("5119\x00")]}


# --- the schema tells the truth ---------------------------------------------------------------


@pytest.fixture(scope="module")
def schema():
    import json

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def test_every_operation_documents_its_errors_with_the_one_error_body(schema):
    error = {"$ref": "#/components/schemas/Error"}
    assert set(schema["components"]["schemas"]["Error"]["required"]) == SHAPE
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "put", "patch", "post", "delete"):
                continue
            responses = operation["responses"]
            wanted = {"400", "401", "403", "405", "406"} | ({"404"} if "{" in path else set())
            wanted |= {"413", "415"} if "requestBody" in operation else set()
            assert wanted <= set(responses), (method, path, sorted(responses))
            for status, response in responses.items():
                if status[0] in "45" and status != "412":
                    assert response["content"] == {"application/json": {"schema": error}}, (method, path, status)


def test_a_plan_table_rows_count_is_nullable_as_task_rows_send_it(schema):
    rows = schema["components"]["schemas"]["PlanTableRow"]["properties"]["rows"]
    assert "null" in rows["type"]


def test_a_put_of_a_task_takes_the_documented_body_without_plan(schema, api, personas, rows):
    body = schema["paths"]["/api/v1/tasks/{id}/"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert "plan" not in component["properties"] and "plan" not in component.get("required", [])
    data = {"category": rows.task_a.category, "item": "通村硬化路（改）", "deadline": "2017-12-31"}
    assert set(component["required"]) <= set(data)
    client = api(personas.township_a)
    response = client.put(f"{TASKS}{rows.task_a.pk}/", {**data, "fund_lines": []}, format="json", **if_match(1))
    assert response.status_code == 200, response.json()
    assert response.json()["item"] == "通村硬化路（改）" and response.json()["plan"] == rows.plan_a.pk
    refused = client.put(f"{TASKS}{rows.task_a.pk}/", {**data, "plan": rows.plan_a.pk}, format="json", **if_match(2))
    assert list(shaped(refused, 400, "invalid")["errors"]) == ["plan"]
