"""Filter form for the household list."""

from django import forms
from django.db.models import Exists, OuterRef, Q

from households import idnumbers
from households.models import Household, Member
from villages.forms import FilterForm, choice_filter, label, year_filter
from villages.models import Township, Village


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
    q = forms.CharField(label="搜索", required=False, max_length=50)

    def __init__(self, data, *, user, **kwargs):
        super().__init__(data, user=user, **kwargs)
        self.fields["township"].queryset = Township.objects.visible_to(user)
        # May be chosen: any village the user sees that has registered households; is offered: see below.
        with_households = Exists(Household.objects.filter(village=OuterRef("pk")))
        villages = Village.objects.visible_to(user).filter(with_households).select_related("township")
        self.fields["village"].queryset = villages
        self.fields["village"].widget.choices = self.offered_villages(villages, user)
        # Nothing to choose for a user of one township or one village (and less to scroll on a phone).
        if user.village_id:
            del self.fields["township"], self.fields["village"]
        elif user.township_id:
            del self.fields["township"]
        self.fields["q"].widget.attrs["placeholder"] = "户主姓名、户编号或身份证号"

    def offered_villages(self, villages, user) -> list[tuple]:
        """The village options shown. A district has hundreds of villages, so a user of several townships
        picks the township first; a village asked for by a link (``?village=``) is offered too."""
        if not user.township_id and not user.village_id:
            township, village = self.data.get("township"), self.data.get("village")
            wanted = Q(township=township) if township else Q(pk__in=[])
            if village and village.isdigit():
                wanted |= Q(pk=village)
            villages = villages.filter(wanted)
        options = [(v.pk, f"{v.township.name} {v.name}") for v in villages]
        return [("", "全部" if options else "全部（请先选择乡镇）"), *options]

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
        if q := (self.value("q") or "").strip():
            queryset = queryset.filter(self.search(q))
        return queryset

    @staticmethod
    def search(q: str) -> Q:
        """The head's name (contains), the household number (contains), or any active member's ID number (exact).

        Everyone may search by ID number (a supervisor checking a household in the field has the card in
        hand); the results show the numbers masked to those who may not see them.
        """
        heads = Member.objects.filter(
            household=OuterRef("pk"), is_active=True, relation=Member.Relation.HEAD, name__icontains=q
        )
        by_id = Member.objects.filter(household=OuterRef("pk"), is_active=True, id_number=idnumbers.normalize(q))
        return Q(Exists(heads)) | Q(number__icontains=q) | Q(Exists(by_id))
