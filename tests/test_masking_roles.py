"""For each role that sees ID numbers masked, no surface that shows households or members (pages, search, the API,
its lookup and history, the register and one-table exports, the import page) holds a full ID number of the
district's members, a birth date in any of its spellings, or an age; for the roles that see full numbers the same
surfaces do show them (so the check can fail both ways)."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.urls import reverse
from openpyxl import load_workbook
from rest_framework.test import APIClient

from bazhou.core import access, idnumbers
from bazhou.core.models import Role
from households.models import Member
from supervision import services as supervision_services
from tests import factories
from tests.excel.helpers import body
from tests.jobs import get_file

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
# Members with known numbers: a head, his wife and their son of school age who is not in school (the 一超六有
# reason names him), in household A (白庙乡茅垭村) and household B (寺岭乡大寺村).
PEOPLE = [
    ("王德明", Member.Relation.HEAD, datetime.date(1953, 11, 27), 131, {}),
    ("李秀英", Member.Relation.SPOUSE, datetime.date(1956, 2, 3), 142, {}),
    ("王小军", Member.Relation.SON, datetime.date(2006, 3, 14), 125, {"school": "none"}),
]
PEOPLE_B = [("张大山", Member.Relation.HEAD, datetime.date(1961, 10, 5), 157, {})]

MASKING = ["supervisor", "leader", "township_leader", "oversight", "discipline", "patch_leader", "informant"]
FULL = ["district_admin", "township_a", "village_cadre"]


def spellings(born: datetime.date) -> list[str]:
    return [f"{born:%Y%m%d}", born.isoformat(), f"{born.year}年{born.month}月{born.day}日"]


@pytest.fixture
def world(area, personas):
    class World:
        members = []

    for household, people in ((area.household_a, PEOPLE), (area.household_b, PEOPLE_B)):
        household.members.all().delete()
        for name, relation, born, sequence, extra in people:
            World.members.append(
                factories.member(
                    household,
                    relation=relation,
                    name=name,
                    male=sequence % 2 == 1,
                    id_number=idnumbers.build("511902", born, sequence),
                    **extra,
                )
            )
    # One number changed through the API: the history holds the old and the new one.
    son = World.members[2]
    admin = APIClient()
    admin.force_login(personas.district_admin)
    World.old_number = son.id_number
    new_number = idnumbers.build("511902", datetime.date(2006, 3, 14), 127)
    changed = admin.patch(
        f"/api/v1/members/{son.pk}/",
        {"id_number": new_number, "reason": "身份证号录错"},
        format="json",
        HTTP_IF_MATCH=f'"{son.version}"',
    )
    assert changed.status_code == 200, changed.content.decode()
    son.refresh_from_db()
    # The plan (a household row of household A) for the one-table export; a finding against household A.
    factories.task(factories.plan(area.village_a), area.household_a, item="危房改造")
    supervision_services.finding_create(
        user=personas.supervisor,
        target=area.household_a,
        data={"type": "housing", "severity": "minor", "description": "住房未鉴定。", "found_on": TODAY},
        rectification={"requirement": "完成鉴定。"},
    )
    World.users = {
        **{name: getattr(personas, name) for name in ("supervisor", "leader", *FULL)},
        "township_leader": factories.user(Role.LEADER, area.township_a),
        "oversight": factories.oversight_user(area.district),
        "discipline": factories.discipline_user(area.district),
        "patch_leader": factories.patch_leader_user(charge_townships=[area.township_a]),
        "informant": factories.informant_user(area.village_a),
    }
    return World


def xlsx_text(content: bytes) -> str:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(
        str(value) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for value in row if value
    )


def surfaces(client, api, area, world) -> dict[str, str]:
    """Every surface that shows households or members, as text (an .xlsx: its cells)."""
    a, b = area.household_a, area.household_b
    head, son = world.members[0], world.members[2]
    out = {}
    pages = {
        "list": reverse("households:list"),
        "search by name": reverse("households:list") + "?q=王德明",
        "household A": reverse("households:detail", args=[a.pk]),
        "household B": reverse("households:detail", args=[b.pk]),
        "village A": reverse("villages:detail", args=[area.village_a.pk]),
        "findings": reverse("supervision:findings"),
        "decision alerts": reverse("supervision:decision_alerts"),
        "import page": reverse("households:register_import"),
    }
    for name, url in pages.items():
        out[name] = client.get(url).content.decode()
    out["search by number"] = client.post(reverse("households:list"), {"id_number": head.id_number}).content.decode()
    for name, url in {
        "api households": "/api/v1/households/",
        "api household A": f"/api/v1/households/{a.pk}/",
        "api members": f"/api/v1/members/?household={a.pk}",
        "api member": f"/api/v1/members/{son.pk}/",
        "api household history": f"/api/v1/households/{a.pk}/history/",
        "api member history": f"/api/v1/members/{son.pk}/history/",
        "api decision alerts": "/api/v1/decision-alerts/",
    }.items():
        out[name] = api.get(url).content.decode()
    out["api lookup"] = api.post(
        "/api/v1/households/lookup/", {"id_number": head.id_number}, format="json"
    ).content.decode()
    for name, url in {
        "register xlsx": reverse("households:register_xlsx"),
        "one-table xlsx": reverse("tasks:plan_table_xlsx"),
    }.items():
        response = get_file(client, url, {"year": 2017} if "one-table" in name else {})
        content = body(response)
        out[name] = xlsx_text(content) if content[:2] == b"PK" else content.decode()
    return out


def members_json(api, area) -> list[dict]:
    response = api.get(f"/api/v1/members/?household={area.household_a.pk}")
    return response.json().get("results", []) if response.status_code == 200 else []


@pytest.mark.parametrize("role", MASKING)
def test_no_surface_holds_a_full_number_a_birth_date_or_an_age_for_a_masking_role(client, area, world, role):
    user = world.users[role]
    assert not access.sees_id_numbers(user)
    client.force_login(user)
    api = APIClient()
    api.force_login(user)
    forbidden = [world.old_number, *Member.objects.values_list("id_number", flat=True)]
    for member in world.members:
        forbidden += spellings(member.birth_date)
    forbidden += spellings(idnumbers.birth_date(world.old_number))
    texts = surfaces(client, api, area, world)
    # The surfaces were really read: they show household A's members, masked.
    head = world.members[0]
    for name in ("household A", "api members", "register xlsx"):
        assert head.masked_id_number in texts[name], name
    found = {name: [f for f in forbidden if f in text] for name, text in texts.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}
    # No age: no age column on the household page, no age in the API, none in the 一超六有 reason.
    client.force_login(user)
    page = client.get(reverse("households:detail", args=[area.household_a.pk])).content.decode()
    assert '<th class="num">年龄</th>' not in page and "11岁" not in page
    assert all(row["age"] is None for row in members_json(api, area))


@pytest.mark.parametrize("role", FULL)
def test_the_roles_that_see_full_numbers_still_see_them_and_the_ages(client, area, world, role):
    user = world.users[role]
    client.force_login(user)
    api = APIClient()
    api.force_login(user)
    texts = surfaces(client, api, area, world)
    head = world.members[0]
    for name in ("household A", "api members", "register xlsx", "search by number", "api lookup"):
        assert head.id_number in texts[name] or head.masked_id_number in texts[name], name
    for name in ("household A", "api members", "register xlsx"):
        assert head.id_number in texts[name], name
    assert world.old_number in texts["api member history"]
    assert json.loads(texts["api lookup"])["results"][0]["number"] == area.household_a.number
    page = texts["household A"]
    assert '<th class="num">年龄</th>' in page and '<td class="num">63</td>' in page
    assert {row["name"]: row["age"] for row in members_json(api, area)} == {"王德明": 63, "李秀英": 61, "王小军": 11}
