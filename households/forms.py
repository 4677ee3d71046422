"""Filter form for the household list, and the ID-number search (a POST: an ID number never goes in a URL)."""

import re

from django import forms
from django.db.models import Exists, OuterRef, Q

from bazhou.core import access, clock, idnumbers
from bazhou.core.pages import id_param
from households.models import Household, Member
from households.readiness import READINESS_CHOICES, plan_year, readiness_filter
from villages.forms import FilterForm, choice_filter, label, year_filter
from villages.models import Township, Village

# Anything shaped like an ID number (bazhou/core/logredact.py redacts the same shape from the logs).
ID_SHAPED = re.compile(r"[0-9]{17}[0-9Xx]")
ID_NUMBER_NOT_IN_ADDRESS = "身份证号请在“按身份证号查找”中输入：那里的查询不会出现在网址和日志中。"
ID_NUMBER_NOT_SEARCHED = "您的角色看到的身份证号是打码的，不能按身份证号查找；请按户主姓名或户编号查找。"


class HouseholdFilterForm(FilterForm):
    township = forms.ModelChoiceField(
        label=label(Village, "township"), queryset=Township.objects.none(), required=False, empty_label="全部"
    )
    village = forms.ModelChoiceField(
        label=label(Household, "village"), queryset=Village.objects.none(), required=False, empty_label="全部"
    )
    status = choice_filter(Household, "status")
    attribute = choice_filter(Household, "attribute")
    # Only the main cause: other_causes is a JSON list, and SQLite cannot ask "does the list contain".
    main_cause = choice_filter(Household, "main_cause")
    planned_exit_year = year_filter(Household, "planned_exit_year")
    # 一超六有 of the plan year, as the dashboard counts it (households.readiness.readiness_sql): its figures link here.
    readiness = forms.ChoiceField(label="脱贫条件", choices=[("", "全部"), *READINESS_CHOICES], required=False)
    q = forms.CharField(label="搜索", required=False, max_length=50)

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["township"].queryset = Township.objects.visible_to(user)
        self.fields["readiness"].label = f"脱贫条件（{plan_year()}年）"
        # May be chosen: any village the user sees that has registered households; is offered: see below.
        with_households = Exists(Household.objects.filter(village=OuterRef("pk")))
        villages = Village.objects.visible_to(user).filter(with_households).select_related("township")
        self.fields["village"].queryset = villages
        self.fields["village"].widget.choices = self.offered_villages(villages, user)
        # Nothing to choose for a user of one township or one village (and less to scroll on a phone).
        own = access.area_of(user)
        if own and own[0] == "village":
            del self.fields["township"], self.fields["village"]
        elif own and own[0] == "township":
            del self.fields["township"]
        self.fields["q"].widget.attrs["placeholder"] = "户主姓名或户编号"
        self.may_look_up = access.may_look_up_id_numbers(user)

    def offered_villages(self, villages, user) -> list[tuple]:
        """The village options shown. A district has hundreds of villages, so a user of several townships
        picks the township first; a village asked for by a link (``?village=``) is offered too."""
        if access.district_wide(user):
            township, village = self.data.get("township"), self.data.get("village")
            wanted = Q(township=township) if township else Q(pk__in=[])
            if id_param(village) is not None:
                wanted |= Q(pk=id_param(village))
            villages = villages.filter(wanted)
        options = [(v.pk, f"{v.township.name} {v.name}") for v in villages]
        return [("", "全部" if options else "全部（请先选择乡镇）"), *options]

    def clean_q(self):
        """A search through the address (GET) takes names and numbers, never an ID number: it would be kept in
        the address bar, the browser history and the access logs. The page's script sends one typed here to the
        ID-number search instead (static/js/households.js); without the script the search is refused."""
        q = self.cleaned_data.get("q", "")
        if ID_SHAPED.search(q):
            raise forms.ValidationError(ID_NUMBER_NOT_IN_ADDRESS if self.may_look_up else ID_NUMBER_NOT_SEARCHED)
        return q

    def clean(self):
        data = super().clean()
        township, village = data.get("township"), data.get("village")
        if township and village and village.township_id != township.pk:
            data["village"] = None  # the township was changed after the village was picked
        return data

    def filter(self, queryset):
        if township := self.value("township"):
            queryset = queryset.filter(village__township=township)
        if village := self.value("village"):
            queryset = queryset.filter(village=village)
        for name in ("status", "attribute", "main_cause", "planned_exit_year"):
            if value := self.value(name):
                queryset = queryset.filter(**{name: value})
        if readiness := self.value("readiness"):
            queryset = readiness_filter(queryset, plan_year(), readiness)
        if q := (self.value("q") or "").strip():
            queryset = queryset.filter(self.search(q))
        return queryset

    @staticmethod
    def search(q: str) -> Q:
        """The head's name (contains) or the household number (contains); ID numbers: ``IdNumberSearchForm``."""
        heads = Member.objects.filter(
            household=OuterRef("pk"), is_active=True, relation=Member.Relation.HEAD, name__icontains=q
        )
        return Q(Exists(heads)) | Q(number__icontains=q)


class IdNumberSearchForm(forms.Form):
    """按身份证号查找: the households with an active member of this ID number, sent by POST.

    Only the roles that see full numbers search by one (``access.may_look_up_id_numbers``): to anyone else an
    answer would confirm a number guessed behind 511902********1234. The number travels in the body of a POST, so
    it is in no URL, no browser history and no access log; the page counts the searches (``households.lookups``).
    """

    id_number = forms.CharField(label="身份证号", max_length=30, error_messages={"required": "请输入身份证号。"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["id_number"].widget.attrs.update(
            {"class": "form-control form-control-sm", "placeholder": "18位身份证号", "autocomplete": "off"}
        )

    def clean_id_number(self) -> str:
        value = idnumbers.normalize(self.cleaned_data["id_number"]).replace(" ", "")
        idnumbers.validate_id_number(value, today=clock.today())
        return value

    def filter(self, queryset):
        members = Member.objects.filter(
            household=OuterRef("pk"), is_active=True, id_number=self.cleaned_data["id_number"]
        )
        return queryset.filter(Exists(members))
