"""Fixed data of the demo district: the real names of 2015 and the named rows of the plan; the rest is synthetic."""

import datetime
from decimal import Decimal
from typing import NamedTuple

DISTRICT = ("511902", "巴州区")

# 巴州区 in 2015: 4 街道, 11 镇, 13 乡, coded 001–099, 100–199, 200–399 in list order (白庙乡 = 511902204).
SUBDISTRICTS = ["东城街道", "西城街道", "回风街道", "江北街道"]
TOWNS = [
    "大茅坪镇",
    "清江镇",
    "兴文镇",
    "水宁寺镇",
    "曾口镇",
    "梁永镇",
    "鼎山镇",
    "大罗镇",
    "化成镇",
    "三江镇",
    "枣林镇",
]
TOWNSHIPS = [
    "光辉乡",
    "花溪乡",
    "大和乡",
    "白庙乡",
    "关渡乡",
    "金碑乡",
    "羊凤乡",
    "凤溪乡",
    "龙背乡",
    "平梁乡",
    "凌云乡",
    "寺岭乡",
    "梓橦庙乡",
]

# White-temple township's villages as the 2015 sources list them (茅垭 as the plan spells it; the register has 毛垭).
BAIMIAO_VILLAGES = [
    "百花村",
    "板溪村",
    "柳林村",
    "宝珠寺村",
    "干沟村",
    "九重村",
    "茅垭村",
    "学官坪村",
    "院坝梁村",
    "照山村",
]
NAMED_VILLAGES = {"寺岭乡": ["大寺村"]}

MAOYA = ("白庙乡", "茅垭村")
DASI = ("寺岭乡", "大寺村")

# The 茅垭村 rows of the plan, exactly as the source gives them ("–" = not given).
MAOYA_ROWS = [
    {
        "category": "road",
        "item": "通村硬化路",
        "quantity": Decimal("3"),
        "unit": "公里",
        "deadline": datetime.date(2017, 8, 31),
        "deadline_text": "8月底前",
        "planned_funds": Decimal("0"),
        "responsible_person": "",
    },
    {
        "category": "water",
        "item": "安全饮用水",
        "quantity": None,
        "unit": "",
        "deadline": datetime.date(2017, 8, 31),
        "deadline_text": "8月底前",
        "planned_funds": Decimal("0"),
        "responsible_person": "",
    },
    {
        "category": "culture_room",
        "item": "村文化室",
        "quantity": Decimal("1"),
        "unit": "处",
        "deadline": datetime.date(2017, 8, 31),
        "deadline_text": "8月底前",
        "planned_funds": Decimal("0"),
        "responsible_person": "",
    },
    {
        "category": "industry",
        "item": "道地巴药产业",
        "quantity": Decimal("900"),
        "unit": "亩",
        "deadline": datetime.date(2017, 9, 30),
        "deadline_text": "9月底前",
        "planned_funds": Decimal("170"),
        "responsible_person": "吴玉峰",
    },
]
# How the demo shows those rows on its "today" (2017-09-15): the road and water done, the cultural room late.
MAOYA_PROGRESS = [
    ("done", 100, datetime.date(2017, 8, 25)),
    ("accepted", 100, datetime.date(2017, 8, 18)),
    ("in_progress", 80, None),
    ("in_progress", 65, None),
]
MAOYA_FUND_LINES = [("integrated", Decimal("120")), ("social", Decimal("30")), ("self", Decimal("20"))]

FIRST_SECRETARIES = {MAOYA: "秦和平", DASI: "岳明"}
DISTRICT_SECRETARY = "张平阳"

# The day the demo is seen from (make run sets BAZHOU_TODAY to it), and the day the plan was approved.
DEMO_TODAY = datetime.date(2017, 9, 15)
PLAN_APPROVED = datetime.date(2017, 3, 10)
PLAN_YEAR = 2017
TARGET_PEOPLE = 33479
TARGET_VILLAGES = 68

POVERTY_LINES = {2014: Decimal("2800"), 2015: Decimal("2855"), 2016: Decimal("3000"), 2017: Decimal("3100")}

# 一低七有 (Sichuan, 2017).
EXIT_INDICATORS = [
    ("incidence", "贫困发生率低于3%", Decimal("3"), "建档立卡贫困人口占户籍农业人口的比例（西部地区低于3%）。"),
    ("collective_income", "有集体经济收入", None, "村集体经济有稳定收入。"),
    ("road", "有硬化路", None, "通村硬化路。"),
    ("clinic", "有卫生室", None, "有标准化村卫生室。"),
    ("culture_room", "有文化室", None, "有村文化室（综合文化活动室）。"),
    ("telecom", "有通信网络", None, "通宽带或4G网络。"),
    ("water", "有安全饮用水", None, "村民饮水安全有保障。"),
    ("power", "有生活用电", None, "通生活用电。"),
]

DEMO_PASSWORD = "bazhou2017"


class DemoUser(NamedTuple):
    """A demo login: ``area`` is "district" or (township, village-or-None); a department's user names their
    ``department``; a 挂包 leader's ``charge`` lists (township, village-or-None) pairs (分片挂包)."""

    username: str
    name: str
    role: str
    area: str | tuple
    superuser: bool
    phone: str
    department: str = ""
    charge: tuple = ()


# The 片区 of the demo's 挂包 leader: three neighbouring townships.
PATCH_TOWNSHIPS = ("白庙乡", "寺岭乡", "关渡乡")

DEMO_USERS = [
    DemoUser("admin", "区扶贫局管理员", "district_admin", "district", True, "13908270001"),
    DemoUser("baimiao", "白庙乡扶贫专干", "township_staff", ("白庙乡", None), False, "13908270204"),
    DemoUser("siling", "寺岭乡扶贫专干", "township_staff", ("寺岭乡", None), False, "13908270212"),
    DemoUser("maoya", "秦和平", "village_cadre", MAOYA, False, "13908272047"),
    DemoUser("dasi", "岳明", "village_cadre", DASI, False, "13908272121"),
    DemoUser("ducha", "区脱贫办督查员", "supervisor", "district", False, "13908270002"),
    DemoUser("lingdao", DISTRICT_SECRETARY, "leader", "district", False, "13908270003"),
    DemoUser(
        "pianqu",
        "王德明",
        "patch_leader",
        "district",
        False,
        "13908270004",
        charge=tuple((t, None) for t in PATCH_TOWNSHIPS),
    ),
    DemoUser("jiaotong", "区交通运输局扶贫专干", "department", "district", False, "13908270005", "区交通运输局"),
    DemoUser("shuiwu", "区水务局扶贫专干", "department", "district", False, "13908270006", "区水务局"),
    DemoUser("xinxiyuan", "何秀英", "informant", MAOYA, False, "13908272048"),
    DemoUser("renda", "区人大常委会督导组", "oversight", "district", False, "13908270007"),
    DemoUser("jiwei", "区纪委监委", "discipline", "district", False, "13908270008"),
]

# Other spellings of some departments' names, as units are written in older files (villages.departments.match).
DEPARTMENT_ALIASES = {
    "区交通运输局": ["区交通局"],
    "区水务局": ["区水利局"],
    "区卫生和计划生育局": ["区卫计局"],
    "区人力资源和社会保障局": ["区人社局"],
    "区扶贫和移民工作局": ["区扶贫移民局", "区扶贫局"],
}

# 2017 district goals from the plan; "scaled" goals grow with --scale.
GOALS = [
    # name, target, unit, metric, task_category, scaled
    ("贫困村退出", Decimal("68"), "个", "villages_exited", "", True),
    ("贫困人口脱贫", Decimal("33479"), "人", "people_lifted", "", True),
    ("农村公路建设", Decimal("230"), "公里", "task_quantity", "road", True),
    ("发展特色产业", Decimal("50000"), "亩", "task_quantity", "industry", True),
    # Computed from the records behind them (bazhou.surfaces.demo.goals adds them; docs/goals.md has the formulas).
    ("培育新型经营主体", Decimal("50"), "个", "business_entities", "", False),
    ("土地流转", Decimal("30000"), "亩", "land_transfer", "", False),
    ("产业扶持覆盖贫困户", Decimal("100"), "%", "industry_coverage", "", False),
    ("贫困群众人均增收", Decimal("600"), "元", "income_rise", "", False),
    ("农村廉租房占比不低于", Decimal("5"), "%", "low_rent_housing", "", False),
    ("贫困患者区内住院自付比例不高于", Decimal("10"), "%", "hospital_share", "", False),  # a ceiling (demo/goals.py)
    ("招聘会贫困求职者签订意向", Decimal("500"), "人", "job_fair_intents", "", False),
    ("招聘会贫困求职者", Decimal("1300"), "人", "job_fair_attendance", "", False),
]
# Who fills in each manual goal's figure (AnnualGoal.reported_by; the dashboard says so while it is missing).
GOAL_REPORTERS = {
    "培育新型经营主体": "区农业农村局",
    "土地流转": "区农业农村局",
    "产业扶持覆盖贫困户": "区农业农村局",
    "贫困群众人均增收": "区统计局",
    "农村廉租房占比不低于": "区住房城乡建设局",
    "贫困患者区内住院自付比例不高于": "区卫生健康局",
    "招聘会贫困求职者签订意向": "区人力资源社会保障局",
}
# A township's and a village's own goals (shown on their dashboard and at the top of their people's 我的待办):
# (township, village or "", name, target, unit, metric, task_category, manual figure, reported by).
AREA_GOALS = [
    ("白庙乡", "", "贫困村退出", Decimal("3"), "个", "villages_exited", "", None, ""),
    ("白庙乡", "", "农村公路建设", Decimal("20"), "公里", "task_quantity", "road", None, ""),
    ("白庙乡", "", "土地流转", Decimal("1500"), "亩", "manual", "", None, "白庙乡人民政府"),
    ("白庙乡", "茅垭村", "通村通组硬化路", Decimal("5"), "公里", "task_quantity", "road", None, ""),
    ("白庙乡", "茅垭村", "村集体经济收入", Decimal("5"), "万元", "manual", "", Decimal("2.6"), "茅垭村村委会"),
]

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴向汤苟"
)
MALE_CHARS = list("国建明军华平勇志德海强永林文成学光兴富贵福荣发清中正春生全开德和安长世云洪伟刚斌超波辉")
FEMALE_CHARS = list("秀英兰芳玉珍桂琼丽华凤霞梅红燕娟莲翠萍群琴素云芬淑菊蓉敏静婷慧琳")
VILLAGE_FIRST = list("青石高龙白凤金新黄柏松桂双马大小杨李花玉宝鹿鹤红兴清平太永长安")
VILLAGE_SECOND = list("山岭坪湾垭沟河坝桥梁寺林田庙溪岩坡塘园湖口")

UNITS = [
    "区发展和改革局",
    "区财政局",
    "区教育科技局",
    "区交通运输局",
    "区水务局",
    "区农业局",
    "区林业局",
    "区卫生和计划生育局",
    "区人力资源和社会保障局",
    "区民政局",
    "区住房和城乡建设局",
    "区国土资源分局",
    "区文化广播影视新闻出版局",
    "区商务局",
    "区扶贫和移民工作局",
    "区委组织部",
    "区委宣传部",
    "区人民法院",
    "区人民检察院",
    "区公安分局",
    "区审计局",
    "区统计局",
    "巴州区农村商业银行",
    "国网巴中供电公司巴州分公司",
]
LEADER_POSTS = ["区委常委", "副区长", "区人大常委会副主任", "区政协副主席"]
SECTOR_UNITS = {
    "road": "区交通运输局",
    "water": "区水务局",
    "power": "国网巴中供电公司巴州分公司",
    "telecom": "中国移动巴中分公司",
    "broadcast": "区文化广播影视新闻出版局",
    "irrigation": "区水务局",
    "industry": "区农业局",
    "culture_room": "区文化广播影视新闻出版局",
    "clinic": "区卫生和计划生育局",
    "school": "区教育科技局",
    "housing": "区住房和城乡建设局",
    "relocation": "区扶贫和移民工作局",
    "employment": "区人力资源和社会保障局",
    "education": "区教育科技局",
    "health": "区卫生和计划生育局",
    "social_security": "区民政局",
    "finance": "巴州区农村商业银行",
}

# Village rows: (category, item, unit, quantity range, 万元 per unit range, fund sources)
VILLAGE_ITEMS = [
    ("road", "通村硬化路", "公里", (1, 5), (40, 60), ["sector", "integrated", "district"]),
    ("water", "安全饮水工程", "处", (1, 3), (10, 25), ["integrated", "sector"]),
    ("culture_room", "村文化室", "处", (1, 1), (8, 15), ["integrated", "district"]),
    ("clinic", "村卫生室", "处", (1, 1), (10, 20), ["sector", "integrated"]),
    ("telecom", "通信基站及宽带", "处", (1, 2), (15, 30), ["social", "sector"]),
    ("power", "农网改造升级", "公里", (2, 8), (4, 8), ["sector"]),
    ("irrigation", "山坪塘整治", "口", (2, 6), (3, 6), ["integrated", "local"]),
    ("broadcast", "广播电视户户通", "户", (40, 150), (0.05, 0.08), ["province", "district"]),
]
INDUSTRY_ITEMS = [
    ("道地巴药产业", "亩"),
    ("核桃产业", "亩"),
    ("茶叶产业", "亩"),
    ("巴山土鸡养殖", "万只"),
    ("生猪代养场", "个"),
    ("金银花种植", "亩"),
    ("青花椒种植", "亩"),
    ("集体经济合作社", "个"),
]

# Household rows: (category, item, unit, quantity, 万元, fund sources)
HOUSEHOLD_ITEMS = {
    "housing": ("危房改造", "户", 1, (2, 4), ["central", "province", "self"]),
    "relocation": ("易地扶贫搬迁", "人", None, (2.5, 2.5), ["central", "province", "finance"]),
    "water": ("户用饮水设施", "户", 1, (0.2, 0.5), ["integrated"]),
    "industry": ("产业扶持（种养殖）", "户", 1, (0.3, 1), ["integrated", "self"]),
    "employment": ("转移就业培训", "人", 1, (0.05, 0.15), ["district"]),
    "education": ("教育资助", "人", 1, (0.1, 0.4), ["province", "district"]),
    "health": ("医疗救助", "人", 1, (0.2, 1.2), ["district", "social"]),
    "social_security": ("低保兜底", "人", None, (0.2, 0.5), ["province", "district"]),
    "finance": ("扶贫小额信贷", "户", 1, (5, 5), ["finance"]),
}

CAUSE_WEIGHTS = [
    ("illness", 30),
    ("skills", 15),
    ("labour", 12),
    ("capital", 12),
    ("disability", 8),
    ("schooling", 7),
    ("transport", 5),
    ("motivation", 4),
    ("disaster", 2),
    ("land", 2),
    ("water", 1),
    ("marriage", 1),
    ("other", 1),
]
HOUSEHOLD_SIZE_WEIGHTS = [(1, 12), (2, 22), (3, 25), (4, 22), (5, 13), (6, 6)]
NEIGHBOUR_AREAS = ["511921", "511922", "511923", "511903"]
