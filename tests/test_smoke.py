def test_the_personas_fixture_builds_a_consistent_area(personas, area):
    assert area.village_a.code.startswith(area.township_a.code)
    assert area.household_a.members.filter(is_active=True).count() == 3
    assert personas.village_cadre.village == area.village_a
