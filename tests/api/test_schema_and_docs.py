"""The OpenAPI schema generates without a warning, real responses of every endpoint match it (openapi-core), and
the documentation page works offline under a strict Content-Security-Policy (no inline script, assets served
from static files)."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests import factories
from tests.api.helpers import if_match

pytestmark = pytest.mark.usefixtures("pinned_today")


def test_the_schema_generates_and_validates_with_warnings_as_errors(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text(encoding="utf-8"))
    assert schema["info"]["title"] == "巴州区脱贫攻坚施工图管理系统 API"
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    filters = {p["name"] for p in schema["paths"]["/api/v1/tasks/"]["get"]["parameters"]}
    assert {"township", "village", "plan_year", "plan_type", "status", "category", "deadline_after"} <= filters
    assert {"overdue", "due_within", "responsible_person", "ordering", "search", "cursor", "page_size"} <= filters


@pytest.fixture(scope="module")
def openapi():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenAPI.from_dict(json.loads(OpenApiJsonRenderer().render(schema)))


@pytest.fixture
def check(openapi):
    """``check(response)``: validate a test client's response against the schema (raises on a mismatch)."""

    def validate(response):
        request = response.wsgi_request
        path = request.path
        openapi.validate_response(
            MockRequest("http://testserver", request.method, path, args=dict(request.GET.lists())),
            MockResponse(
                response.content,
                status_code=response.status_code,
                headers=dict(response.headers),
                content_type=response.headers.get("Content-Type", "application/json").split(";")[0],
            ),
        )
        return response

    return validate


def test_every_read_matches_the_schema(api, personas, world, check):
    client = api(personas.district_admin)
    for path in (
        "/api/v1/townships/",
        "/api/v1/villages/",
        "/api/v1/exit-indicators/",
        "/api/v1/village-indicators/",
        "/api/v1/assignments/",
        "/api/v1/households/",
        "/api/v1/members/",
        "/api/v1/incomes/",
        "/api/v1/plans/",
        "/api/v1/tasks/",
        "/api/v1/progress-updates/",
        "/api/v1/inspections/",
        "/api/v1/findings/",
        "/api/v1/rectifications/",
        "/api/v1/bulletins/",
        "/api/v1/dashboard/",
    ):
        response = check(client.get(path))
        assert response.status_code == 200, path
        rows = response.json().get("results")
        if rows:
            check(client.get(f"{path}{rows[0]['id'] if 'id' in rows[0] else rows[0]['code']}/"))
    check(client.get("/api/v1/tasks/", {"page_size": 1, "ordering": "-deadline"}))
    check(client.get(f"/api/v1/tasks/{world.task_a.pk}/history/"))
    check(client.get("/api/v1/tokens/"))


def test_writes_and_their_errors_match_the_schema(api, personas, world, check):
    client = api(personas.township_a)
    task = f"/api/v1/tasks/{world.task_a.pk}/"
    check(client.patch(task, {"planned_funds": "-1"}, **if_match(1)))  # 400
    check(client.patch(task, {"item": "x"}))  # 428
    check(client.patch(task, {"item": "x"}, **if_match(9)))  # 412
    check(api(personas.leader).patch(task, {"item": "x"}, **if_match(1)))  # 403
    check(api(personas.township_b).patch(task, {"item": "x"}, **if_match(1)))  # 404
    check(client.patch(task, {"item": "通村硬化路（一期）"}, **if_match(1)))  # 200
    created = check(
        client.post(
            "/api/v1/tasks/", {"plan": world.plan_a.pk, "category": "road", "item": "联户路", "deadline": "2017-12-31"}
        )
    )
    assert created.status_code == 201
    progress = {
        "progress": "40",
        "status": "in_progress",
        "invested_funds": "10",
        "files": [factories.evidence_upload()],
    }
    check(client.post(f"{task}progress/", progress, format="multipart", **if_match(2)))
    check(client.post(f"{task}complete/", **if_match(3)))
    check(client.post("/api/v1/tokens/", {"name": "对接"}))
    check(
        client.post(
            "/api/v1/households/lookup/",
            {"id_number": world.task_a.plan.village.households.first().members.first().id_number},
        )
    )
    supervisor = api(personas.supervisor)
    check(supervisor.post("/api/v1/bulletins/", {"period_start": "2017-09-01", "period_end": "2017-09-15"}))
    finding = {
        "village": world.plan_a.village_id,
        "type": "records",
        "description": "档案不全",
        "found_on": "2017-09-01",
        "rectification": {"requirement": "补齐档案", "deadline": "2017-10-31"},
    }
    check(supervisor.post("/api/v1/findings/", finding, format="json"))


def test_the_docs_page_loads_swagger_ui_and_its_settings_from_static_files_without_inline_script(api, personas):
    client = api(personas.township_a)
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    # Two scripts with a src and no body, and the settings as JSON data (json_script), never code.
    assert [attrs for attrs, body in scripts if body.strip() and 'type="application/json"' not in attrs] == []
    sources = re.findall(r'<script src="/static/([^"]+)"', html)
    assert sources == ["drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", "js/api-docs.js"]
    for path in [*sources, "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"]:
        assert finders.find(path), path
    assert not re.search(r"https?://(?!testserver)", html), "no asset from another site"
    assert not re.search(r"<[^>]+\son\w+\s*=", html), "no on…= handler attributes"
    config = json.loads(re.search(r'id="api-docs-config"[^>]*>(.*?)</script>', html, flags=re.S).group(1))
    assert config == {"schemaUrl": "/api/v1/schema/", "csrfCookieName": "csrftoken"}
    assert client.get(config["schemaUrl"], HTTP_ACCEPT="application/json").json()["openapi"].startswith("3.")


def test_the_docs_page_asks_anonymous_visitors_to_sign_in(api, area):
    response = api().get("/api/v1/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_api_root_lists_the_endpoints(api, personas):
    root = api(personas.leader).get("/api/v1/").json()
    assert {"tasks", "households", "findings", "rectifications", "bulletins", "tokens"} <= set(root)
