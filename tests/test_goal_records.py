"""The small records behind the annual goals (households.models: job fairs and attendance, business entities, land
transfer, hospital stays, low-rent housing): their rules in Chinese, in the model and in the database, their history,
their area scoping, and their admin under 数据维护."""

import datetime
from decimal import Decimal as D

import pytest

from bazhou.core.models import Role
from households.models import (
    BusinessEntity,
    HospitalStay,
    JobFair,
    JobFairAttendance,
    LandTransfer,
    LowRentHousing,
)
from tests import factories
from tests.factories import all_messages, refused_by_database

pytestmark = pytest.mark.usefixtures("pinned_today")
TODAY = datetime.date(2017, 9, 15)
TOMORROW = TODAY + datetime.timedelta(days=1)


def stay(member, **fields):
    values = {
        "member": member,
        "hospital": "区人民医院",
        "admitted_on": datetime.date(2017, 3, 1),
        "discharged_on": datetime.date(2017, 3, 5),
        "total_cost": D("1000"),
        "out_of_pocket": D("90"),
        **fields,
    }
    return HospitalStay(**values)


def test_a_hospital_stay_keeps_its_dates_and_costs_in_order(area):
    member = area.household_a.members.first()
    stay(member).full_clean()
    stay(member, out_of_pocket=D("1000")).full_clean()  # all of it out of pocket: allowed
    stay(member, discharged_on=datetime.date(2017, 3, 1)).full_clean()  # the same day: allowed
    assert "出院日期不能早于入院日期。" in all_messages(stay(member, discharged_on=datetime.date(2017, 2, 28)))
    assert "个人自付不能超过住院总费用。" in all_messages(stay(member, out_of_pocket=D("1000.01")))
    assert "出院日期不能晚于今天。" in all_messages(stay(member, discharged_on=TOMORROW))
    with refused_by_database(HospitalStay, "hospital_stay_cost_positive"):
        stay(member, total_cost=D("0"), out_of_pocket=D("0")).save()
    with refused_by_database(HospitalStay, "hospital_stay_out_of_pocket_range"):
        stay(member, out_of_pocket=D("1000.01")).save()
    with refused_by_database(HospitalStay, "hospital_stay_discharged_after_admitted"):
        stay(member, discharged_on=datetime.date(2017, 2, 28)).save()


def test_land_transfer_needs_a_positive_area_and_a_household_of_its_village(area):
    contract = LandTransfer(
        village=area.village_a, area_mu=D("0.01"), signed_on=TODAY, transferee="核桃合作社", term_years=10
    )
    contract.full_clean()
    contract.area_mu = D("0")
    with refused_by_database(LandTransfer, "land_transfer_area_positive"):
        contract.save()
    other = LandTransfer(
        village=area.village_a, household=area.household_b, area_mu=D("5"), signed_on=TODAY, transferee="x",
        term_years=5,
    )  # fmt: skip
    assert "流出户不在所选村。" in all_messages(other)
    late = LandTransfer(village=area.village_a, area_mu=D("5"), signed_on=TOMORROW, transferee="x", term_years=5)
    assert "签订日期不能晚于今天。" in all_messages(late)


def test_a_member_comes_to_a_fair_once_and_an_intent_names_the_employer(area):
    fair = JobFair.objects.create(district=area.district, name="春风行动", held_on=datetime.date(2017, 2, 16))
    member = area.household_a.members.first()
    JobFairAttendance.objects.create(fair=fair, member=member)
    with refused_by_database(JobFairAttendance, "job_fair_attendance_once"):
        JobFairAttendance.objects.create(fair=fair, member=member)
    other = area.household_a.members.last()
    assert "签订就业意向的须填写意向用工单位。" in all_messages(
        JobFairAttendance(fair=fair, member=other, signed_intent=True)
    )
    other.is_active = False
    other.save()
    assert "该成员已不在册：招聘会只登记在册的贫困户成员。" in all_messages(JobFairAttendance(fair=fair, member=other))


def test_a_fair_of_another_districts_township_and_a_fair_tomorrow_are_refused(area):
    elsewhere = factories.township(factories.district("511921", "通江县"), number=101, name="诺江镇")
    fair = JobFair(district=area.district, township=elsewhere, name="x", held_on=TOMORROW)
    messages = all_messages(fair)
    assert "乡镇不在所选区县。" in messages and "举办日期不能晚于今天。" in messages


def test_low_rent_housing_ends_after_it_starts_and_entities_are_unique_per_village(area):
    bad = LowRentHousing(
        household=area.household_a, allocated_on=datetime.date(2017, 3, 1), ended_on=datetime.date(2017, 2, 1),
        address="安置点",
    )  # fmt: skip
    assert "退出日期不能早于入住日期。" in all_messages(bad)
    BusinessEntity.objects.create(village=area.village_a, name="合作社", kind="cooperative", registered_on=TODAY)
    assert "该村已有同名经营主体。" in all_messages(
        BusinessEntity(village=area.village_a, name="合作社", kind="other", registered_on=TODAY)
    )
    assert "登记日期不能晚于今天。" in all_messages(
        BusinessEntity(village=area.village_b, name="新", kind="other", registered_on=TOMORROW)
    )


def test_every_record_keeps_its_history(area):
    entity = BusinessEntity.objects.create(
        village=area.village_a, name="合作社", kind="cooperative", registered_on=TODAY
    )
    entity.poor_households = 12
    entity.save()
    assert [h.poor_households for h in entity.history.all()] == [12, 0]
    for model in (JobFair, JobFairAttendance, LandTransfer, HospitalStay, LowRentHousing):
        assert hasattr(model, "history"), model


def test_records_are_scoped_to_the_users_area(area, personas):
    a = BusinessEntity.objects.create(village=area.village_a, name="甲", kind="other", registered_on=TODAY)
    b = BusinessEntity.objects.create(village=area.village_b, name="乙", kind="other", registered_on=TODAY)
    member_a, member_b = area.household_a.members.first(), area.household_b.members.first()
    sa = stay(member_a)
    sa.save()
    sb = stay(member_b)
    sb.save()
    district_fair = JobFair.objects.create(district=area.district, name="区", held_on=TODAY)
    township_fair = JobFair.objects.create(district=area.district, township=area.township_b, name="寺岭", held_on=TODAY)
    staff = personas.township_a
    assert list(BusinessEntity.objects.visible_to(staff)) == [a]
    assert list(HospitalStay.objects.visible_to(staff)) == [sa]
    assert list(BusinessEntity.objects.editable_by(personas.leader)) == []
    assert set(BusinessEntity.objects.visible_to(personas.leader)) == {a, b}
    assert set(JobFair.objects.visible_to(personas.township_b)) == {township_fair}
    assert set(JobFair.objects.visible_to(personas.district_admin)) == {district_fair, township_fair}


# The admin under 数据维护.


@pytest.fixture
def staff_client(client, personas):
    from django.contrib.auth.models import Permission

    user = personas.township_a
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="households"))
    client.force_login(user)
    return client


def test_township_staff_maintain_their_villages_entities_in_the_admin(staff_client, area):
    other = BusinessEntity.objects.create(village=area.village_b, name="乙", kind="other", registered_on=TODAY)
    page = staff_client.get("/admin/households/businessentity/")
    assert page.status_code == 200
    assert staff_client.get(f"/admin/households/businessentity/{other.pk}/change/").status_code in (302, 404)
    response = staff_client.post(
        "/admin/households/businessentity/add/",
        {"village": area.village_a.pk, "name": "茅垭核桃合作社", "kind": "cooperative", "registered_on": "2017-09-16",
         "poor_households": "5"},
    )  # fmt: skip
    assert response.status_code == 200 and "登记日期不能晚于今天。" in response.content.decode()
    assert not BusinessEntity.objects.filter(name="茅垭核桃合作社").exists()


@pytest.mark.parametrize(
    "model", [JobFair, JobFairAttendance, BusinessEntity, LandTransfer, HospitalStay, LowRentHousing]
)
def test_every_records_admin_list_opens_for_a_superuser(client, db, model):
    from bazhou.core.models import User

    root = User.objects.create_superuser(username="root", password="pw-for-tests-2017")
    client.force_login(root)
    assert client.get(f"/admin/households/{model._meta.model_name}/").status_code == 200
    assert client.get(f"/admin/households/{model._meta.model_name}/add/").status_code == 200


def test_a_leader_cannot_change_records(area, personas):
    BusinessEntity.objects.create(village=area.village_a, name="甲", kind="other", registered_on=TODAY)
    assert personas.leader.role == Role.LEADER
    assert not BusinessEntity.objects.editable_by(personas.leader).exists()
    assert BusinessEntity.objects.editable_by(personas.township_a).exists()
